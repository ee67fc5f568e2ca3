"""Moving pieces to a common key (``midi.common_key``): the shift, and transposition. Real
chorales, and models trained in one key: tests/e2e/test_keys.py."""

import dataclasses

import pytest
import torch

from muse_gan.modalities.midi.keys import (
    NEAR_SHIFTS,
    common_key_shift,
    fits_shifted,
    shift_pitches,
)
from muse_gan.modalities.midi.metrics import scale_consistency

from ..conftest import prepared, scale_midi

LOW, PITCHES = 28, 69  # the default roll: MIDI pitches 28 to 96
C_MAJOR = (0, 2, 4, 5, 7, 9, 11)
A_HARMONIC_MINOR = (9, 11, 0, 2, 4, 5, 8)


def scale_roll(tonic: int, degrees=C_MAJOR, octave: int = 60, steps_each: int = 4) -> torch.Tensor:
    """One track playing the scale on ``tonic`` (a MIDI pitch class) upwards from ``octave``."""
    roll = torch.zeros(1, steps_each * len(degrees), PITCHES, dtype=torch.uint8)
    for number, degree in enumerate(degrees):
        roll[
            0, number * steps_each : (number + 1) * steps_each, octave + (tonic + degree) % 12 - LOW
        ] = 1
    return roll


@pytest.mark.parametrize("tonic, expected", [(0, 0), (2, -2), (7, 5), (5, -5), (11, 1), (6, -6)])
def test_a_major_scale_moves_to_c_by_the_nearest_interval(tonic, expected):
    assert common_key_shift(scale_roll(tonic), LOW) == expected


def test_the_twelve_major_keys_move_by_the_twelve_near_shifts():
    # the key's cost (shift_nats) gives these shifts the near way's share: one tonic each
    shifts = [common_key_shift(scale_roll(tonic, octave=48), LOW) for tonic in range(12)]
    assert sorted(shifts) == list(NEAR_SHIFTS)


def test_a_minor_key_moves_to_a_minor():
    # E harmonic minor (E F# G A B C D#) goes up 5 (not down 7) to A harmonic minor, whose raised
    # seventh is the one pitch class off the white keys.
    e_minor = scale_roll(7, A_HARMONIC_MINOR)
    shift = common_key_shift(e_minor, LOW)
    assert shift == 5
    assert scale_consistency(shift_pitches(e_minor, shift), LOW) == pytest.approx(6 / 7)


def test_near_the_top_of_the_roll_the_same_key_an_octave_down_is_taken():
    roll = scale_roll(7, octave=84)  # G major up to B 95: up 5 to C major would pass the top (96)
    shift = common_key_shift(roll, LOW)
    assert shift == -7
    moved = shift_pitches(roll, shift)
    assert moved.sum() == roll.sum()  # no note lost at the edge
    assert scale_consistency(moved, LOW) == 1.0


def test_silence_is_not_moved():
    assert common_key_shift(torch.zeros(2, 16, PITCHES), LOW) == 0


def test_shifting_there_and_back_keeps_every_note_away_from_the_edges():
    roll = (torch.rand(4, 32, PITCHES, generator=torch.Generator().manual_seed(0)) > 0.9).to(
        torch.uint8
    )
    roll[..., :6] = roll[..., -6:] = 0
    for semitones in range(-6, 7):
        assert torch.equal(shift_pitches(shift_pitches(roll, semitones), -semitones), roll)
    assert (
        shift_pitches(roll, 3)[..., :3].sum() == 0 and shift_pitches(roll, -3)[..., -3:].sum() == 0
    )


def test_fits_shifted_says_whether_every_note_stays_in_the_roll():
    # G major from D 86: pitch indices 84 - 28 = 56 to 95 - 28 = 67, of 0-68
    roll = scale_roll(7, octave=84)
    assert fits_shifted(roll, 1) and not fits_shifted(roll, 2)
    assert fits_shifted(roll, -56) and not fits_shifted(roll, -57)
    assert fits_shifted(torch.zeros(1, 4, PITCHES), 100)  # a silent roll always fits


def test_a_common_key_model_sees_its_pieces_moved_and_the_cache_untouched():
    from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter

    adapter = PianoRollAdapter(
        MidiConfig(
            track_mapping="merge",
            track_names=("Melody",),
            common_key=True,
            meter="4/4",
            dynamics="off",
            conditions=(),
        )
    )
    d_major, c_major = (
        prepared(adapter, scale_midi(2), "d.mid"),
        prepared(adapter, scale_midi(0), "c.mid"),
    )
    stored = d_major.tensor.clone()
    moved = adapter.model_view([d_major, c_major])
    assert [piece.name for piece in moved] == ["d.mid", "c.mid"]
    assert [piece.info["shift"] for piece in moved] == [-2, 0]
    plain = PianoRollAdapter(dataclasses.replace(adapter.settings, common_key=False))
    d_roll = plain.tensor_of(plain.model_view([d_major])[0])
    assert torch.equal(
        adapter.tensor_of(moved[0]), shift_pitches(d_roll, -2)
    )  # drawn two semitones down
    assert torch.equal(d_major.tensor, stored)  # the cache's own bytes are not written to
