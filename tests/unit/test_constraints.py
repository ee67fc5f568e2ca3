"""Hard constraints: a composer's words read into ``Constraints``, the cells they allow, and the
bundled models keeping them (one family each here, briefly; many seeds in tests/e2e)."""

import pytest
import torch

import muse_gan
from muse_gan.modalities.midi.constraints import (
    ConstraintError,
    Constraints,
    MeterSteps,
    shift_from_white_keys,
)
from muse_gan.server.clips import Limits
from muse_gan.server.models import controls

D_MINOR = {2, 4, 5, 7, 9, 10, 0, 1}  # natural minor and the leading tone C#
KEYS = ("C", "A minor", "D minor", "D", "Bb", "E minor")


@pytest.fixture(scope="module")
def gan():
    return muse_gan.load("bach-gan")


def test_keys_and_scales_are_pitch_classes():
    assert Constraints.parse(key="D minor").scale == D_MINOR
    assert Constraints.parse(key="Dm").scale == D_MINOR
    assert Constraints.parse(key="Bb").scale == {10, 0, 2, 3, 5, 7, 9}
    assert Constraints.parse(scale="A dorian").scale == {9, 11, 0, 2, 4, 6, 7}
    assert Constraints.parse(scale="C D E G A").scale == {0, 2, 4, 7, 9}


def test_chords_ranges_densities_and_polyphony_are_read():
    asked = Constraints.parse(
        chords="Dm | G7 | C C/E", ranges="soprano=C4-A5, bass=40-60", density="soprano=6, 2"
    )
    (dm,), (g7,), (_, c_over_e) = asked.chords
    assert (dm.root, set(dm.tones)) == (2, {2, 5, 9})
    assert set(g7.tones) == {7, 11, 2, 5}
    assert (c_over_e.root, c_over_e.bass) == (0, 4)
    assert asked.ranges == (("soprano", 60, 81), ("bass", 40, 60))
    assert asked.density == (("soprano", 6.0), (None, 2.0))
    assert Constraints.parse(polyphony=1).polyphony == ((None, 1),)


@pytest.mark.parametrize(
    ("words", "line"),
    [
        ({"key": "H minor"}, "--key H minor: 'H' does not start with a note name"),
        ({"key": "D dorian"}, "--key D dorian: unknown key or mode"),
        ({"key": "C", "scale": "C major"}, "give one of them, not both"),
        ({"chords": "Dm | Gx7"}, "--chords Dm | Gx7: unknown chord symbol 'Gx7'"),
        ({"chords": "Dm || C"}, "one or more chord symbols per bar"),
        ({"ranges": "soprano=60"}, "--range soprano=60: write TRACK=LOW-HIGH"),
        ({"ranges": "soprano=81-60"}, "the lowest pitch is above the highest"),
        ({"density": "lots"}, "--density lots: notes per bar"),
        ({"polyphony": "0"}, "--polyphony 0: notes at once"),
        ({"passing": True}, "--passing: chromatic passing notes need a --key or --scale"),
    ],
)
def test_words_that_cannot_be_read_are_one_line_naming_the_option(words, line):
    with pytest.raises(ConstraintError, match=line.replace("|", r"\|")):
        Constraints.parse(**words)


def test_strong_beats_of_common_meters():
    assert MeterSteps("4/4", 4).strong_steps() == [0, 8]
    assert MeterSteps("3/4", 4).strong_steps() == [0]
    assert MeterSteps("6/8", 4).strong_steps() == [0]
    assert MeterSteps("12/8", 4).strong_steps() == [0, 12]
    assert MeterSteps("4/4", 4).off_beat(8).tolist() == [False, True, True, True] * 2


def test_the_allowed_cells_follow_key_range_and_chords(gan):
    adapter = gan.adapter
    asked = Constraints.parse(key="D minor", ranges="soprano=62-74", chords="Dm | A7")
    rules = asked.rules(adapter, 32, "4/4")
    midi = adapter.settings.pitch_low + torch.arange(adapter.pitches)
    sounding = {int(pitch) % 12 for pitch in midi[rules.allowed[:, 1:8].any((0, 1))]}
    assert sounding == D_MINOR
    soprano = midi[rules.allowed[0].any(0)]
    assert (int(soprano.min()), int(soprano.max())) == (62, 74)
    assert {int(pitch) % 12 for pitch in midi[rules.allowed[1, 16]]} == {9, 1, 4, 7}  # A7
    assert {int(pitch) % 12 for pitch in midi[rules.allowed[3, 16]]} == {9}  # the bass: its root


