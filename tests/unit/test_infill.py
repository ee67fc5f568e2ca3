"""Infill and harmonize refused before anything is drawn or written (tests/e2e/test_infill.py
fills): bars outside the clip, an empty or unknown track selection, a meter the model does not
know, a model that cannot fill. One clear line each, exit status 2, no file."""

import pretty_midi
import pytest

import muse_gan
from muse_gan.errors import MuseError
from muse_gan.modalities.midi.selection import parse_bars

from ..conftest import write_quartet
from .test_cli import assert_one_clear_line, muse


def refused(result, out, *words):
    assert result.exit_code == 2, result.output
    assert_one_clear_line(result, *words)
    assert not out.exists()


def test_bars_read_as_a_range_from_one():
    assert parse_bars("5-8") == (5, 8) and parse_bars("3") == (3, 3)
    for text, reason in (("x", "expected a bar"), ("4-2", "no later than"), ("0-2", "from 1")):
        with pytest.raises(MuseError, match=f"--bars {text}: .*{reason}"):
            parse_bars(text)


@pytest.mark.parametrize(
    "options, words",
    [
        (["--bars", "3-9"], ["--bars 3-9", "the clip has 4 bars (1-4)"]),
        (["--bars", "0-2"], ["--bars 0-2", "count from 1"]),
        (["--bars", "2", "--tracks", " , "], ["--tracks", "no track named", "Soprano"]),
        (["--bars", "2", "--tracks", "alto,viola"], ["--tracks viola", "no such track"]),
    ],
)
def test_a_selection_outside_the_clip_or_its_tracks_is_refused(tmp_path, options, words):
    clip = write_quartet(tmp_path / "clip.mid", bars=4)
    out = tmp_path / "out.mid"
    refused(muse("infill", clip, *options, "-o", out), out, *words)


def test_a_clip_in_a_meter_the_model_does_not_know_is_refused(tmp_path):
    clip = write_quartet(tmp_path / "waltz.mid", bars=4)
    piece = pretty_midi.PrettyMIDI(str(clip))
    piece.time_signature_changes = [pretty_midi.TimeSignature(3, 4, 0.0)]
    piece.write(str(clip))
    out = tmp_path / "out.mid"
    refused(muse("infill", clip, "--bars", "2", "-o", out), out, "it is in 3/4", "4/4 only")
    refused(muse("harmonize", clip, "-o", out), out, "MELODY", "it is in 3/4")


def test_a_model_that_cannot_fill_names_one_that_can(tmp_path):
    clip = write_quartet(tmp_path / "clip.mid", bars=4)
    out = tmp_path / "out.mid"
    result = muse("infill", clip, "--bars", "2", "--model", "bach-rnn", "-o", out)
    refused(result, out, "an RNN model cannot infill", "--model bach-coconet")
    result = muse("harmonize", clip, "--model", "bach-vae", "-o", out)
    refused(result, out, "a VAE model cannot harmonize", "--model bach-coconet")


def test_a_melody_outside_the_models_range_is_refused(tmp_path):
    melody = pretty_midi.PrettyMIDI()
    flute = pretty_midi.Instrument(73, name="Flute")
    flute.notes.append(pretty_midi.Note(90, 100, 0.0, 1.0))
    melody.instruments.append(flute)
    path, out = tmp_path / "high.mid", tmp_path / "out.mid"
    melody.write(str(path))
    refused(muse("harmonize", path, "-o", out), out, "MELODY", "span MIDI 100-100", "33-84")


def test_constraints_that_cannot_be_kept_are_refused(tmp_path):
    clip = write_quartet(tmp_path / "clip.mid", bars=4)
    out = tmp_path / "out.mid"
    refused(muse("harmonize", clip, "--key", "H", "-o", out), out, "--key H")
    result = muse("harmonize", clip, "--model", "bach-gan", "--key", "C", "-o", out)
    refused(result, out, "--key: a GAN model harmonizes without constraints")
    with pytest.raises(MuseError, match="^mode: not a constraint"):
        muse_gan.load("bach-coconet").infill(clip, bars=(2, 2), mode="dorian")
