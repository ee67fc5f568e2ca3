"""A piece's pull toward its own key (``midi.key_hold``, ``--key-hold``: ``keys.KeyLeaning``
through ``core.rules``' leaning), toward holding its notes (``--note-hold``: ``keys.HeldNotes``)
and keeping each voice's register and the ensemble's compass (``--voice-span``,
``--ensemble-span``: ``keys.VoiceSpan``, ``keys.EnsembleSpan``) and going on sounding or
resting (``--rest-hold``: ``keys.RestHold``), every bar sounding (``keys.EveryBarSounds``),
and the GAN's one note per voice (``midi.gan.one_note_per_voice``)."""

import functools
import subprocess
import sys

import numpy as np
import pytest
import torch

import muse_gan
from muse_gan.assembly import build_adapter, load_config
from muse_gan.core.rules import CellRules, Leanings
from muse_gan.errors import ConfigError
from muse_gan.modalities.midi.gan_terms import Voices, one_note_logits
from muse_gan.modalities.midi.keys import (
    EnsembleSpan,
    EveryBarSounds,
    HeldNotes,
    KeyLeaning,
    RestHold,
    VoiceSpan,
)
from muse_gan.modalities.midi.metrics import scale_masks

C4, PITCHES = 60, 24  # two octaves from middle C
C_MAJOR = [0, 2, 4, 5, 7, 9, 11]


def leaning(history, strength=2.0, tracks=2, pitched=(0, 1)):
    return KeyLeaning(
        history,
        tracks=tracks,
        width=PITCHES,
        pitches=PITCHES,
        pitch_low=C4,
        pitched=list(pitched),
        strength=strength,
    )


def frames_of(pitch_lists, tracks=2):
    """Frames ``(steps, tracks * PITCHES)``, track 0 sounding the pitch indices of each step."""
    frames = torch.zeros(len(pitch_lists), tracks * PITCHES)
    for step, pitches in enumerate(pitch_lists):
        frames[step, list(pitches)] = 1
    return frames


def test_the_key_counts_once_eight_notes_are_there():
    # seven notes of C major, each one step: not yet evidence of a key
    lean = leaning(frames_of([[p] for p in C_MAJOR]))
    assert lean.offsets() is None
    lean.advance(frames_of([[12]])[0])  # the eighth note, C5
    offsets = lean.offsets().view(2, PITCHES)
    outside = torch.tensor([(p % 12) not in C_MAJOR for p in range(PITCHES)])
    assert (offsets[:, outside] == -2.0).all() and (offsets[:, ~outside] == 0).all()


def test_a_whole_draft_counts_as_its_frames_one_by_one_do():
    steps = torch.Generator().manual_seed(3)
    draft = (torch.rand(40, 2 * PITCHES, generator=steps) > 0.93).float()
    draft[5:9, 3] = 1  # a held note among them
    at_once, one_by_one = leaning(draft), leaning(draft[:0])
    for frame in draft:
        one_by_one.advance(frame)
    assert at_once.counts.equal(one_by_one.counts) and at_once.before.equal(one_by_one.before)
    assert at_once.offsets().equal(one_by_one.offsets())


def test_a_held_note_counts_once_and_drum_tracks_are_left_alone():
    # C held for 20 steps in track 0: one note, not twenty; track 1 is drums (not pitched)
    lean = leaning(frames_of([[0]] * 20), pitched=(0,))
    assert lean.counts.sum() == 1
    for pitch in [2, 4, 5, 7, 9, 11, 0]:
        lean.advance(frames_of([[pitch]])[0])
    offsets = lean.offsets().view(2, PITCHES)
    assert (offsets[1] == 0).all() and (offsets[0] < 0).any()


def test_the_key_is_the_one_its_notes_fit_best():
    # eight notes of E major (E F# G# A B C# D# E): F# and G# open, F and G held down
    e_major = [4, 6, 8, 9, 11, 13, 15, 16]
    lean = leaning(frames_of([[p] for p in e_major]))
    offsets = lean.offsets().view(2, PITCHES)
    assert offsets[0, 6] == 0 and offsets[0, 8] == 0
    assert offsets[0, 5] < 0 and offsets[0, 7] < 0
    fits = scale_masks() @ np.bincount([p % 12 for p in e_major], minlength=12)
    assert fits.argmax() == 4  # E


