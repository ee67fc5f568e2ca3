"""How well do filled bars and voices match Bach's, and how do harmonizations lead their voices?

On ``--pieces`` held-out chorales of at least 6 bars (the test part of the masked model's
config, ``data.test_fraction``, then its validation part where the test part has fewer), with
the library calls a user makes (``infill``, ``harmonize``, ``compose``):

1. **2 bars, all voices**: the two bars in the middle of each chorale are composed anew given
   the rest. Next to it, bach-rnn continuing from the bars before the gap (no look-ahead), and
   the two bars before the gap copied in (a trivial baseline).
2. **One whole voice**: alto, tenor, bass, soprano in turn, the whole chorale long, given the
   other three.
3. **Harmonization**: the soprano alone, the other three voices written under it, by the masked
   model and by bach-gan; Bach's own harmonization as the reference.

Per item, on the regenerated part only: notes recovered (Bach's notes, as voice, pitch and
start step, that the result also has), steps recovered (voice and step sounding Bach's pitch),
pitch classes per bar, scale consistency, tonal distance between voices, voice crossings per
bar, parallel fifths and octaves per bar; means over the items.

    python benchmarks/infill_quality.py [--model bach-coconet] [--pieces 30] [--seed 0]
        [--temperature 1.0] [--parts gap voice harmony]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import muse_gan
from muse_gan.evaluation import evaluation_pieces
from muse_gan.modalities.midi import metrics
from muse_gan.modalities.midi.voice_leading import (
    FIFTH,
    OCTAVE,
    parallels_per_bar,
    voice_crossings_per_bar,
    voice_pitches,
)

GAP_BARS = 2
VOICES = ("Alto", "Tenor", "Bass", "Soprano")  # the voice filled in item n: VOICES[n % 4]
COLUMNS = (
    "notes recovered",
    "steps recovered",
    "pitch classes/bar",
    "scale consistency",
    "tonal distance",
    "crossings/bar",
    "par. fifths/bar",
    "par. octaves/bar",
)


def chorales(model, count: int) -> list[torch.Tensor]:
    """``count`` held-out chorales of at least 6 bars, as rolls ``(4, steps, pitches)``: those of
    the test part, then (where it has fewer) the validation part's."""
    bar = model.adapter.steps_per_bar
    rolls = []
    for part in ("test", "valid"):
        pieces = evaluation_pieces(model.config, model.adapter, None, part, quiet=True)
        segments = model.adapter.model_view(pieces)
        rolls += [model.adapter.tensor_of(segment).to(torch.uint8) for segment in segments]
    return [roll for roll in rolls if roll.shape[1] >= 6 * bar][:count]


def gap_of(roll: torch.Tensor, bar: int) -> tuple[int, int]:
    """The bars (first, last; from 1) of the gap in the middle of ``roll``."""
    first = roll.shape[1] // bar // 2
    return first, first + GAP_BARS - 1


def notes(roll: np.ndarray) -> set[tuple[int, int, int]]:
    """(voice, start step, pitch) of every note of ``roll`` ``(voices, steps, pitches)``."""
    pitches = voice_pitches(roll)
    before = np.pad(pitches, ((0, 0), (1, 0)), constant_values=-1)[:, :-1]
    voices, steps = np.nonzero((pitches >= 0) & (pitches != before))
    return {(int(v), int(s), int(pitches[v, s])) for v, s in zip(voices, steps)}


def scores(made: torch.Tensor, bach: torch.Tensor, voices: list[int], adapter) -> dict:
    """The columns for one item: ``made`` and Bach's ``bach``, both the regenerated steps of all
    four voices ``(4, steps, pitches)``; recovery counted over the regenerated ``voices``."""
    made, bach = made.numpy(), bach.numpy()
    bar, low = adapter.steps_per_bar, adapter.settings.pitch_low
    theirs = {note for note in notes(bach) if note[0] in voices}
    ours = notes(made)
    same_steps = voice_pitches(made)[voices] == voice_pitches(bach)[voices]
    return {
        "notes recovered": len(theirs & ours) / max(1, len(theirs)),
        "steps recovered": float(same_steps.mean()),
        **describe(made, bar, low),
    }


def describe(roll: np.ndarray, bar: int, low: int) -> dict:
    """The columns that need no reference."""
    return {
        "pitch classes/bar": metrics.used_pitch_classes(roll, bar, low),
        "scale consistency": metrics.scale_consistency(roll, low),
        "tonal distance": metrics.mean_tonal_distance(roll, bar, low),
        "crossings/bar": voice_crossings_per_bar(roll, bar),
        "par. fifths/bar": parallels_per_bar(roll, bar, FIFTH),
        "par. octaves/bar": parallels_per_bar(roll, bar, OCTAVE),
    }


