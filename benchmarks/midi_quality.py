"""Does it sound like the data? Statistics of generated 4-bar segments next to the training data's.

For each model (default: every bundled MIDI model) 100 segments of 4 bars are composed with
seeds 0..99; the reference row is 100 random 4-bar windows of the model's training chorales
(untransposed). Each column is the mean over segments of one statistic from muse_gan.modalities.midi.metrics;
a count of statistics within 10% of the data's value follows them; pitch range and groove
consistency, printed after the count and not in it, show what the seven can miss: notes
scattered to far registers, a choppy rhythm.

    python benchmarks/midi_quality.py [--models bach-rnn bach-vae ...] [--segments 100]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import muse_gan
from muse_gan.assembly import read_config, resolve_model
from muse_gan.core.samplers import WindowSampler
from muse_gan.evaluation import evaluation_pieces
from muse_gan.modalities.midi import metrics
from muse_gan.pretrained import DESCRIPTIONS

COLUMNS = {
    "empty_bar_rate": "empty bars",
    "used_pitch_classes": "pitch classes/bar",
    "qualified_note_rate": "qualified notes",
    "polyphony": "polyphony",
    "pitch_class_entropy": "pc entropy",
    "scale_consistency": "scale consistency",
    "mean_tonal_distance": "tonal distance",
}
# after the count, not in it (see the docstring): pitch range in semitones; groove, 1 for the same onsets in every bar
WATCHED = {"pitch_range": "pitch range", "groove_consistency": "groove"}
BARS = 4


def statistics(rolls, adapter) -> dict[str, float]:
    settings = adapter.settings
    described = [
        metrics.describe(
            roll,
            steps_per_beat=settings.steps_per_beat,
            steps_per_bar=adapter.steps_per_bar,
            pitch_low=settings.pitch_low,
        )
        for roll in rolls
    ]
    return {
        name: float(np.nanmean([values[name] for values in described]))
        for name in COLUMNS | WATCHED
    }


def data_rolls(model, count: int):
    config, adapter = model.config, model.adapter
    train = evaluation_pieces(config, adapter, None, "train", quiet=True)
    # untransposed
    windows = WindowSampler(train, BARS * adapter.steps_per_bar, adapter.steps_per_bar, seed=0)
    return list(windows.batch(count)[0])


def generated_rolls(model, count: int):
    return [model.compose(bars=BARS, seed=seed).roll for seed in range(count)]


def row(name: str, values: dict[str, float], reference: dict[str, float] | None) -> str:
    close = (
        ""
        if reference is None
        else f"{sum(_within(values[k], reference[k]) for k in COLUMNS)}/{len(COLUMNS)}"
    )
    return f"{name:<22} " + _cells(values, COLUMNS) + f" {close:>9}   " + _cells(values, WATCHED)


def _cells(values: dict[str, float], columns: dict[str, str]) -> str:
    return " ".join(f"{values[key]:>{max(len(title), 8)}.3f}" for key, title in columns.items())


def _within(value: float, reference: float, tolerance: float = 0.10) -> bool:
    """Within 10% of the data's value; a value of 0 (no empty bars) allows 0.01 (one bar in a hundred)."""
    if math.isnan(reference) or math.isnan(value):
        return False
    if reference == 0:
        return abs(value) <= 0.01
    return abs(value - reference) / abs(reference) <= tolerance


def _modality(name: str) -> str:
    """A bundled model's modality, from its checkpoint's header (no weights read)."""
    return read_config(resolve_model(name)).data.modality


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--models",
        nargs="*",
        help="names, run folders or checkpoints (default: the bundled MIDI models)",
    )
    parser.add_argument("--segments", type=int, default=100)
    arguments = parser.parse_args()
    names = arguments.models or [name for name in DESCRIPTIONS if _modality(name) == "midi"]
    models = {name: muse_gan.load(name) for name in names}
    first = next(iter(models.values()))
    reference = statistics(data_rolls(first, arguments.segments), first.adapter)
    print(
        f"{'source':<22} "
        + " ".join(f"{title:>8}" for title in COLUMNS.values())
        + " within10%   "
        + " ".join(f"{title:>8}" for title in WATCHED.values())
    )
    print(row("training data", reference, None))
    for name, model in models.items():
        print(
            row(
                name,
                statistics(generated_rolls(model, arguments.segments), model.adapter),
                reference,
            )
        )


if __name__ == "__main__":
    main()