@pytest.fixture(scope="module")
def bach_rnn():
    return muse_gan.load("bach-rnn")


@pytest.fixture(scope="module")
def palestrina():
    return muse_gan.load("palestrina")


def test_a_negligible_hold_draws_exactly_as_none(bach_rnn):
    # the leaning goes through the gate of the rules path: with offsets of 1e-12 it must draw
    # the very notes the plain path draws (same random numbers, same arithmetic)
    free = bach_rnn.compose(2, seed=5, key_hold=0)
    gated = bach_rnn.compose(2, seed=5, key_hold=1e-12)
    assert torch.equal(free.roll, gated.roll)


def test_a_strong_hold_keeps_every_later_note_in_the_key(bach_rnn):
    piece = bach_rnn.compose(4, seed=11, key_hold=30)
    roll = piece.roll[:, :, : bach_rnn.adapter.pitches].numpy() > 0
    before = np.zeros_like(roll)
    before[:, 1:] = roll[:, :-1]
    starts = roll & ~before
    steps, pitches = np.nonzero(starts.any(axis=0))  # note starts by step, all tracks
    classes = (bach_rnn.adapter.settings.pitch_low + pitches) % 12
    order = np.argsort(steps, kind="stable")
    classes = classes[order]
    later = classes[KeyLeaning.EVIDENCE + 8 :]  # once the key is set (a step's chord may straddle)
    in_best = (scale_masks()[:, later].sum(axis=1)).max()
    assert in_best == len(later) > 20


def test_the_hold_changes_the_piece_and_keeps_the_seed_promise(bach_rnn):
    held = bach_rnn.compose(4, seed=3, key_hold=3)
    assert torch.equal(held.roll, bach_rnn.compose(4, seed=3, key_hold=3).roll)
    assert not torch.equal(held.roll, bach_rnn.compose(4, seed=3, key_hold=0).roll)


def test_hold_with_hard_constraints_keeps_them(bach_rnn):
    piece = bach_rnn.compose(2, seed=2, key="D major", key_hold=2)
    roll = piece.roll[:, :, : bach_rnn.adapter.pitches].numpy() > 0
    _, _, pitches = np.nonzero(roll)
    d_major = {(2 + step) % 12 for step in C_MAJOR}
    assert {(bach_rnn.adapter.settings.pitch_low + p) % 12 for p in pitches} <= d_major


def test_held_notes_lean_on_the_pitches_of_the_frame_before_in_pitched_tracks():
    def holding(history):
        return HeldNotes(history, tracks=2, width=PITCHES, pitches=PITCHES, pitched=[0], strength=2)

    assert holding(frames_of([])).offsets() is None  # nothing sounded yet
    lean = holding(frames_of([[3]]))
    lean.advance(frames_of([[5, PITCHES + 7]])[0])  # track 0 sounds 5, track 1 (drums) 7
    offsets = lean.offsets().view(2, PITCHES)
    assert offsets[0].nonzero().flatten().tolist() == [5] and offsets[0, 5] == 2
    assert not offsets[1].any()
    both = Leanings([leaning(frames_of([[p] for p in C_MAJOR + [12]])), holding(frames_of([[5]]))])
    key = leaning(frames_of([[p] for p in C_MAJOR + [12]])).offsets()
    assert torch.equal(both.offsets(), key + holding(frames_of([[5]])).offsets())


def test_a_note_hold_holds_notes_longer_and_a_negative_one_moves_on_sooner(bach_rnn):
    started = []
    for hold in (0.0, 4.0, -1.0):  # bach-rnn's own is 0
        piece = bach_rnn.compose(4, seed=7, key_hold=0, note_hold=hold)
        roll = piece.roll[:, :, : bach_rnn.adapter.pitches] > 0
        before = torch.cat([torch.zeros_like(roll[:, :1]), roll[:, :-1]], dim=1)
        started.append(int((roll & ~before).sum()))
    assert started[1] < 0.8 * started[0] and started[2] > 1.1 * started[0], started
    with pytest.raises(ConfigError, match="midi.note_hold"):
        build_adapter(load_config(None, ["midi.note_hold=-31"]))


