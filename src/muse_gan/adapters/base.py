"""What every adapter publishes: the tensor sizes and data kind that models are built from."""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError


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
    window: int = 0  # the adapter's own training window in steps (text: tokens); 0: data.window_bars bars

    @property
    def frame_size(self) -> int:
        return self.channels * self.width


def window_steps(spec: Spec, config) -> int:
    """The time size of one training item: an image's rows, the adapter's window (text), or
    ``data.window_bars`` bars of music."""
    return spec.length or spec.window or config.data.window_bars * spec.steps_per_bar


def pop_names(values: dict, key: str, where: str) -> tuple[str, ...]:
    """``values[key]`` (taken out of ``values``) as a tuple of strings: a checkpoint's class
    names or tokens, checked because a checkpoint is a file from elsewhere."""
    names = values.pop(key, ())
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(names)


def gif_bytes(pictures: list, seconds_per_frame: float) -> bytes:
    """PIL pictures as the frames of a GIF that loops forever (``muse animate``)."""
    out = io.BytesIO()
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:], loop=0,
                     duration=round(1000 * seconds_per_frame), optimize=False)
    return out.getvalue()


def class_order(names) -> tuple[str, ...]:
    """Class names in a stable order: numbers (digits, MIDI pitches) in numeric order, then
    other names in text order."""
    return tuple(sorted(set(names), key=lambda name: (not name.isdigit(), name.zfill(12))))


class LabelledAdapter:
    """What adapters of fixed-size items (pictures, sound clips) share: settings from one config
    section, and class names found in the data (folder names) when ``settings.labels`` is on,
    both kept in checkpoints. Subclasses set ``settings_class`` and ``modality``."""

    settings_class: type

    def __init__(self, settings, classes: tuple[str, ...] = ()):
        self.settings, self.classes = settings, tuple(classes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self.settings) | {"classes": list(self.classes)}

    @classmethod
    def from_dict(cls, values: dict, where: str = "checkpoint"):
        from ..config import _build

        values = dict(values)
        classes = pop_names(values, "classes", where)
        return cls(_build(cls.settings_class, values, where, f"{cls.modality}."), classes)

    def fitted(self, pieces):
        """This adapter knowing the classes of ``pieces`` when labels are in use: numbers
        (digits, MIDI pitches) in numeric order, then names in text order."""
        if not self.settings.labels:
            return type(self)(self.settings, ())
        labels = {piece.label for piece in pieces}
        return type(self)(self.settings, class_order(labels))

    def label_of(self, path) -> str:
        """The class of a file: the name of the folder it is in."""
        return Path(path).parent.name if self.settings.labels else ""
