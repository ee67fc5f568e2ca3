"""Training batches of music: windows of piano rolls drawn from the pieces' note tables."""

from __future__ import annotations

import numpy as np
import torch

from ...core.samplers import Sampler, class_indices, window_spans
from .view import draw


class NoteWindowSampler(Sampler):
    """Random windows of ``window`` steps, each starting on a bar line of its segment (see
    ``view``), drawn as rolls ``(batch, tracks, window, width)`` of 0/1 floats a batch at a time;
    a window running past its segment's end is silent there. Labels are the segments' classes,
    spans where each window lies in its segment (``core.samplers.window_spans``). ``variation``
    (a transposition) varies training windows."""

    def __init__(self, segments: list, adapter, window: int, seed: int, variation=None):
        self.segments, self.shape, self.window, self.variation = (
            segments,
            adapter.shape,
            window,
            variation,
        )
        self.starts = torch.tensor(
            [
                (number, start)
                for number, segment in enumerate(segments)
                for start in range(
                    0, max(segment.info["steps"], window) - window + 1, segment.info["bar"]
                )
            ],
            dtype=torch.long,  # no segment at all is an empty table, not one of floats
        ).reshape(-1, 2)
        self.lengths = torch.tensor(
            [segment.info["steps"] for segment in segments], dtype=torch.long
        )
        labels = class_indices(adapter, segments)
        self.labels = None if labels is None else labels[self.starts[:, 0]]
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        picks = self.picks(size)
        windows = self._windows(self.starts[picks])
        if self.variation is not None:
            windows = self.variation(windows, self.generator)
        labels = None if self.labels is None else self.labels[picks]
        return windows.float(), labels, window_spans(self.starts[picks], self.lengths, self.window)

    def in_order(self, size: int):
        for first in range(0, len(self.starts), size):
            labels = None if self.labels is None else self.labels[first : first + size]
            starts = self.starts[first : first + size]
            yield (
                self._windows(starts).float(),
                labels,
                window_spans(starts, self.lengths, self.window),
            )

    def _windows(self, starts: torch.Tensor) -> torch.Tensor:
        rolls = [
            draw(self.segments[number], self.shape, start, self.window)
            for number, start in starts.tolist()
        ]
        return torch.from_numpy(np.stack(rolls))
