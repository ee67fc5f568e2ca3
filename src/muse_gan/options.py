"""The options a user gives to compose, sample, interpolate and animate, checked before any
heavy import: a bad ``--bars`` is refused at once, without loading torch or a model."""

from __future__ import annotations

import numbers

from .errors import MuseError

MAX_BARS = 256
MAX_TRANSPOSE = 24  # semitones: two octaves either way
OPTIONAL = ("voices", "velocity")  # left to the model when not given
LIMITS = {
    "bars": (1, MAX_BARS),
    "variations": (1, 10_000),
    "steps": (2, 64),
    "count": (1, 10_000),
    "frames": (2, 1000),
    "voices": (1, 16),
    "velocity": (1, 127),
    "transpose": (-MAX_TRANSPOSE, MAX_TRANSPOSE),
    "scale": (1, 16),  # pixels a picture's pixel becomes, each way
}


def check_options(
    *,
    temperature: float = 1.0,
    tempo: float | None = None,
    key_hold: float | None = None,
    note_hold: float | None = None,
    rest_hold: float | None = None,
    voice_span: int | None = None,
    ensemble_span: int | None = None,
    **whole_numbers,
) -> None:
    """Each option given is checked against its range (``LIMITS`` for the whole numbers:
    ``bars``, ``variations``, ``steps``, ``count``, ``frames``, ``transpose``; and the pulls
    while composing: ``key_hold``, ``note_hold``, ``rest_hold``, ``voice_span``,
    ``ensemble_span``); the first one out of range is
    a ``MuseError`` naming it as its command-line option."""
    for option, value in whole_numbers.items():
        if value is None and option in OPTIONAL:
            continue
        low, high = LIMITS[option]
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or not low <= value <= high
        ):
            raise MuseError(f"--{option} {value}: must be a whole number from {low} to {high}")
    if not temperature > 0:
        raise MuseError(f"--temperature {temperature}: must be above 0")
    if tempo is not None and not 10 <= tempo <= 400:
        raise MuseError(f"--tempo {tempo}: must be from 10 to 400 quarter notes per minute")
    if key_hold is not None and not 0 <= key_hold <= 30:
        raise MuseError(f"--key-hold {key_hold}: must be from 0 (off) to 30")
    if note_hold is not None and not -30 <= note_hold <= 30:
        raise MuseError(f"--note-hold {note_hold}: must be from -30 to 30 (0: off)")
    if rest_hold is not None and not 0 <= rest_hold <= 30:
        raise MuseError(f"--rest-hold {rest_hold}: must be from 0 (off) to 30")
    for option, span in (("--voice-span", voice_span), ("--ensemble-span", ensemble_span)):
        if span is not None and (
            isinstance(span, bool) or not isinstance(span, numbers.Integral) or not 0 <= span <= 127
        ):
            raise MuseError(f"{option} {span}: must be a whole number from 0 (off) to 127")


def check_meter(meter: str | None) -> None:
    """A meter as it is written (6/8); anything else refused at once, naming ``--meter``."""
    if meter is None:
        return
    numerator, slash, denominator = meter.partition("/")
    written = slash and numerator.isdigit() and denominator.isdigit()
    if not written or not 1 <= int(numerator) <= 32 or int(denominator) not in (1, 2, 4, 8, 16, 32):
        raise MuseError(f"--meter {meter}: write a time signature like 4/4 or 6/8")
