"""The options a user gives to compose, sample, interpolate and animate, checked before any
heavy import: a bad ``--bars`` is refused at once, without loading torch or a model."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from types import MappingProxyType

from .errors import MuseError

MAX_BARS = 256
MAX_TRANSPOSE = 24  # semitones: two octaves either way
OPTIONAL = ("voices", "velocity")  # left to the model when not given
LIMITS = {
    "bars": (1, MAX_BARS),
    "first_bar": (1, 100_000),  # the bar of a longer piece a composed one starts at
    "variations": (1, 10_000),
    "steps": (2, 64),
    "count": (1, 10_000),
    "frames": (2, 1000),
    "voices": (1, 16),
    "velocity": (1, 127),
    "transpose": (-MAX_TRANSPOSE, MAX_TRANSPOSE),
    "scale": (1, 16),  # pixels a picture's pixel becomes, each way
}


@dataclass(frozen=True)
class Pull:
    """A soft pull's range: ``low`` to ``high``, 0 being off; ``whole`` for semitone counts."""

    low: float
    high: float
    whole: bool = False

    def range_text(self) -> str:
        if self.low == 0:
            return f"from 0 (off) to {self.high}"
        return f"from {self.low} to {self.high} (0: off)"

    def takes(self, strength) -> bool:
        """Whether ``strength`` is in range, and a whole number where a count is asked."""
        return self.low <= strength <= self.high and not (self.whole and strength != int(strength))

    def allowed(self) -> str:
        """What a strength must be, in words."""
        return f"must be {'a whole number ' if self.whole else ''}{self.range_text()}"


# The soft pulls while composing (docs/midi.md#staying-in-key-over-long-pieces): each a midi
# setting of that name that compose may replace for one piece. The key's pull leans on a Gibbs
# draft too; the others pull on the frame before, for families that draw frame by frame.
PULLS = MappingProxyType(
    {
        "key_hold": Pull(0, 30),
        "note_hold": Pull(-30, 30),
        "voice_span": Pull(0, 127, whole=True),
        "ensemble_span": Pull(0, 127, whole=True),
        "rest_hold": Pull(-30, 30),
    }
)
FRAME_PULLS = tuple(name for name in PULLS if name != "key_hold")


def check_options(
    *,
    temperature: float = 1.0,
    tempo: float | None = None,
    **given,
) -> None:
    """Each option given is checked against its range (``LIMITS`` for the whole numbers:
    ``bars``, ``variations``, ``steps``, ``count``, ``frames``, ``transpose``; ``PULLS`` for the
    pulls while composing); the first one out of range is a ``MuseError`` naming it as its
    command-line option."""
    for option, value in given.items():
        if option in PULLS:
            _check_pull(option, value)
            continue
        if value is None and option in OPTIONAL:
            continue
        low, high = LIMITS[option]
        if not _whole(value) or not low <= value <= high:
            name = option.replace("_", "-")
            raise MuseError(f"--{name} {value}: must be a whole number from {low} to {high}")
    if not temperature > 0:
        raise MuseError(f"--temperature {temperature}: must be above 0")
    if tempo is not None and not 10 <= tempo <= 400:
        raise MuseError(f"--tempo {tempo}: must be from 10 to 400 quarter notes per minute")


def _check_pull(name: str, value) -> None:
    pull = PULLS[name]
    if value is None:  # the model's own
        return
    if not pull.takes(value) or (pull.whole and not _whole(value)):  # a count given as 24.0 too
        raise MuseError(f"--{name.replace('_', '-')} {value}: {pull.allowed()}")


def _whole(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def check_meter(meter: str | None) -> None:
    """A meter as it is written (6/8); anything else refused at once, naming ``--meter``."""
    if meter is None:
        return
    numerator, slash, denominator = meter.partition("/")
    written = slash and numerator.isdigit() and denominator.isdigit()
    if not written or not 1 <= int(numerator) <= 32 or int(denominator) not in (1, 2, 4, 8, 16, 32):
        raise MuseError(f"--meter {meter}: write a time signature like 4/4 or 6/8")
