"""The library face: load a model, compose, continue a primer."""

import pretty_midi
import pytest

import muse_gan
from muse_gan.api import load
from muse_gan.errors import MuseError
from muse_gan.pretrained import DEFAULT, DESCRIPTIONS, bundled_path

from .conftest import write_quartet


def bar_seconds(model, tempo):
    return model.adapter.settings.beats_per_bar * 60 / tempo


def test_compose_returns_exactly_the_asked_bars(tiny_run):
    model = load(tiny_run)
    piece = model.compose(bars=3, seed=1, tempo=120)
    assert isinstance(piece, pretty_midi.PrettyMIDI)
    assert piece.get_end_time() <= 3 * bar_seconds(model, 120) + 1e-9
    assert [(ts.numerator, ts.denominator) for ts in piece.time_signature_changes] == [(4, 4)]
    assert piece.get_tempo_changes()[1][0] == pytest.approx(120)
    assert [instrument.name for instrument in piece.instruments] == ["Soprano", "Alto", "Tenor", "Bass"]
    low, high = model.adapter.settings.pitch_low, model.adapter.settings.pitch_high
    notes = [note for instrument in piece.instruments for note in instrument.notes]
    assert notes and all(low <= note.pitch <= high and note.velocity > 0 for note in notes)


def test_same_seed_same_piece_other_seed_other_piece(tiny_run):
    model = load(tiny_run)
    first, again, other = (model.adapter.midi_bytes(model.compose(bars=2, seed=seed)) for seed in (5, 5, 6))
    assert first == again
    assert first != other


def test_a_primer_is_continued(tiny_run, tmp_path):
    primer = write_quartet(tmp_path / "primer.mid")
    model = load(tiny_run)
    piece = model.compose(bars=4, seed=2, primer=primer)
    original = pretty_midi.PrettyMIDI(str(primer))
    for voice, part in zip(piece.instruments, original.instruments):
        for mine, theirs in zip(voice.notes, part.notes[:-1]):  # the last may be held on
            assert (mine.pitch, round(mine.start, 6), round(mine.end, 6)) == \
                   (theirs.pitch, round(theirs.start, 6), round(theirs.end, 6))
        assert (voice.notes[len(part.notes) - 1].pitch, round(voice.notes[len(part.notes) - 1].start, 6)) == \
               (part.notes[-1].pitch, round(part.notes[-1].start, 6))
    assert piece.get_end_time() > original.get_end_time()  # and it goes on after the primer


def test_a_primer_longer_than_the_piece_is_refused(tiny_run, tmp_path):
    primer = write_quartet(tmp_path / "primer.mid", bars=3)
    with pytest.raises(MuseError, match="--bars must be at least"):
        load(tiny_run).compose(bars=2, primer=primer)


@pytest.mark.parametrize("bars", [0, 257, 2.5, True])
def test_bars_out_of_range_or_not_whole_are_refused(tiny_run, bars):
    with pytest.raises(MuseError, match=f"^--bars {bars}: must be a whole number from 1 to 256$"):
        load(tiny_run).compose(bars=bars)


def test_bars_may_be_any_kind_of_integer(tiny_run):
    import numpy as np

    model = load(tiny_run)
    assert model.compose_roll(bars=np.int64(2), seed=0)[0].equal(model.compose_roll(bars=2, seed=0)[0])


def test_unknown_model_names_the_known_ones():
    with pytest.raises(MuseError, match=DEFAULT):
        load("no-such-model")


@pytest.mark.parametrize("name", [name for name in DESCRIPTIONS if name.startswith("bach")])
def test_every_bundled_music_model_is_small_and_composes_sixteen_bars(name):
    path = bundled_path(name)
    assert path.stat().st_size <= 10 * 2**20
    model = muse_gan.load(None if name == DEFAULT else name)
    roll, tempo = model.compose_roll(bars=16, seed=1)
    assert roll.shape == (4, 16 * model.steps_per_bar, model.adapter.pitches)
    sounding = roll.reshape(4, 16, model.steps_per_bar, -1).any(dim=(2, 3))  # (voice, bar)
    assert sounding.any(dim=1).all() and sounding.float().mean() >= 0.5  # every voice, in most bars
    piece = model.adapter.decode(roll, tempo)
    assert len(piece.instruments) == 4


def test_the_bundled_picture_model_is_small_and_samples_digits():
    assert bundled_path("digits-gan").stat().st_size <= 10 * 2**20
    images = muse_gan.load("digits-gan").sample_tensors(4, seed=1, label="5")
    assert images.shape == (4, 1, 16, 16) and images.mean() > 0.05  # strokes, not a black square


