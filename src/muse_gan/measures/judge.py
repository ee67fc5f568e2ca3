"""What a judge is: it turns prepared pieces and a model's samples into ``Samples`` and measures
them, for `muse eval` and for choosing a run's weights by its samples.

Each modality has its own judge (``Adapter.judge``), in its package. A judge has per-item
metrics (``per_item``: a value per item, compared as distributions) and per-set metrics
(``per_set``: one number per set, measured against the reference; the reference's own values
from ``reference_metrics``, which runs first and may fit things the set metrics use, such as
the image classifier). ``FixedSizeJudge`` serves pictures and sounds: NDB over k-means cells.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

GENERATED = "generated"
CHUNK = 100  # most items generated per call


@dataclass
class Samples:
    """A set of items to judge, and each item's class name (asked for, or its folder) if known."""

    name: str
    items: list
    labels: list[str] | None = None


@dataclass
class Options:
    count: int | None = None  # items per side (None: the modality's default)
    bars: int = 4  # MIDI: the length of generated pieces and of the windows cut from files
    seed: int = 0
    temperature: float = 1.0
    inception: str | None = None  # Inception v3 weights file for FID/KID (images)
    classifier_steps: int = 1500
    key_hold: float | None = (
        None  # MIDI models that lean (RNN, VAE, Coconet): their pull toward a key (None: the model's)
    )
    # MIDI: windows of the reference pieces' first bars only, as a piece composed from nothing is
    # (None: for a model told its bar numbers, which composes openings; else every window)
    openings: bool | None = None


def pick(items: list, count: int, seed: int) -> list:
    """At most ``count`` of ``items``, a seeded random choice kept in their order."""
    if len(items) <= count:
        return list(items)
    return [items[index] for index in sorted(random.Random(seed).sample(range(len(items)), count))]


class Judge:
    def __init__(self, adapter, options: Options):
        self.adapter, self.options = adapter, options

    def samples(self, name: str, pieces: list, count: int) -> Samples:
        labels = [piece.label for piece in pieces]
        return Samples(
            name,
            [self.adapter.values(piece.tensor) for piece in pieces],
            labels if any(labels) else None,
        )

    def generate(self, muse, count: int, like: Samples | None = None) -> Samples:
        """``count`` of the model's samples; ``like``, the reference, for a judge that asks a
        model with classes for them as the reference has them (MIDI's meters and voice counts)."""
        raise NotImplementedError

    def per_item(self, samples: Samples) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def reference_metrics(self, reference: Samples, report) -> dict[str, float]:
        return {}

    def per_set(self, samples: Samples, reference: Samples, report) -> dict[str, float]:
        return {}


class FixedSizeJudge(Judge):
    """Pictures and spectrograms: class-conditional models are asked for every class in turn;
    NDB compares the sets' vectors (``vectors``) over k-means cells of the reference's, with
    one cell per ten items (2 to 50) and the items as the independent samples."""

    def generate(self, muse, count, like=None):
        classes = muse.adapter.classes or (None,)  # in turn: the built-in data is as even
        items, labels, calls = [], [], 0
        for number, label in enumerate(classes):
            wanted = count // len(classes) + (number < count % len(classes))
            for start in range(0, wanted, CHUNK):  # in chunks: bounded memory
                items += muse.sample(
                    min(CHUNK, wanted - start),
                    seed=self.options.seed + calls,
                    label=label,
                    temperature=self.options.temperature,
                ).tensors
                calls += 1
            labels += [label] * wanted
        return Samples(GENERATED, items, labels if muse.adapter.classes else None)

    def vectors(self, samples: Samples) -> torch.Tensor:
        return torch.stack(samples.items).flatten(1)

    def per_set(self, samples, reference, report):
        from .sets import ndb

        generated, real = self.vectors(samples), self.vectors(reference)
        bins = max(2, min(50, min(len(samples.items), len(reference.items)) // 10))
        test = ndb(
            generated,
            real,
            bins,
            seed=self.options.seed,
            samples=(len(samples.items), len(reference.items)),
        )
        note(
            report,
            f"NDB: share of {test.bins} k-means cells of the reference's {self.cell_name} whose share of "
            f"items differs at the 5% level (about 0.05 for two samples of one distribution)",
        )
        return {"ndb": test.share}


def note(report, line: str) -> None:
    """Adds ``line`` to the report's notes, once."""
    if line not in report.notes:
        report.notes.append(line)
