"""Tests for muse_gan.modalities.midi.voice_leading on hand-written four-voice fragments."""

import numpy as np
import pytest

from muse_gan.modalities.midi.voice_leading import (
    FIFTH,
    OCTAVE,
    parallels_per_bar,
    voice_crossings_per_bar,
    voice_pitches,
)


def voices(*lines, pitches=40):
    """A roll ``(voices, steps, pitches)`` from each voice's pitch per step (None: silent)."""
    roll = np.zeros((len(lines), len(lines[0]), pitches), dtype=np.uint8)
    for voice, line in enumerate(lines):
        for step, pitch in enumerate(line):
            if pitch is not None:
                roll[voice, step, pitch] = 1
    return roll


def test_a_voice_is_its_highest_note_and_silence_is_minus_one():
    roll = voices([5, None], [3, 2])
    roll[1, 0, 9] = 1
    assert voice_pitches(roll).tolist() == [[5, -1], [9, 2]]


def test_crossings_are_counted_where_they_begin_per_bar():
    # the alto rises above the soprano for two steps, then again in the second bar
    soprano = [20, 20, 20, 20, 20, 20, 20, 20]
    alto = [15, 22, 22, 15, 15, 21, 15, 15]
    tenor = [10] * 8
    assert voice_crossings_per_bar(voices(soprano, alto, tenor), 4) == pytest.approx(2 / 2)
    # silent voices never cross; voices two apart are not compared
    assert voice_crossings_per_bar(voices([20, None], [None, 25], [30, 30]), 2) == 1


def test_parallel_fifths_and_octaves_need_both_voices_moving_the_same_way():
    upper = [19, 21, 21, 24, 26]
    lower = [12, 14, 17, 17, 19]  # a fifth to a fifth up (parallel), then a fourth, ...
    roll = voices(upper, lower)
    assert parallels_per_bar(roll, 5, FIFTH) == 2  # 19/12 → 21/14, and 24/17 → 26/19
    assert parallels_per_bar(roll, 5, OCTAVE) == 0
    octaves = voices([24, 26, 26, 28], [12, 14, 14, 16])  # held octave: no motion, no parallel
    assert parallels_per_bar(octaves, 2, OCTAVE) == pytest.approx(2 / 2)
    contrary = voices([19, 26], [12, 7])  # a fifth to a twelfth in contrary motion
    assert parallels_per_bar(contrary, 2, FIFTH) == 0