def test_a_voice_span_costs_a_logit_for_each_semitone_beyond_the_notes_so_far():
    def spanning(history):
        return VoiceSpan(history, tracks=2, width=PITCHES, pitches=PITCHES, pitched=[0], span=12)

    assert spanning(frames_of([])).offsets() is None  # the first note sets the register
    lean = spanning(frames_of([[10], [], [20, PITCHES + 1]]))  # track 1 (drums) sounds 1
    offsets = lean.offsets().view(2, PITCHES)
    assert offsets[0, 8:23].eq(0).all()  # 8..22: the span from 8 or to 22 is at most 12
    assert offsets[0, 23] == -1 and offsets[0, 5] == -3 and offsets[0, 0] == -8
    assert not offsets[1].any()
    lean.advance(frames_of([[8]])[0])  # the voice went down: its extent is 8..20 now
    assert lean.offsets().view(2, PITCHES)[0, 22] == -2
    both_silent = VoiceSpan(
        frames_of([[3]]), tracks=2, width=PITCHES, pitches=PITCHES, pitched=[0, 1], span=12
    )
    assert not both_silent.offsets().view(2, PITCHES)[1].any()  # no note in track 1: no pull


def test_a_voice_span_keeps_voices_in_their_register(bach_rnn):
    ranges = []
    for span in (0, 7):  # bach-rnn's own is 0
        widths = []
        for seed in (1, 2, 3):
            piece = bach_rnn.compose(4, seed=seed, voice_span=span)
            for voice in piece.roll[:, :, : bach_rnn.adapter.pitches] > 0:
                pitches = voice.any(dim=0).nonzero().flatten()
                widths.append(int(pitches[-1] - pitches[0]) if len(pitches) else 0)
        ranges.append(widths)
    assert sum(ranges[1]) < 0.85 * sum(ranges[0]), ranges
    assert max(ranges[1]) <= 12, ranges  # beyond 7, each semitone more is e^-1 as likely
    with pytest.raises(ConfigError, match="midi.voice_span"):
        build_adapter(load_config(None, ["midi.voice_span=-1"]))


def test_an_ensemble_span_costs_a_logit_per_semitone_beyond_all_voices_together():
    history = frames_of([[20, PITCHES + 8]])  # track 0 sounds 20, track 1 sounds 8: 12 apart
    lean = EnsembleSpan(history, tracks=2, width=PITCHES, pitches=PITCHES, pitched=[0, 1], span=12)
    offsets = lean.offsets().view(2, PITCHES)
    assert offsets[:, 8:21].eq(0).all()  # within the ensemble's extent: free in either voice
    assert offsets[0, 22] == -2 and offsets[1, 22] == -2 and offsets[1, 5] == -3
    # a voice's own span would let track 1 climb to 20 freely; the ensemble's does too, no higher
    own = VoiceSpan(history, tracks=2, width=PITCHES, pitches=PITCHES, pitched=[0, 1], span=12)
    assert own.offsets().view(2, PITCHES)[1, 20] == 0 and own.offsets().view(2, PITCHES)[0, 5] == -3
    lean.advance(frames_of([[23]])[0])  # the top voice went up: 8..23 now, beyond the span
    assert lean.offsets().view(2, PITCHES)[1, 7] == -4


