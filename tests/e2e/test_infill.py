"""Infill and harmonization, end to end: a tiny Coconet trained through the shared Trainer on
real chorales (trains, saves, reloads, samples), the bundled bach-coconet on a real chorale and
on files made here, and bach-gan harmonizing. Outside the selection every note is unchanged;
under a harmonization the melody is untouched."""

import pretty_midi
import pytest
import torch

import muse_gan
from muse_gan.assembly import load_config
from muse_gan.modalities.midi.constraints import Constraints, MeterSteps
from muse_gan.modalities.midi.scores import bach_chorales
from muse_gan.training import train

from ..conftest import TINY, write_quartet
from ..unit.test_cli import muse
from .test_constraints import notes_started

COCONET = ['model.family="coconet"', "model.layers=2", "model.channels=16"]


@pytest.fixture(scope="module")
def tiny_coconet_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("tiny-coconet") / "run"
    train(load_config(None, TINY + COCONET), run, quiet=True)
    return run


def notes_of(piece: pretty_midi.PrettyMIDI, track: int, start: float = 0.0, end: float = 1e9):
    """(pitch, start, end) of the notes of a track that lie wholly between ``start`` and ``end``
    seconds, rounded to the millisecond."""
    return sorted(
        (note.pitch, round(note.start, 3), round(note.end, 3))
        for note in piece.instruments[track].notes
        if note.start >= start - 1e-6 and note.end <= end + 1e-6
    )


def test_the_masked_family_trains_saves_reloads_and_composes(tiny_coconet_run):
    assert (tiny_coconet_run / "model.safetensors").exists()
    model = muse_gan.load(tiny_coconet_run)
    assert model.objective.family == "coconet"
    piece = model.compose(bars=2, seed=1)
    assert piece.roll.shape[:2] == (4, 32)
    assert piece.roll.equal(muse_gan.load(tiny_coconet_run).compose(bars=2, seed=1).roll)


def test_a_trained_run_infills_bars_and_leaves_every_other_note(tiny_coconet_run, tmp_path):
    clip = write_quartet(tmp_path / "clip.mid", bars=4)
    model = muse_gan.load(tiny_coconet_run)
    piece = model.infill(clip, bars=(2, 3), tracks=["alto", "Tenor"], seed=2)
    original = pretty_midi.PrettyMIDI(str(clip))
    bar = 2 * 60 / 100 * 2  # seconds in a 4/4 bar at 100 quarter notes a minute
    for track in (0, 3):  # soprano and bass: not selected, every note as it was
        assert notes_of(piece, track) == notes_of(original, track)
    for track in (1, 2):  # alto and tenor: bars 1 and 4 as they were
        assert notes_of(piece, track, 0, bar) == notes_of(original, track, 0, bar)
        assert notes_of(piece, track, 3 * bar) == notes_of(original, track, 3 * bar)


def test_the_bundled_model_infills_a_chorale_in_any_key(tmp_path):
    model = muse_gan.load("bach-coconet")
    chorale = next(path for path in bach_chorales() if path.name == "bwv10.7.mxl")
    original = model.adapter.read_clip(chorale, "CLIP").tensor
    piece = model.infill(chorale, bars=(3, 4), seed=0)
    changed = (piece.roll != original).any(dim=2)  # (tracks, steps)
    bar = model.adapter.steps_per_bar
    assert not changed[:, : 2 * bar].any() and not changed[:, 4 * bar :].any()
    assert piece.roll[:, 2 * bar : 4 * bar].any(dim=2).float().mean() > 0.8  # the voices sing
    moved = write_quartet(tmp_path / "in-f-sharp.mid", shift=6, bars=4)  # another key
    result = muse("infill", moved, "--bars", "2-3", "--tracks", "alto", "-o", tmp_path / "f.mid")
    assert result.exit_code == 0, result.output
    filled = pretty_midi.PrettyMIDI(str(tmp_path / "f.mid"))
    given = pretty_midi.PrettyMIDI(str(moved))
    for track in (0, 2, 3):
        assert notes_of(filled, track) == notes_of(given, track)


def test_the_bundled_model_harmonizes_a_melody_untouched(tmp_path):
    melody = pretty_midi.PrettyMIDI(initial_tempo=90.0)
    tune = pretty_midi.Instrument(0, name="Flute")
    beat = 60 / 90
    for number, pitch in enumerate([67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 67, 62]):
        tune.notes.append(pretty_midi.Note(90, pitch, number * 2 * beat, (number + 1) * 2 * beat))
    melody.instruments.append(tune)
    path = tmp_path / "tune.mid"
    melody.write(str(path))
    result = muse("harmonize", path, "--seed", 4, "-o", tmp_path / "chorale.mid")
    assert result.exit_code == 0, result.output
    harmony = pretty_midi.PrettyMIDI(str(tmp_path / "chorale.mid"))
    assert [note.pitch for note in harmony.instruments[0].notes] == [
        note.pitch for note in tune.notes
    ]
    assert notes_of(harmony, 0) == notes_of(melody, 0)
    lower = [len(harmony.instruments[track].notes) for track in (1, 2, 3)]
    assert all(count > 0 for count in lower)
    same = muse_gan.load("bach-coconet").harmonize(path, seed=4)
    assert same.file_bytes(".mid") == (tmp_path / "chorale.mid").read_bytes()


