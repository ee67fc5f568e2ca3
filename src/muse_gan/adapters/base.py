"""What every adapter publishes: the tensor sizes and data kind that models are built from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    """Tensor sizes of one modality.

    Grid view: ``(channels, time, width)``; sequence view: ``(time, channels * width)``, one
    frame per time step. ``data_kind`` ("binary", "continuous", "categorical") picks the output
    head and loss. ``steps_per_bar`` is the period of the position-in-bar input (1: none).
    """

    data_kind: str
    channels: int
    width: int
    steps_per_bar: int = 1

    @property
    def frame_size(self) -> int:
        return self.channels * self.width
