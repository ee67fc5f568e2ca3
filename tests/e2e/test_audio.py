"""Audio end to end: the built-in notes, each family trained a few steps on them, saved,
reloaded and sampled as WAV and spectrogram PNG; a tiny MIDI model composing straight to WAV.
Rendering MIDI files from the command line: tests/unit/test_audio.py."""

import io
import json

import numpy as np
import pytest
import soundfile
import torch

import muse_gan
from muse_gan.modalities.audio.notes import (
    NOTE_PITCHES,
    NOTE_PROGRAMS,
    NOTE_VELOCITIES,
    notes_files,
)
from muse_gan.modalities.audio.pitch import note_pitch, pitch_accuracy

from ..conftest import train_family_runs
from ..unit.test_cli import assert_one_clear_line, muse
from .test_images import animated, png

TINY_AUDIO = [
    'data.modality="audio"',
    'data.source="notes"',
    "data.limit=72",
    "data.valid_fraction=0.2",
    "audio.labels=true",
    "audio.frames=16",
    "audio.mels=32",
    "audio.n_fft=512",
    "audio.griffin_lim=4",
    "model.channels=4",
    "model.latent=8",
    "model.hidden=16",
    "model.layers=1",
    "train.steps=4",
    "train.batch_size=8",
    "train.eval_every=2",
    "train.checkpoint_every=2",
    "train.sample_every=4",
    "train.log_every=2",
    'train.device="cpu"',
]
FAMILY_SETTINGS = {"gan": ['gan.loss="hinge"', "gan.critic_steps=1"], "vae": [], "rnn": []}
CLIP = 16 * 256  # frames × hop samples


@pytest.fixture(scope="module", params=list(FAMILY_SETTINGS))
def audio_run(request, tmp_path_factory):
    # the data are written and prepared once, in the session's cache, for every family
    return train_family_runs(
        tmp_path_factory, "notes", TINY_AUDIO, request.param, FAMILY_SETTINGS[request.param]
    )


def wav(data: bytes):
    samples, rate = soundfile.read(io.BytesIO(data))
    return samples, rate


def test_the_built_in_notes_are_labelled_by_their_pitch():
    files = notes_files(16000)
    assert len(files) == len(NOTE_PITCHES) * len(NOTE_PROGRAMS) * len(NOTE_VELOCITIES)
    assert {path.parent.name for path in files[:36]} == {str(pitch) for pitch in NOTE_PITCHES}
    some = files[5::97]  # a spread of pitches and instruments
    heard = [note_pitch(soundfile.read(str(path))[0], 16000) for path in some]
    assert pitch_accuracy(heard, [int(path.parent.name) for path in some]) >= 0.8


def test_training_writes_a_model_and_samples_as_sound_and_picture(audio_run):
    _family, run = audio_run
    assert (run / "model.safetensors").exists()
    samples, rate = wav((run / "samples" / "step_000004.wav").read_bytes())
    # eight notes, a quarter second apart
    assert rate == 16000 and len(samples) == 8 * CLIP + 7 * 4000
    assert png(run / "samples" / "step_000004.png").mode == "RGB"


def test_sample_a_pitch_as_wav_png_or_one_file_each(audio_run, tmp_path):
    _family, run = audio_run
    result = muse(
        "sample",
        "--model",
        run,
        "--modality",
        "audio",
        "--pitch",
        60,
        "-n",
        2,
        "--seed",
        1,
        "-o",
        tmp_path / "c4.wav",
    )
    assert result.exit_code == 0, result.output
    samples, _rate = wav((tmp_path / "c4.wav").read_bytes())
    assert len(samples) == 2 * CLIP + 4000 and np.isfinite(samples).all()
    assert (
        muse(
            "sample",
            "--model",
            run,
            "--pitch",
            60,
            "-n",
            2,
            "--seed",
            1,
            "-o",
            tmp_path / "again.wav",
        ).exit_code
        == 0
    )
    assert (tmp_path / "again.wav").read_bytes() == (tmp_path / "c4.wav").read_bytes()
    assert (
        muse("sample", "--model", run, "--pitch", 60, "-n", 2, "-o", tmp_path / "mel.png").exit_code
        == 0
    )
    assert png(tmp_path / "mel.png").size == (2 * 2 * 16, 2 * 32)
    assert muse("sample", "--model", run, "-n", 2, "-o", f"{tmp_path}/each/").exit_code == 0
    assert sorted(path.name for path in (tmp_path / "each").iterdir()) == [
        "sample_001.wav",
        "sample_002.wav",
    ]


def test_the_pitch_asked_for_changes_the_note(audio_run):
    model = muse_gan.load(audio_run[1])
    assert model.adapter.classes[0] == "48" and len(model.adapter.classes) == 36
    low, high = (model.sample(2, seed=0, label=pitch).tensors for pitch in ("48", "72"))
    assert low.shape == (2, 1, 16, 32) and not torch.equal(low, high)
    assert_one_clear_line(
        muse("sample", "--model", audio_run[1], "--pitch", 30), "--label 30", "48, 49"
    )


def test_animate_walks_through_sounds_as_a_gif_of_spectrograms(audio_run, tmp_path):
    family, run = audio_run
    gif = animated(run, family, "60", tmp_path / "walk.gif", 6)
    # two pixels per cell, time across, mels up, as sample's PNGs
    assert gif is None or gif.size == (
        2 * 16,
        2 * 32,
    )


def test_compose_straight_to_wav(tiny_run, tmp_path):
    result = muse(
        "compose", "--model", tiny_run, "--bars", 2, "--seed", 1, "-o", tmp_path / "piece.wav"
    )
    assert result.exit_code == 0, result.output
    samples, rate = wav((tmp_path / "piece.wav").read_bytes())
    assert len(samples) / rate >= 2 * 4 * 60 / 100  # two 4/4 bars at the tiny model's 100 qpm


def test_eval_judges_notes_by_pitch_and_spectrum(audio_run, tmp_path):
    family, run = audio_run
    # the tiny run's few files all hash into its training part (the split goes by file name)
    result = muse(
        "eval", "--model", run, "--split", "train", "-n", 6, "--json", tmp_path / "report.json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert {"spectral_centroid_hz", "mel_level", "pitch_accuracy", "ndb"} <= set(report["metrics"])
    # real notes have the pitch of their folder; through the tiny 32-band spectrogram and 4 Griffin-Lim
    # iterations some go astray (full size: all 36 held-out notes within a semitone, benchmarks/quality.md)
    assert report["metrics"]["pitch_accuracy"]["reference"] >= 0.6
    assert (report["likelihood"] is None) == (family == "gan")