def test_a_melody_with_chords_is_harmonized_on_its_top_line_and_said_so(tmp_path):
    chorale = next(path for path in bach_chorales() if path.name == "bwv10.7.mxl")
    model = muse_gan.load("bach-coconet")
    soprano = model.adapter.read_clip(chorale, "x").tensor[0]
    result = muse("harmonize", chorale, "-o", tmp_path / "out.mid")
    assert result.exit_code == 0
    assert "it has chords; harmonized its top line" in result.output
    harmony = model.adapter.read_clip(tmp_path / "out.mid", "x").tensor
    assert harmony[0].equal(soprano)  # in a chorale, the soprano is the top line


def test_bach_gan_harmonizes_as_it_accompanies_a_soprano(tmp_path):
    path = write_quartet(tmp_path / "quartet.mid", bars=4)
    harmony = muse_gan.load("bach-gan").harmonize(path, seed=1)
    given = muse_gan.load("bach-gan").adapter.read_clip(path, "x").tensor
    assert harmony.roll[0].equal(given[0])
    assert harmony.roll[1:].any()


def test_infill_samples_at_any_temperature_reproducibly():
    model = muse_gan.load("bach-coconet")
    piece = model.compose(bars=2, seed=5)
    again = model.infill(piece, bars=(2, 2), seed=6, temperature=0.5)
    assert again.roll[:, :16].equal(piece.roll[:, :16])
    assert again.roll.equal(model.infill(piece, bars=(2, 2), seed=6, temperature=0.5).roll)
    assert again.roll.shape == (4, 32, model.adapter.pitches)


def test_infill_and_harmonize_keep_the_constraints_asked(tmp_path):
    model = muse_gan.load("bach-coconet")
    clip = write_quartet(tmp_path / "clip.mid", bars=4)
    original = model.adapter.read_clip(clip, "x").tensor
    midi = model.adapter.settings.pitch_low + torch.arange(model.adapter.pitches)
    d_minor = torch.tensor([0, 1, 2, 4, 5, 7, 9, 10])  # D minor, natural and harmonic
    for seed in range(3):
        piece = model.infill(clip, bars=(2, 3), seed=seed, key="D minor", ranges="alto=60-69")
        new = piece.roll[:, 16:48] > 0
        assert not (new & ~torch.isin(midi % 12, d_minor)).any()
        assert not (new[1] & ((midi < 60) | (midi > 69))).any()
        assert piece.roll[:, :16].equal(original[:, :16]) and piece.roll[:, 48:].equal(
            original[:, 48:]
        )
    harmony = model.harmonize(clip, seed=1, chords="C | F | G7 | C")
    asked = Constraints.parse(chords="C | F | G7 | C")
    meter = MeterSteps(model.adapter.meter, model.adapter.settings.steps_per_beat)
    for step, chord, _ in asked.chord_steps(harmony.roll.shape[1], meter):
        tones = torch.isin(midi % 12, torch.tensor(sorted(chord.tones)))
        assert not (harmony.roll[1:, step].bool() & ~tones).any()  # the melody is the user's


def test_infill_and_harmonize_keep_a_density_in_the_bars_they_fill(tmp_path):
    model = muse_gan.load("bach-coconet")
    clip = write_quartet(tmp_path / "clip.mid", bars=4)
    for seed in range(2):
        piece = model.infill(clip, bars=(2, 3), seed=seed, density="4")
        started = notes_started(piece.roll[:, :, : model.adapter.pitches] > 0)
        assert started[:, 16:48].view(4, 2, 16).sum(2).tolist() == [[4, 4]] * 4  # every voice, bar
    # one voice filled, the count asked of all: the kept voices' own counts are the user's, and
    # the soprano's two notes a bar must not silence the alto drawn under it
    alto = model.infill(clip, bars=(2, 3), tracks="alto", seed=1, density="4")
    sounding = alto.roll[1, 16:48, : model.adapter.pitches] > 0
    assert sounding.any(-1).all()
    assert notes_started(sounding[None])[0].view(2, 16).sum(1).tolist() == [4, 4]
    harmony = model.harmonize(clip, seed=1, density="alto=2, tenor=2, bass=3")
    started = notes_started(harmony.roll[:, :, : model.adapter.pitches] > 0)
    assert started[1:].view(3, 4, 16).sum(2).tolist() == [[2] * 4, [2] * 4, [3] * 4]