def test_a_range_without_a_note_of_the_key_is_one_line(gan):
    with pytest.raises(ConstraintError, match="--range soprano=61-61: holds no note of C major"):
        gan.compose(bars=1, key="C", ranges="soprano=61-61")
    with pytest.raises(ConstraintError, match="the model has no track of that name"):
        gan.compose(bars=1, ranges="descant=60-70")
    with pytest.raises(ConstraintError, match="outside the model's pitch range"):
        gan.compose(bars=1, ranges="soprano=20-100")


def test_the_gan_keeps_every_constraint_on_several_seeds(gan):
    for seed in range(5):
        piece = gan.compose(
            bars=2, seed=seed, key="D minor", chords="Dm | A7", density="4", polyphony=1
        )
        cells = piece.roll > 0
        low = gan.adapter.settings.pitch_low
        classes = {(int(pitch) + low) % 12 for pitch in cells.nonzero()[:, 2]}
        assert classes <= D_MINOR
        assert cells.sum(2).max() <= 1
        before = torch.cat([torch.zeros_like(cells[:, :1]), cells[:, :-1]], dim=1)
        assert (cells & ~before).sum((1, 2)).float().mean() == pytest.approx(8, rel=0.15)


def test_the_rnn_keeps_them_and_an_unconstrained_piece_is_unchanged():
    rnn = muse_gan.load("bach-rnn")
    plain = rnn.compose(bars=1, seed=3)
    assert torch.equal(rnn.compose(bars=1, seed=3, density=None).roll, plain.roll)
    kept = rnn.compose(bars=1, seed=3, key="Eb", ranges="bass=36-48", density="bass=2")
    bass = kept.roll[3] > 0
    pitches = bass.nonzero()[:, 1] + rnn.adapter.settings.pitch_low
    assert ((pitches >= 36) & (pitches <= 48)).all()
    before = torch.cat([torch.zeros_like(bass[:1]), bass[:-1]])
    assert int((bass & ~before).sum()) == 2


def test_passing_notes_sound_only_between_beats(gan):
    low, beat = gan.adapter.settings.pitch_low, gan.adapter.settings.steps_per_beat
    chromatic = set()
    for seed in range(3):
        piece = gan.compose(bars=2, seed=seed, scale="C pentatonic", passing=True)
        for _track, step, pitch in (piece.roll > 0).nonzero().tolist():
            if (pitch + low) % 12 not in {0, 2, 4, 7, 9}:
                chromatic.add(step % beat)
    assert chromatic and 0 not in chromatic


def test_density_levels_are_notes_per_beat(gan):
    for level, per_bar in (("low", [2, 1, 2, 1]), ("medium", [3, 3, 4, 3]), ("high", [6, 7, 6, 7])):
        rules = Constraints.parse(density=f"bass={level}").rules(gan.adapter, 64, "4/4")
        assert rules.starts[3].tolist() == per_bar
        assert rules.starts[0].tolist() == [-1] * 4


def test_a_one_key_model_moves_to_the_key_asked(gan):
    shifts = {key: shift_from_white_keys(Constraints.parse(key=key).scale) for key in KEYS}
    assert shifts == {"C": 0, "A minor": 0, "D minor": 5, "D": 2, "Bb": -2, "E minor": -5}
    piece = gan.compose(bars=2, seed=1, key="D minor")
    low = gan.adapter.settings.pitch_low
    assert {(int(pitch) + low) % 12 for pitch in (piece.roll > 0).nonzero()[:, 2]} <= D_MINOR


def test_the_server_lists_the_constraints_among_a_models_controls(gan):
    listed = controls(gan, Limits())
    for name in ("key", "scale", "ranges", "density", "chords", "polyphony"):
        assert listed[name] == {"type": "text", "default": None}
    assert listed["passing"] == {"type": "boolean", "default": False}