def test_the_bundled_sound_model_is_small_and_sounds_the_pitch_asked_for():
    from muse_gan.audio_quality import note_pitch

    assert bundled_path("notes-gan").stat().st_size <= 10 * 2**20
    model = muse_gan.load("notes-gan")
    sound = model.sample(1, seed=0, label="60")[0]
    assert abs(note_pitch(sound, model.adapter.settings.sample_rate) - 60) <= 1


def test_the_bundled_tune_model_is_small_and_writes_abc_that_becomes_midi():
    from muse_gan.adapters.text import tune_bytes

    assert bundled_path("folk-rnn").stat().st_size <= 10 * 2**20
    tune = muse_gan.load("folk-rnn").sample(1, seed=2)[0]
    assert tune.startswith("X:") and "K:" in tune
    assert tune_bytes(tune, ".mid").startswith(b"MThd")


def test_interpolate_gives_the_asked_number_of_one_segment_clips(tiny_vae_run, tmp_path):
    model = load(tiny_vae_run)
    start, end = write_quartet(tmp_path / "a.mid"), write_quartet(tmp_path / "b.mid", shift=5)
    clips = model.interpolate(start, end, steps=4, seed=1)
    assert len(clips) == 4
    assert all(clip.get_end_time() <= bar_seconds(model, 100) + 1e-9 for clip in clips)
    again = model.interpolate(start, end, steps=4, seed=1)
    assert [model.adapter.midi_bytes(clip) for clip in clips] == [model.adapter.midi_bytes(clip) for clip in again]


def test_interpolate_needs_a_latent_space(tiny_run, tmp_path):
    start = write_quartet(tmp_path / "a.mid")
    with pytest.raises(MuseError, match="VAE"):
        load(tiny_run).interpolate(start, start)


@pytest.mark.parametrize("bars", [1, 3, 5])
def test_a_vae_composes_any_number_of_bars(tiny_vae_run, bars):
    model = load(tiny_vae_run)
    roll, _ = model.compose_roll(bars=bars, seed=3)
    assert roll.shape[1] == bars * model.steps_per_bar


# model files from elsewhere: doctored, foreign, truncated, or a pickle


def doctored(tiny_run, tmp_path, change):
    """The tiny run's model with ``change(info)`` applied to its header."""
    from muse_gan import checkpoint as ckpt

    tensors, info = ckpt.load_checkpoint(tiny_run / "model.safetensors")
    change(info)
    info.pop("format"), info.pop("version")
    path = tmp_path / "doctored.safetensors"
    ckpt.save_checkpoint(path, tensors, info)
    return path


@pytest.mark.parametrize("change, words", [
    (lambda info: info.pop("modality"), ["has no modality"]),
    (lambda info: info.update(modality="video"), ["unknown modality 'video'", "audio, image, midi, text"]),
    (lambda info: info.update(adapter=[1, 2]), ["has no adapter"]),
    (lambda info: info["adapter"].update(colour="red"), ["unknown key 'midi.colour'"]),
    (lambda info: info["adapter"].update(steps_per_beat="four"), ["midi.steps_per_beat", "expected int"]),
    (lambda info: info["config"]["model"].update(family="diffusion"), ["unknown model family 'diffusion'"]),
    (lambda info: info["config"]["model"].update(hidden=10**12), []),  # built on the meta device: no memory taken
    (lambda info: info["config"]["model"].update(hidden=8), ["weights do not fit"]),
    (lambda info: info["config"]["train"].update(lr=[]), ["train.lr", "expected float"]),
])
def test_a_doctored_model_file_is_one_error_naming_it(tiny_run, tmp_path, change, words):
    path = doctored(tiny_run, tmp_path, change)
    with pytest.raises(MuseError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for word in words:
        assert word in message


class _Payload:
    """A pickle that, if it were ever unpickled, would create ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("name", ["model.safetensors", "model.pt"])
def test_loading_a_pickle_runs_no_code_from_it(tmp_path, name):
    import torch

    path, marker = tmp_path / name, tmp_path / "the payload ran"
    torch.save({"model": _Payload(marker)}, path)
    with pytest.raises(MuseError, match=f"^{path}: not a muse_gan checkpoint"):
        load(path)
    assert not marker.exists()


def test_a_truncated_model_file_is_one_error_naming_it(tiny_run, tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes((tiny_run / "model.safetensors").read_bytes()[:5000])
    with pytest.raises(MuseError, match=f"^{path}: not a muse_gan checkpoint"):
        load(path)