def gap_rows(model, rnn, rolls, seed: int, temperature: float) -> dict[str, list[dict]]:
    """Two middle bars of all voices: the masked model, bach-rnn's continuation, a copy."""
    adapter, bar = model.adapter, model.adapter.steps_per_bar
    rows = {"Bach": [], model.path.stem: [], "bach-rnn, continuing (no look-ahead)": []}
    rows["the 2 bars before, copied"] = []
    for number, roll in enumerate(rolls):
        first, last = gap_of(roll, bar)
        steps = slice((first - 1) * bar, last * bar)
        bach = roll[:, steps]
        filled = model.infill(
            adapter.piece(roll), bars=(first, last), seed=seed + number, temperature=temperature
        ).roll
        given = adapter.piece(roll[:, : (first - 1) * bar])
        continued = rnn.compose(
            bars=last, seed=seed + number, primer=given, temperature=temperature
        ).roll
        continued = continued[:, -GAP_BARS * rnn.adapter.steps_per_bar :]
        continued = _in_range(continued, rnn.adapter, adapter)
        copied = roll[:, (first - 1 - GAP_BARS) * bar : (first - 1) * bar]
        everyone = [0, 1, 2, 3]
        rows["Bach"].append(scores(bach, bach, everyone, adapter))
        rows[model.path.stem].append(scores(filled[:, steps], bach, everyone, adapter))
        rows["bach-rnn, continuing (no look-ahead)"].append(
            scores(continued, bach, everyone, adapter)
        )
        rows["the 2 bars before, copied"].append(scores(copied, bach, everyone, adapter))
    return rows


def voice_rows(model, rolls, seed: int, temperature: float) -> dict[str, list[dict]]:
    """One whole voice, given the other three."""
    rows = {"Bach": [], model.path.stem: []}
    bars_total = [roll.shape[1] // model.adapter.steps_per_bar for roll in rolls]
    for number, (roll, bars) in enumerate(zip(rolls, bars_total)):
        voice = VOICES[number % len(VOICES)]
        piece = model.infill(
            model.adapter.piece(roll),
            bars=(1, bars),
            tracks=[voice],
            seed=seed + number,
            temperature=temperature,
        )
        track = [name.lower() for name in model.adapter.layout.names].index(voice.lower())
        rows["Bach"].append(scores(roll, roll, [track], model.adapter))
        rows[model.path.stem].append(scores(piece.roll, roll, [track], model.adapter))
    return rows


def harmony_rows(model, gan, rolls, seed: int, temperature: float) -> dict[str, list[dict]]:
    """The soprano given; the other voices by the masked model and by bach-gan."""
    adapter = model.adapter
    rows = {"Bach": [], model.path.stem: [], "bach-gan": []}
    for number, roll in enumerate(rolls):
        soprano = roll.clone()
        soprano[1:] = 0
        melody = adapter.piece(soprano)
        ours = model.harmonize(melody, seed=seed + number, temperature=temperature).roll
        made = gan.harmonize(melody, seed=seed + number, temperature=temperature).roll
        theirs = _in_range(made, gan.adapter, adapter)
        lower = [1, 2, 3]
        rows["Bach"].append(scores(roll, roll, lower, adapter))
        rows[model.path.stem].append(scores(ours, roll, lower, adapter))
        rows["bach-gan"].append(scores(theirs, roll, lower, adapter))
    return rows


def _in_range(roll: torch.Tensor, source, target) -> torch.Tensor:
    """``roll`` of ``source``'s pitch range in ``target``'s (notes outside it dropped)."""
    offset = target.settings.pitch_low - source.settings.pitch_low
    moved = torch.zeros(roll.shape[0], roll.shape[1], target.pitches, dtype=roll.dtype)
    for pitch in range(target.pitches):
        if 0 <= pitch + offset < source.pitches:
            moved[..., pitch] = roll[..., pitch + offset]
    return moved


def table(title: str, rows: dict[str, list[dict]]) -> None:
    print(f"\n{title}\n")
    print("| source | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, items in rows.items():
        means = [float(np.nanmean([item[column] for item in items])) for column in COLUMNS]
        print(f"| {name} | " + " | ".join(f"{value:.3f}" for value in means) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="bach-coconet")
    parser.add_argument("--pieces", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--parts", nargs="*", default=["gap", "voice", "harmony"])
    arguments = parser.parse_args()
    model = muse_gan.load(arguments.model)
    rolls = chorales(model, arguments.pieces)
    print(
        f"{len(rolls)} held-out chorales of {arguments.model}'s config, seed {arguments.seed}, "
        f"temperature {arguments.temperature}"
    )
    temperature = arguments.temperature
    started = time.time()
    if "gap" in arguments.parts:
        rows = gap_rows(model, muse_gan.load("bach-rnn"), rolls, arguments.seed, temperature)
        table(f"{GAP_BARS} middle bars of all four voices, filled", rows)
    if "voice" in arguments.parts:
        rows = voice_rows(model, rolls, arguments.seed, temperature)
        table("One whole voice (alto, tenor, bass, soprano in turn)", rows)
    if "harmony" in arguments.parts:
        rows = harmony_rows(model, muse_gan.load("bach-gan"), rolls, arguments.seed, temperature)
        table("Harmonizing the soprano (the three lower voices written)", rows)
    print(f"\n{time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
