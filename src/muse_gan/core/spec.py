"""What an adapter publishes about its tensors: the sizes and data kind that models are built from."""

from __future__ import annotations

from dataclasses import dataclass

DATA_KINDS = ("binary", "continuous", "categorical")


@dataclass(frozen=True)
class Spec:
    """Tensor sizes of one modality.

    Grid view: ``(channels, time, width)``; sequence view: ``(time, channels * width)``, one
    frame per time step. ``data_kind`` (``DATA_KINDS``) picks the output head and loss.
    ``steps_per_bar`` is the period of the position-in-bar input (1: none). ``length`` is the
    time size of every item when items have one (an image's rows), else 0: sequences of any
    length, trained on windows of ``window`` steps. ``classes`` counts the labels the data
    carries (0: none); models given some are class-conditional, and with ``class_periods`` each
    class has its own period (a piece in 6/8 has bars of 12 sixteenths, one in 4/4 of 16).
    """

    data_kind: str
    channels: int
    width: int
    steps_per_bar: int = 1
    length: int = 0
    classes: int = 0
    channel_tracks: bool = True  # channels are separate parts (instruments), not an image's colours
    window: int = 0  # the training window in steps, for items of any length
    class_periods: tuple[
        int, ...
    ] = ()  # each class's own bar length (music in several meters); () : steps_per_bar

    @property
    def frame_size(self) -> int:
        return self.channels * self.width

    @property
    def segment(self) -> int:
        """The time size of one training item: an item's length, or one window."""
        return self.length or self.window

    @property
    def longest_period(self) -> int:
        return max((self.steps_per_bar, *self.class_periods))
