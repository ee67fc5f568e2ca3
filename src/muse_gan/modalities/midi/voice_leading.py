"""Voice leading of part writing: voices that cross, and parallel fifths and octaves.

Rolls are ``(voices, steps, pitches)``, numpy or torch, the voices ordered from the highest
(soprano) to the lowest (bass); a voice's pitch at a step is its highest sounding cell, and a
silent voice has none. Counts are per bar of ``steps_per_bar`` steps.
"""

from __future__ import annotations

import numpy as np

FIFTH, OCTAVE = 7, 0  # intervals, in semitones modulo the octave (unisons count as octaves)


def voice_pitches(roll) -> np.ndarray:
    """Each voice's pitch index at each step ``(voices, steps)``; -1 where it is silent."""
    cells = np.asarray(roll) > 0
    highest = cells.shape[-1] - 1 - np.argmax(cells[..., ::-1], axis=-1)
    return np.where(cells.any(axis=-1), highest, -1)


def voice_crossings_per_bar(roll, steps_per_bar: int) -> float:
    """How often a voice starts sounding below the voice under it, per bar: a crossing is
    counted at the step where it begins, for each pair of neighbouring voices."""
    pitches = voice_pitches(roll)
    upper, lower = pitches[:-1], pitches[1:]
    crossed = (upper >= 0) & (lower >= 0) & (upper < lower)  # (pairs, steps)
    begins = crossed & ~np.pad(crossed, ((0, 0), (1, 0)))[:, :-1]
    return begins.sum() / _bars(pitches, steps_per_bar)


def parallels_per_bar(roll, steps_per_bar: int, interval: int) -> float:
    """Parallel motion in ``interval`` (``FIFTH`` or ``OCTAVE``, modulo the octave), per bar:
    steps at which two voices both move the same way from that interval to that interval
    again, for every pair of voices."""
    pitches = voice_pitches(roll)
    count = 0
    for upper in range(len(pitches)):
        for lower in range(upper + 1, len(pitches)):
            count += _parallel_moves(pitches[upper], pitches[lower], interval)
    return count / _bars(pitches, steps_per_bar)


def _parallel_moves(upper: np.ndarray, lower: np.ndarray, interval: int) -> int:
    before, after = slice(None, -1), slice(1, None)
    sounding = (
        (upper[before] >= 0) & (lower[before] >= 0) & (upper[after] >= 0) & (lower[after] >= 0)
    )
    up_move, low_move = np.diff(upper), np.diff(lower)
    same_way = (up_move != 0) & (np.sign(up_move) == np.sign(low_move))
    spans = (upper - lower) % 12 == interval
    return int((sounding & same_way & spans[before] & spans[after]).sum())


def _bars(pitches: np.ndarray, steps_per_bar: int) -> int:
    return max(1, -(-pitches.shape[1] // steps_per_bar))