def test_an_ensemble_span_narrows_the_whole_piece(bach_rnn):
    widths = {}
    for span in (0, 20):  # bach-rnn's own is 0
        widths[span] = []
        for seed in (1, 2, 3):
            roll = bach_rnn.compose(4, seed=seed, ensemble_span=span).roll
            pitches = (roll[:, :, : bach_rnn.adapter.pitches] > 0).any(dim=(0, 1)).nonzero()
            widths[span].append(int(pitches[-1] - pitches[0]))
    # a first chord wider than the span is the model's own choice (the pull needs a note to
    # measure from); beyond it, each semitone more is e^-1 as likely
    assert all(narrow < wide for narrow, wide in zip(widths[20], widths[0])), widths
    assert sum(widths[20]) < 0.9 * sum(widths[0]), widths
    with pytest.raises(ConfigError, match="midi.ensemble_span"):
        build_adapter(load_config(None, ["midi.ensemble_span=128"]))


def test_a_rest_hold_pulls_each_voice_to_go_on_sounding_or_resting():
    def holding(history):
        shape = {"tracks": 3, "width": PITCHES, "pitches": PITCHES, "pitched": [0, 1]}
        return RestHold(history, **shape, strength=0.5)

    assert holding(frames_of([], tracks=3)).sounding() is None  # the first frame is free
    lean = holding(frames_of([[3, 2 * PITCHES + 1]], tracks=3))  # track 2 (drums) sounds too
    assert lean.offsets() is None  # which pitches is left to the other pulls
    assert per_track(lean.sounding()) == [0.5, -0.5, 0.0]
    lean.advance(frames_of([[PITCHES + 4]], tracks=3)[0])  # track 1 entered, track 0 rests
    assert per_track(lean.sounding()) == [-0.5, 0.5, 0.0]


def per_track(sounding: torch.Tensor) -> list[float]:
    """A sounding lean ``(tracks, width)``, one value per track: the same on all its pitches."""
    assert sounding.shape[1] == PITCHES and (sounding == sounding[:, :1]).all()
    return sounding[:, 0].tolist()


def test_a_bar_where_nothing_sounded_is_pulled_to_sound_at_its_last_step():
    def opening(history):
        shape = {"tracks": 3, "width": PITCHES, "pitches": PITCHES, "pitched": [1, 2]}
        return EveryBarSounds(history, **shape, bar=4, strength=30.0)

    silence, note = frames_of([[]], tracks=3)[0], frames_of([[PITCHES + 5]], tracks=3)[0]
    lean = opening(frames_of([], tracks=3))
    pulls = []
    # bar 0 silent, bar 1 with a note at its first step, bar 2 silent again
    for frame in [silence] * 4 + [note] + [silence] * 7:
        pulls.append(lean.sounding())
        lean.advance(frame)
    assert lean.offsets() is None
    pulled = [step for step, pull in enumerate(pulls) if pull is not None]
    assert pulled == [3, 11]  # each silent bar's last step, not the bar that sounded
    assert per_track(pulls[3]) == [0.0, 30.0, 0.0]  # the first pitched track, not the other
    # a note before the last step, or a primer that sounds, leave the piece to the model
    heard = opening(frames_of([], tracks=3))
    heard.advance(frames_of([[PITCHES + 5]], tracks=3)[0])
    heard.advance(silence)
    heard.advance(silence)
    assert heard.sounding() is None
    assert opening(frames_of([[PITCHES + 5], []], tracks=3)).step == 2
    primed = opening(frames_of([[PITCHES + 5], [], []], tracks=3))
    assert primed.sounding() is None
    # a primer's steps count: its second bar silent, that bar's last step is pulled
    assert opening(frames_of([[PITCHES + 5]] + [[]] * 6, tracks=3)).sounding() is not None
    # with onset columns after the pitches, the pull is on the pitches: an onset mark alone
    # would be a note of no pitch
    shape = {"tracks": 3, "width": 2 * PITCHES, "pitches": PITCHES, "pitched": [1, 2]}
    marked = EveryBarSounds(torch.zeros(3, 6 * PITCHES), **shape, bar=4, strength=30.0).sounding()
    assert marked[1, :PITCHES].eq(30.0).all() and not marked[1, PITCHES:].any()


