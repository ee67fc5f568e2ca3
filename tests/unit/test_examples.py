"""The examples are code users copy: they must keep working."""

import importlib.util
import sys
from pathlib import Path

import mido
import pretty_midi
import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compose_for_daw_writes_a_new_clip_next_to_the_project(tmp_path):
    example = load_example("compose_for_daw")
    project = tmp_path / "My Song"
    first = example.write_clip(project, bars=2, seed=7, tempo=92, model="bach-gan")
    second = example.write_clip(project, bars=2, seed=8, tempo=92, model="bach-gan")
    assert first == project / "muse_clips" / "clip_7.mid" and first != second
    clip = pretty_midi.PrettyMIDI(str(first))
    assert round(clip.get_tempo_changes()[1][0]) == 92
    assert clip.get_end_time() <= 2 * 4 * 60 / 92 + 1e-6
    # to the bar line, for the DAW's loop (MIDI keeps the tempo in whole microseconds a beat)
    assert mido.MidiFile(first).length == pytest.approx(2 * 4 * 60 / 92, abs=1e-4)


def test_compose_for_daw_from_the_command_line(tmp_path, monkeypatch, capsys):
    example = load_example("compose_for_daw")
    monkeypatch.setattr(
        sys,
        "argv",
        ["compose_for_daw.py", str(tmp_path), "--bars", "1", "--seed", "3", "--model", "bach-gan"],
    )
    example.main()
    assert "clip_3.mid" in capsys.readouterr().out
    assert (tmp_path / "muse_clips" / "clip_3.mid").exists()
