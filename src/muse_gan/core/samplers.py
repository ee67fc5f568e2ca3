"""Batches for training and validation, cut from prepared pieces.

Items of a fixed size (pictures, sound clips) are drawn whole (``ItemSampler``); items of any
length are cut into windows that start on the adapter's period, e.g. bar lines
(``WindowSampler``). Every sampler gives ``(batch, labels, spans)`` in the grid view: labels are
the class indices (None for unlabelled data), spans ``(batch, 2)`` where each window lies in its
piece (``window_spans``; None for items drawn whole); random batches come from the sampler's
own seeded generator, so a
resumed run restores the exact data order. An adapter may bring its own sampler (text: windows
of tokens) and its own variation of windows (``WindowVariation``: a piece of music transposed).
"""

from __future__ import annotations

from typing import Protocol

import torch

from .store import Piece


def window_spans(starts: torch.Tensor, lengths: torch.Tensor, window: int) -> torch.Tensor:
    """``(windows, 2)``: each window's first step in its piece and how many of its ``window``
    steps the piece fills, from the windows' ``starts`` (rows of piece number and first step, as
    the window samplers keep them) and every piece's length ``lengths``. A window running past
    its piece's end is padded; a family that learns each step from the ones before leaves the
    padding unscored (music does not stop because a short piece did)."""
    pieces, steps = starts[:, 0], starts[:, 1]
    return torch.stack([steps, (lengths[pieces] - steps).clamp(0, window)], dim=1)


def class_indices(adapter, pieces: list[Piece]) -> torch.Tensor | None:
    """Each piece's class as its index in ``adapter.classes`` ``(pieces,)``; None without classes."""
    if not adapter.classes:
        return None
    index = {name: number for number, name in enumerate(adapter.classes)}
    return torch.tensor([index[piece.label] for piece in pieces])


class Sampler:
    """What the Trainer asks of a sampler; it owns its random generator. ``labels``: each
    item's (window's) class index, None for unlabelled data."""

    generator: torch.Generator
    labels: torch.Tensor | None = None
    classes: _ClassDraw | None = None  # set by ``balance``: draw a class first, then an item of it

    def __len__(self) -> int:
        raise NotImplementedError

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``size`` random items (varied, for training), their class indices and where in their
        pieces they lie (``window_spans``)."""
        raise NotImplementedError

    def in_order(self, size: int):
        """Every item once, unvaried, in batches of at most ``size``: for validation."""
        raise NotImplementedError

    def balance(self, power: float) -> None:
        """Draw the classes of training items closer to evenly: a class holding ``n`` items is
        drawn in proportion to ``n ** (1 - power)``. 0 leaves every item equally likely (a class
        as common as the data has it); 1 draws each class equally often; between, a rare class
        (a meter with few tunes) is seen more often without its few items being repeated as
        often as full evenness would. For labelled items only (``labels``)."""
        self.classes = _ClassDraw(self.labels, power) if power else None

    def picks(self, size: int) -> torch.Tensor:
        """``size`` random item numbers ``(size,)``, drawn from the sampler's generator."""
        if self.classes is None:
            return torch.randint(len(self), (size,), generator=self.generator)
        return self.classes.draw(size, self.generator)

    def state(self) -> torch.Tensor:
        return self.generator.get_state()

    def restore(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class _ClassDraw:
    """Random items drawn class first (by each class's share), then uniformly within the class:
    memory goes with the items, not with their count squared, however many there are."""

    def __init__(self, labels: torch.Tensor, power: float):
        self.members = torch.argsort(labels, stable=True)  # the items, class by class
        counts = torch.bincount(labels)
        self.first = torch.cumsum(counts, 0) - counts  # where each class starts in ``members``
        self.counts = counts
        self.shares = counts.double() ** (1 - power) * (counts > 0)

    def draw(self, size: int, generator: torch.Generator) -> torch.Tensor:
        classes = torch.multinomial(self.shares, size, replacement=True, generator=generator)
        within = torch.rand(size, generator=generator, dtype=torch.float64) * self.counts[classes]
        return self.members[self.first[classes] + within.long().clamp(max=self.counts[classes] - 1)]


class ItemSampler(Sampler):
    """Random whole items of a fixed size, varied by ``augment`` ``(batch, generator) → batch``
    when given, with their class indices (in ``adapter.classes``) when the data is labelled."""

    def __init__(self, pieces: list[Piece], adapter, seed: int, augment=None):
        self.adapter, self.augment = adapter, augment
        # views into the cache, stacked a batch at a time
        self.items = [piece.tensor for piece in pieces]
        self.labels = class_indices(adapter, pieces)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None, None]:
        picks = self.picks(size)
        values = self.adapter.values(torch.stack([self.items[pick] for pick in picks.tolist()]))
        if self.augment is not None:
            values = self.augment(values, self.generator)
        return values, None if self.labels is None else self.labels[picks], None

    def in_order(self, size: int):
        for first in range(0, len(self.items), size):
            labels = None if self.labels is None else self.labels[first : first + size]
            yield self.adapter.values(torch.stack(self.items[first : first + size])), labels, None


class WindowVariation(Protocol):
    """A random change to training windows that depends on what each window holds (a piece of
    music transposed only as far as its notes stay in range)."""

    def __call__(self, windows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``windows`` ``(batch, channels, window, width)``, each varied, drawing from ``generator``."""


class WindowSampler(Sampler):
    """Random windows of ``window`` steps of pieces of any length, starting every ``stride``
    steps (a bar), optionally varied; ``(batch, channels, window, width)`` floats, no labels.

    Windows are cut from the pieces' tensors where they are (views into the cache) a batch at a
    time; only pieces shorter than a window are copied, padded with silence at their end.
    """

    def __init__(
        self,
        pieces: list[Piece],
        window: int,
        stride: int,
        seed: int,
        variation: WindowVariation | None = None,
    ):
        self.lengths = torch.tensor([piece.tensor.shape[1] for piece in pieces], dtype=torch.long)
        self.tensors = [_pad_to(piece.tensor, window) for piece in pieces]
        self.window, self.variation = window, variation
        self.starts = torch.tensor(
            [
                (number, start)
                for number, tensor in enumerate(self.tensors)
                for start in range(0, tensor.shape[1] - window + 1, stride)
            ]
        )
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, size: int) -> tuple[torch.Tensor, None, torch.Tensor]:
        picks = self.picks(size)
        windows = self._windows(self.starts[picks])
        if self.variation is not None:
            windows = self.variation(windows, self.generator)
        return windows.float(), None, window_spans(self.starts[picks], self.lengths, self.window)

    def in_order(self, size: int):
        for first in range(0, len(self.starts), size):
            starts = self.starts[first : first + size]
            yield (
                self._windows(starts).float(),
                None,
                window_spans(starts, self.lengths, self.window),
            )

    def _windows(self, starts: torch.Tensor) -> torch.Tensor:
        """The windows at ``starts`` (rows of piece number and first step), ``(batch, channels, steps, width)``."""
        return torch.stack(
            [self.tensors[piece][:, step : step + self.window] for piece, step in starts.tolist()]
        )


def _pad_to(tensor: torch.Tensor, steps: int) -> torch.Tensor:
    if tensor.shape[1] >= steps:
        return tensor
    return torch.nn.functional.pad(tensor, (0, 0, 0, steps - tensor.shape[1]))
