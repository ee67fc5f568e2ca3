"""What every adapter publishes: the tensor sizes and data kind that models are built from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    """Tensor sizes of one modality.

    Grid view: ``(channels, time, width)``; sequence view: ``(time, channels * width)``, one
    frame per time step. ``data_kind`` ("binary", "continuous", "categorical") picks the output
    head and loss. ``steps_per_bar`` is the period of the position-in-bar input (1: none).
    ``length`` is the time size of every item when items have one (an image's rows), else 0:
    sequences of any length, trained on windows. ``classes`` counts the labels the data
    carries (0: none); models given some are class-conditional.
    """

    data_kind: str
    channels: int
    width: int
    steps_per_bar: int = 1
    length: int = 0
    classes: int = 0
    channel_tracks: bool = True  # channels are separate parts (instruments), not an image's colours

    @property
    def frame_size(self) -> int:
        return self.channels * self.width


def window_steps(spec: Spec, config) -> int:
    """The time size of one training item: an image's rows, or a window of ``data.window_bars`` bars."""
    return spec.length or config.data.window_bars * spec.steps_per_bar
