"""How well does a soprano-conditional GAN accompany a given melody?

For held-out chorales (the model's valid and test part), the soprano of the first 4 bars is
given as `--primer` and the model writes the other voices. Printed per model, next to Bach's own
lower voices: how many of the three lower voices sound on an average step, the share of steps
where at least one does, and the scale consistency and tonal distance of the whole 4-bar result.

    python benchmarks/accompaniment.py [--models bach-gan RUN ...] [--pieces 30]
"""

from __future__ import annotations

import argparse

import numpy as np

import muse_gan
from muse_gan.evaluation import evaluation_pieces
from muse_gan.modalities.midi import metrics

BARS = 4


def melodies(model, count: int):
    """The held-out chorales' first ``BARS`` bars, whole, and with only the soprano."""
    steps = BARS * model.adapter.steps_per_bar
    pieces = [
        piece.tensor[:, :steps]
        for piece in evaluation_pieces(model.config, model.adapter, None, "held-out", quiet=True)
        if piece.tensor.shape[1] >= steps
    ]
    originals = pieces[:count]
    given = [original.clone() for original in originals]
    for roll in given:
        roll[1:] = 0
    return originals, given


def accompaniment(rolls, adapter) -> dict[str, float]:
    low = adapter.settings.pitch_low
    notes = [roll.numpy() > 0 for roll in rolls]  # (tracks, steps, pitches)
    voices = [roll[1:].any(axis=2).sum(axis=0) for roll in notes]  # lower voices sounding, per step
    return {
        "lower voices": float(np.mean([count.mean() for count in voices])),
        "steps accompanied": float(np.mean([(count > 0).mean() for count in voices])),
        "scale consistency": float(
            np.nanmean([metrics.scale_consistency(roll, low) for roll in notes])
        ),
        "tonal distance": float(
            np.nanmean(
                [metrics.mean_tonal_distance(roll, adapter.steps_per_bar, low) for roll in notes]
            )
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=["bach-gan"])
    parser.add_argument("--pieces", type=int, default=30)
    arguments = parser.parse_args()
    models = {name: muse_gan.load(name) for name in arguments.models}
    first = next(iter(models.values()))
    originals, given = melodies(first, arguments.pieces)
    rows = {"Bach": accompaniment(originals, first.adapter)}
    for name, model in models.items():
        made = [
            model.compose(bars=BARS, seed=number, primer=model.adapter.piece(melody, 100.0)).roll
            for number, melody in enumerate(given)
        ]
        rows[name] = accompaniment(made, model.adapter)
    columns = list(rows["Bach"])
    print(f"{len(given)} held-out sopranos, {BARS} bars each")
    print(f"{'source':<28}" + "".join(f"{column:>20}" for column in columns))
    for name, values in rows.items():
        print(f"{name:<28}" + "".join(f"{values[column]:>20.3f}" for column in columns))


if __name__ == "__main__":
    main()
