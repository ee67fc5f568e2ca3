"""A conditioned MIDI model, class by class, against its held-out data: folk-melody per meter,
palestrina per voice count (issue 21). For each class the model knows, ``--pieces`` pieces of
``--bars`` bars are composed in it (seeds from ``--seed``) and measured by the per-item metrics
``muse eval`` uses (muse_gan.modalities.midi.metrics.describe), next to windows of the same
length from the model's held-out pieces of that class. A column is "within" when the mean is
within 10% of the held-out data's; the share of filled bars (notes sounding through the whole
bar, as a written bar adds up to its meter) should be within 0.02 of the data's.

    python benchmarks/class_quality.py --model folk-melody --bars 8 --pieces 50
    python benchmarks/class_quality.py --model palestrina --bars 8 --pieces 50
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import muse_gan
from muse_gan.evaluation import evaluation_pieces
from muse_gan.measures.judge import pick
from muse_gan.modalities.midi.metrics import describe
from muse_gan.modalities.midi.view import draw

COLUMNS = {
    "filled_bar_rate": "filled bars",
    "empty_bar_rate": "empty bars",
    "used_pitch_classes": "pcs/bar",
    "qualified_note_rate": "qualified",
    "polyphony": "polyphony",
    "pitch_class_entropy": "pc entropy",
    "scale_consistency": "scale",
    "pitch_range": "range",
}


def held_out(model, label: str, bars: int, count: int, seed: int) -> list:
    """Windows of ``bars`` bars, one per stretch of the model's test pieces in class ``label``."""
    adapter = model.adapter
    pieces = evaluation_pieces(model.config, adapter, None, "test", quiet=True)
    windows = []
    for segment in adapter.model_view(pieces):
        if segment.label != label:
            continue
        length = bars * segment.info["bar"]
        windows += [
            (segment, start) for start in range(0, segment.info["steps"] - length + 1, length)
        ]
    return [
        (
            draw(segment, adapter.shape, start, bars * segment.info["bar"])[
                :, :, : adapter.pitches
            ],
            segment.info["bar"],
        )
        for segment, start in pick(windows, count, seed)
    ]


def composed(model, label: str, bars: int, count: int, seed: int) -> list:
    asked = {"voices": int(label.split()[0])} if label.endswith("voices") else {"meter": label}
    items = []
    for number in range(count):
        piece = model.compose(bars, seed=seed + number, **asked)
        items.append(
            (piece.roll[:, :, : model.adapter.pitches].numpy(), piece.roll.shape[1] // bars)
        )
    return items


def means(model, items: list) -> dict[str, float]:
    settings = model.adapter.settings
    described = [
        describe(
            roll,
            steps_per_beat=settings.steps_per_beat,
            steps_per_bar=bar,
            pitch_low=settings.pitch_low,
        )
        for roll, bar in items
    ]
    return {key: float(np.nanmean([values[key] for values in described])) for key in COLUMNS}


def within(key: str, value: float, reference: float) -> bool:
    if math.isnan(value) or math.isnan(reference):
        return False
    if key == "filled_bar_rate":
        return abs(value - reference) <= 0.02
    if reference == 0:
        return abs(value) <= 0.01
    return abs(value - reference) / abs(reference) <= 0.10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="folk-melody")
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--pieces", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1000, help="first seed (not those tuned on)")
    arguments = parser.parse_args()
    model = muse_gan.load(arguments.model)
    print(f"{arguments.model}: {arguments.pieces} pieces of {arguments.bars} bars per class")
    print("| class | source | n | " + " | ".join(COLUMNS.values()) + " | within |")
    print("|---|---|---|" + "---|" * (len(COLUMNS) + 1))
    for label in model.adapter.classes:
        data = held_out(model, label, arguments.bars, arguments.pieces, arguments.seed)
        if not data:
            print(f"| {label} | held-out | 0 | (no held-out piece {arguments.bars} bars long) |")
            continue
        reference = means(model, data)
        made = means(
            model, composed(model, label, arguments.bars, arguments.pieces, arguments.seed)
        )
        hits = sum(within(key, made[key], reference[key]) for key in COLUMNS)
        print(f"| {label} | held-out | {len(data)} | {cells(reference)} | |")
        print(f"| {label} | model | {arguments.pieces} | {cells(made)} | {hits}/{len(COLUMNS)} |")


def cells(values: dict[str, float]) -> str:
    return " | ".join(f"{values[key]:.3f}" for key in COLUMNS)


if __name__ == "__main__":
    main()