def test_palestrinas_six_voices_sound_in_every_bar(palestrina):
    """Without the rule, seed 1's six voices all come to rest in bar 4 and stay silent."""
    bar = palestrina.adapter.steps_per_bar
    for seed in range(4):
        roll = palestrina.compose(8, seed=seed, voices=6).roll[:, :, : palestrina.adapter.pitches]
        sounding = roll.view(6, 8, bar, -1).flatten(2).any(-1).any(0)
        assert sounding.all(), seed


def test_folk_melodys_openings_all_sound():
    model = muse_gan.load("folk-melody")
    for meter in model.adapter.classes:
        for seed in range(30):
            bar = model.compose(1, seed=seed, meter=meter).roll[0, :, : model.adapter.pitches]
            assert bar.any(), (meter, seed)


def test_a_sounding_lean_moves_probability_between_a_voice_and_its_rest():
    from muse_gan.models.heads import leaned

    logits = torch.tensor([[1.0, 2.0, 0.5, 0.5, 0.0]])  # two voices of two cells, then "stop"
    before = logits.softmax(-1)[0]
    lean = torch.tensor([[1.0, 1.0], [0.0, 0.0]])  # voice 0 likelier to sound, voice 1 as it was
    after = leaned(logits, torch.zeros(2, 2), lean).softmax(-1)[0]
    assert after[:2].sum() > before[:2].sum() + 0.1  # voice 0 sounds more often
    torch.testing.assert_close(after[1] / after[0], before[1] / before[0])  # its pitches alike
    torch.testing.assert_close(after[3] / after[4], before[3] / before[4])


def test_a_rest_hold_reaches_the_bernoulli_head_too():
    from muse_gan.models.heads import BernoulliHead

    head = BernoulliHead(4, 6, 8)  # two tracks of three cells
    with torch.no_grad():
        head.out.weight.zero_()
        head.out.bias.zero_()  # every cell even odds, whatever the context
    shape = {"tracks": 2, "width": 3, "pitches": 3, "pitched": [0, 1]}
    leaning = functools.partial(RestHold, **shape, strength=3.0)
    gate = CellRules.unlimited(2, 2, 3, 3, leaning).gate(torch.tensor([[1.0, 0, 0, 0, 0, 0]]))
    generator = torch.Generator().manual_seed(0)
    frames = torch.cat(
        [head.sample_gated(torch.zeros(1, 4), 1.0, generator, gate) for _ in range(200)]
    )
    # track 0 sounded, track 1 rested: sigmoid(3) = 0.95 and sigmoid(-3) = 0.05 per cell
    assert frames[:, :3].mean() > 0.85 and frames[:, 3:].mean() < 0.15


def test_the_pulls_not_asked_are_the_models_own(palestrina):
    folk = muse_gan.load("folk-melody")  # note_hold -0.25, voice_span 14; in 4/4 rest_hold -0.3
    kept = folk.compose(4, seed=0, note_hold=-0.25, voice_span=14, rest_hold=-0.3)
    assert torch.equal(folk.compose(4, seed=0).roll, kept.roll)  # no meter asked: 4/4
    for other in ({"voice_span": 0}, {"note_hold": 0}):  # a pull that matters in some piece
        assert differs(folk, range(8), {}, other), other
    # its own pulls by voice count (midi.class_pulls): 6 voices rest_hold 0.4, 5 voices
    # note_hold 0 and rest_hold 0.1; each over note_hold 0.25, ensemble_span 28, rest_hold 0
    six = {"voices": 6}
    kept = palestrina.compose(4, seed=0, voices=6, note_hold=0.25, ensemble_span=28, rest_hold=0.4)
    assert torch.equal(palestrina.compose(4, seed=0, **six).roll, kept.roll)
    assert differs(palestrina, range(4), six, six | {"ensemble_span": 0})
    five = palestrina.compose(4, seed=0, voices=5, note_hold=0, ensemble_span=28, rest_hold=0.1)
    assert torch.equal(palestrina.compose(4, seed=0, voices=5).roll, five.roll)
    assert differs(palestrina, range(4), six, six | {"rest_hold": 0})  # the class's pull acts


