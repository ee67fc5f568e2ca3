"""Moving pieces to a common key (``data.common_key``): the shift, the samplers, compose's primer, interpolate's clips."""

import pretty_midi
import pytest
import torch

from muse_gan.keys import common_key_shift, shift_pitches
from muse_gan.metrics import scale_consistency

from .conftest import TINY, write_quartet

LOW, PITCHES = 28, 69  # the default roll: MIDI pitches 28 to 96
C_MAJOR = (0, 2, 4, 5, 7, 9, 11)
A_HARMONIC_MINOR = (9, 11, 0, 2, 4, 5, 8)


def scale_roll(tonic: int, degrees=C_MAJOR, octave: int = 60, steps_each: int = 4) -> torch.Tensor:
    """One track playing the scale on ``tonic`` (a MIDI pitch class) upwards from ``octave``."""
    roll = torch.zeros(1, steps_each * len(degrees), PITCHES, dtype=torch.uint8)
    for number, degree in enumerate(degrees):
        roll[0, number * steps_each:(number + 1) * steps_each, octave + (tonic + degree) % 12 - LOW] = 1
    return roll


@pytest.mark.parametrize("tonic, expected", [(0, 0), (2, -2), (7, 5), (5, -5), (11, 1), (6, -6)])
def test_a_major_scale_moves_to_c_by_the_nearest_interval(tonic, expected):
    assert common_key_shift(scale_roll(tonic), LOW) == expected


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
    roll = (torch.rand(4, 32, PITCHES, generator=torch.Generator().manual_seed(0)) > 0.9).to(torch.uint8)
    roll[..., :6] = roll[..., -6:] = 0
    for semitones in range(-6, 7):
        assert torch.equal(shift_pitches(shift_pitches(roll, semitones), -semitones), roll)
    assert shift_pitches(roll, 3)[..., :3].sum() == 0 and shift_pitches(roll, -3)[..., -3:].sum() == 0


def test_training_windows_of_real_chorales_are_in_c_major_or_a_minor():
    from muse_gan.adapters.pianoroll import PianoRollAdapter
    from muse_gan.config import load_config
    from muse_gan.data import load_pieces, samplers

    adapter = PianoRollAdapter()
    pieces = load_pieces(adapter, "bach", limit=12, quiet=True)
    settings = ["data.window_bars=2", "data.transpose=0"]
    as_written, _ = samplers(adapter, {"train": pieces, "valid": []}, load_config(None, settings))
    moved, _ = samplers(adapter, {"train": pieces, "valid": []}, load_config(None, settings + ["data.common_key=true"]))
    white_keys = torch.zeros(12)
    white_keys[list(C_MAJOR)] = 1
    shares = []
    for sampler in (as_written, moved):
        windows = torch.cat([batch for batch, _ in sampler.in_order(64)])
        by_class = torch.zeros(12).index_add_(0, (LOW + torch.arange(PITCHES)) % 12, windows.sum(dim=(0, 1, 2)))
        shares.append(float(by_class @ white_keys / by_class.sum()))
    assert shares[1] > 0.9 > shares[0]  # as written the chorales are in many keys; moved, nearly all white keys
    assert len(moved) == len(as_written)


def test_a_common_key_model_moves_the_primer_there_and_the_piece_back(tmp_path):
    """The same melody in C and in D: the model is given the same notes both times, so the
    accompaniments are the same up to the transposition, and each melody comes back as given."""
    from muse_gan.api import load
    from muse_gan.config import load_config
    from muse_gan.training import train

    settings = TINY + ["model.family=\"gan\"", "model.channels=4", "model.latent=4", "gan.critic_steps=1",
                       "gan.condition_track=0", "data.common_key=true", "data.transpose=0"]
    train(load_config(None, settings), tmp_path / "run", quiet=True)
    model = load(tmp_path / "run")
    rolls = {}
    for name, shift in (("c", 0), ("d", 2)):
        melody = pretty_midi.PrettyMIDI(initial_tempo=100)
        voice = pretty_midi.Instrument(0, name="melody")
        voice.notes = [pretty_midi.Note(90, 72 + shift + step, 0.6 * index, 0.6 * (index + 1))
                       for index, step in enumerate([0, 2, 4, 5, 7, 5, 4, 2])]
        melody.instruments.append(voice)
        rolls[name], _ = model.compose_roll(bars=2, seed=3, primer=melody, decode="bernoulli")  # notes from a tiny model
        given = model.adapter.encode(melody, strict=False)[0]
        assert torch.equal(rolls[name][0, :given.shape[0]], given)  # the melody, in its own key
    inner = slice(2, PITCHES - 2)  # a note at the very edge may drop out when moved back
    assert torch.equal(rolls["d"][1:, :, inner], shift_pitches(rolls["c"][1:], 2)[:, :, inner])
    assert rolls["c"][1:].any()


def test_a_common_key_model_scores_a_piece_in_any_key_alike(tmp_path):
    """Held-out likelihood is taken as the model was trained: in C major / A minor."""
    from muse_gan.api import load
    from muse_gan.config import load_config
    from muse_gan.data import Piece
    from muse_gan.evaluate import likelihood
    from muse_gan.training import train

    train(load_config(None, TINY + ["data.common_key=true", "data.transpose=0"]), tmp_path / "run", quiet=True)
    model = load(tmp_path / "run")
    scores = []
    for shift in (0, 1, 2):  # G, A flat and A major: each moves up to the same notes in C major
        piece = model.adapter.read(write_quartet(tmp_path / f"quartet{shift}.mid", shift=shift, bars=2))[0]
        scores.append(likelihood(model, [Piece("quartet", model.adapter.encode(piece))])["value"])
    assert scores[0] == scores[1] == scores[2]


def test_a_common_key_vae_interpolates_between_clips_in_their_own_keys(tmp_path):
    """The same quartet in G and in A: the model is given the same notes at both ends, so the
    end clips are one reconstruction, each moved back to its clip's key."""
    from muse_gan.api import load
    from muse_gan.config import load_config
    from muse_gan.training import train

    settings = TINY + ["model.family=\"vae\"", "model.latent=8", "data.window_bars=1", "data.common_key=true",
                       "data.transpose=0", "train.steps=30", "train.lr=0.01"]
    train(load_config(None, settings), tmp_path / "run", quiet=True)
    model = load(tmp_path / "run")
    in_g, in_a = (write_quartet(tmp_path / f"quartet{shift}.mid", shift=shift) for shift in (0, 2))
    rolls, _ = model.interpolate_rolls(in_g, in_a, steps=3)
    inner = slice(2, PITCHES - 2)  # a note at the very edge may drop out when moved back
    assert torch.equal(rolls[-1][:, :, inner], shift_pitches(rolls[0], 2)[:, :, inner])
    assert rolls[0].any()
