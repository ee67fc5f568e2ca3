"""Rendering MIDI files to sound from the command line (`muse render`). Sound models trained on
the built-in notes: tests/e2e/test_audio.py."""

import io
import shutil

import numpy as np
import pytest
import soundfile

from muse_gan.modalities.midi.render import find_soundfont

from ..conftest import write_quartet
from .test_cli import assert_one_clear_line, muse


def wav(data: bytes):
    samples, rate = soundfile.read(io.BytesIO(data))
    return samples, rate


@pytest.mark.parametrize("synth", ["builtin", "fluidsynth"])
def test_render_a_midi_file_to_wav(tmp_path, synth):
    if synth == "fluidsynth" and not (shutil.which("fluidsynth") and find_soundfont()):
        pytest.skip(
            "FluidSynth or a General MIDI SoundFont is not installed (.ci/run installs both)"
        )
    song = write_quartet(tmp_path / "song.mid", bars=2, tempo=120)
    result = muse("render", song, "--synth", synth, "-o", tmp_path / "song.wav")
    assert result.exit_code == 0, result.output
    samples, rate = wav((tmp_path / "song.wav").read_bytes())
    # two 4/4 bars at 120 qpm, plus the release
    assert rate == 22050 and 4.0 <= len(samples) / rate <= 6.0
    assert 0.01 < np.abs(samples).max() <= 0.9
    assert muse("render", song, "--synth", synth, "-o", tmp_path / "again.wav").exit_code == 0
    assert (tmp_path / "again.wav").read_bytes() == (tmp_path / "song.wav").read_bytes()


def test_render_refuses_what_it_cannot_play(tmp_path):
    (tmp_path / "broken.mid").write_bytes(b"MThd nonsense")
    assert_one_clear_line(
        muse("render", tmp_path / "broken.mid", "-o", tmp_path / "x.wav"),
        "broken.mid",
        "not a readable MIDI file",
    )
    song = write_quartet(tmp_path / "song.mid")
    assert_one_clear_line(muse("render", song, "-o", tmp_path / "x.mp3"), "unknown format '.mp3'")
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.mp3").exists()