def differs(model, seeds, own: dict, other: dict) -> bool:
    """Whether, for some seed of ``seeds``, 4 bars asked with ``other`` differ from those asked
    with ``own`` (composed a seed at a time, up to the first that differs)."""
    return any(
        not torch.equal(
            model.compose(4, seed=seed, **own).roll, model.compose(4, seed=seed, **other).roll
        )
        for seed in seeds
    )


def test_the_command_line_pulls_draw_what_the_library_draws(bach_rnn, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "muse_gan", "compose", "--bars", "2", "--seed", "4"]
        + ["--note-hold", "2", "--voice-span", "9", "-o", str(tmp_path / "held.mid")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    piece = bach_rnn.compose(2, seed=4, note_hold=2, voice_span=9)
    assert (tmp_path / "held.mid").read_bytes() == piece.file_bytes()
    assert piece.file_bytes() != bach_rnn.compose(2, seed=4).file_bytes()


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (["--key-hold", "-1"], "--key-hold -1.0: must be from 0 (off) to 30"),
        (["--note-hold", "31"], "--note-hold 31.0: must be from -30 to 30 (0: off)"),
        (["--voice-span", "128"], "--voice-span 128: must be a whole number from 0 (off) to 127"),
        (
            ["--ensemble-span", "-1"],
            "--ensemble-span -1: must be a whole number from 0 (off) to 127",
        ),
        (["--model", "bach-gan", "--note-hold", "2"], "--note-hold: a GAN model takes no pull"),
        (["--model", "bach-gan", "--key-hold", "2"], "--key-hold: a GAN model takes no pull"),
        (
            ["--model", "bach-coconet", "--rest-hold", "1"],
            "--rest-hold: a Coconet model takes only --key-hold",
        ),
    ],
)
def test_a_bad_pull_is_one_line(options, line):
    done = subprocess.run(
        [sys.executable, "-m", "muse_gan", "compose", "--bars", "1", *options],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert done.stderr.strip() == f"Error: {line}"


def test_one_note_logits_are_a_softmax_with_a_rest():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 16, 12) * 4
    shares = torch.sigmoid(one_note_logits(logits))
    with_rest = torch.softmax(torch.nn.functional.pad(logits, (1, 0)), dim=-1)[..., 1:]
    torch.testing.assert_close(shares, with_rest, rtol=1e-4, atol=1e-6)
    assert (shares.sum(-1) < 1).all()
    assert ((shares > 0.5).sum(-1) <= 1).all()  # never two notes in one voice at a step


def test_voices_keep_ranges_and_one_note():
    voices = Voices(tracks=2, pitches=12, ranges=True, one_note=True)
    real = torch.zeros(1, 2, 4, 12)
    real[0, 0, :, 3] = 1  # track 0 has only sounded pitch 3; track 1 nothing yet
    voices.observe(real)
    shares = torch.sigmoid(voices(torch.full((1, 2, 4, 12), 5.0)))
    assert shares[0, 0, :, 3].min() > 0.99 and shares[0, 0, :, :3].max() < 1e-9
    assert shares[0, 1].max() < 1e-9
    free = Voices(tracks=2, pitches=12, ranges=False, one_note=True)
    free.observe(real)  # learns no range: every pitch stays open
    assert torch.sigmoid(free(torch.zeros(1, 2, 1, 12))).min() > 0.07


def test_unlimited_rules_are_free():
    rules = CellRules.unlimited(2, 8, 5, 5)
    assert rules.free
    cells, may_stop = rules.gate(torch.zeros(0, 10)).open_cells(torch.zeros(10))
    assert cells.all() and may_stop


def test_one_note_logits_have_finite_gradients_where_one_pitch_dwarfs_the_rest():
    logits = torch.tensor([[120.0, -30.0, 0.0], [-200.0, -200.0, -200.0]], requires_grad=True)
    shares = torch.sigmoid(one_note_logits(logits))
    shares.sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert shares[0, 0] > 0.999 and shares[1].max() < 1e-30


