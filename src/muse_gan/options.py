"""The options a user gives to compose, sample, interpolate and animate, checked before any
heavy import: a bad ``--bars`` is refused at once, without loading torch or a model."""

from __future__ import annotations

import numbers

from .errors import MuseError

MAX_BARS = 256
MAX_TRANSPOSE = 24  # semitones: two octaves either way
LIMITS = {
    "bars": (1, MAX_BARS),
    "variations": (1, 10_000),
    "steps": (2, 64),
    "count": (1, 10_000),
    "frames": (2, 1000),
    "transpose": (-MAX_TRANSPOSE, MAX_TRANSPOSE),
}


def check_options(*, temperature: float = 1.0, tempo: float | None = None, **whole_numbers) -> None:
    """Each option given is checked against its range (``LIMITS`` for the whole numbers:
    ``bars``, ``variations``, ``steps``, ``count``, ``frames``, ``transpose``); the first one out
    of range is a ``MuseError`` naming it as its command-line option."""
    for option, value in whole_numbers.items():
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