def test_a_lean_moves_probability_among_the_notes_not_to_stop():
    from muse_gan.models.heads import leaned

    logits = torch.tensor([[1.0, 2.0, float("-inf"), 0.5, -1.0]])  # four cells, then "stop"
    offsets = torch.tensor([0.0, -3.0, -3.0, 0.0])
    before, after = logits.softmax(-1), leaned(logits, offsets).softmax(-1)
    torch.testing.assert_close(after[0, -1], before[0, -1])  # stop: as likely as before
    assert after[0, 1] < before[0, 1] and after[0, 0] > before[0, 0] and after[0, 2] == 0
    closed = torch.tensor([[float("-inf")] * 4 + [0.0]])  # no note open: stop alone
    assert torch.equal(leaned(closed, offsets), closed)


def test_a_lean_keeps_each_voices_probability_within_that_voice():
    from muse_gan.models.heads import leaned

    # two voices of two cells each, then "stop"; the lean pulls voice 0 from its cell 1
    logits = torch.tensor([[1.0, 2.0, 0.5, 0.5, 0.0]])
    offsets = torch.tensor([[0.0, -3.0], [0.0, 0.0]])
    before, after = logits.softmax(-1)[0], leaned(logits, offsets).softmax(-1)[0]
    torch.testing.assert_close(after[:2].sum(), before[:2].sum())  # voice 0 sounds as often
    torch.testing.assert_close(after[2:], before[2:])  # voice 1 and stop untouched
    assert after[0] > before[0] and after[1] < before[1]
    # the same lean spread over the whole frame hands voice 0's share to voice 1
    across = leaned(logits, offsets.flatten()).softmax(-1)[0]
    assert across[:2].sum() < before[:2].sum() - 0.1


def test_voices_decode_the_likeliest_path_each_change_costing():
    from muse_gan.modalities.midi.gan_terms import viterbi_voices

    # one voice, states rest / pitch 0 / pitch 1 over five steps: pitch 0 held, but at step 2
    # pitch 1 is likelier by a little (0.5 against 0.4), and at step 3 a rest (0.45 / 0.4)
    shares = torch.tensor(
        [
            [0.05, 0.9, 0.05],
            [0.05, 0.9, 0.05],
            [0.1, 0.4, 0.5],
            [0.45, 0.4, 0.15],
            [0.05, 0.9, 0.05],
        ]
    )
    log_shares = shares.log()[None, None]  # (1, 1, 5, 3)
    step_by_step = viterbi_voices(log_shares, 0.0)[0, 0]
    assert step_by_step.argmax(-1).tolist() == [0, 0, 1, 0, 0] and step_by_step[3].sum() == 0
    # a change costs 1 nat: breaking the held note twice costs more than the 0.22 + 0.12 nats
    # its two weaker steps lose, so pitch 0 is held throughout
    held = viterbi_voices(log_shares, 1.0)[0, 0]
    assert held[:, 0].tolist() == [1.0] * 5 and held[:, 1].sum() == 0


def test_a_one_note_voices_filter_decodes_its_own_cells():
    voices = Voices(tracks=1, pitches=3, ranges=False, one_note=True, change_cost=1.0)
    logits = one_note_logits(torch.tensor([[[[2.0, 0.0, 0.0], [0.0, 0.3, 0.0], [2.0, 0.0, 0.0]]]]))
    assert voices.decode(logits)[0, 0, :, 0].tolist() == [1.0, 1.0, 1.0]
    cells = Voices(tracks=1, pitches=3, ranges=False).decode(logits)  # no one note: cells vs 0.5
    assert torch.equal(cells, (logits > 0).float())


def test_a_pull_given_as_a_whole_number_is_the_same_pull(palestrina):
    # rest_hold=2 from Python or JSON once failed inside the sampler (an int tensor of pulls)
    for pulls in ({"rest_hold": 2}, {"note_hold": -1}, {"key_hold": 3}):
        floats = {name: float(value) for name, value in pulls.items()}
        made = palestrina.compose(2, seed=1, voices=4, **pulls).roll
        assert torch.equal(made, palestrina.compose(2, seed=1, voices=4, **floats).roll), pulls
