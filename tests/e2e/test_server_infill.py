"""`muse serve`'s /infill and /harmonize, on a real server process: listed where a model can
fill, the library's bytes (which keep the rest of the clip: tests/e2e/test_infill.py), the
melody kept, the hard constraints kept (and the command line's bytes for them), and refusals
as one line naming the field."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from muse_gan.modalities.midi.constraints import Constraints
from tests.serving import Server

from ..unit.test_cli import muse

DATA = Path(__file__).parents[2] / "data"
CLIP = DATA / "my_midi" / "bwv11.6.mid"
MIDI = base64.b64encode(CLIP.read_bytes()).decode()


@pytest.fixture(scope="module")
def server():
    running = Server("--models", "bach-coconet,bach-rnn", "-q")
    yield running
    running.stop()


def test_models_list_infill_and_harmonize_where_the_model_fills(server):
    _, _, body = server.request("GET", "/models")
    models = {entry["name"]: entry for entry in json.loads(body)["models"]}
    assert {"infill", "harmonize"} <= set(models["bach-coconet"]["endpoints"])
    assert not {"infill", "harmonize"} & set(models["bach-rnn"]["endpoints"])


def test_infill_answers_the_librarys_bytes(server):
    import muse_gan

    request = {"model": "bach-coconet", "clip": {"midi": MIDI}, "bars": "2-3", "seed": 4}
    status, headers, data = server.post("/infill", request | {"tracks": "alto,tenor"})
    model = muse_gan.load("bach-coconet")
    piece = model.infill(str(CLIP), bars=(2, 3), tracks="alto,tenor", seed=4)
    assert status == 200 and headers["x-muse-seed"] == "4"
    assert data == piece.file_bytes(".mid")
    notes = json.loads(server.post("/infill", request | {"format": "notes"})[2])["notes"]
    assert {note["voice"] for note in notes} == {0, 1, 2, 3}


def test_harmonize_keeps_the_melody(server):
    melody = [
        {"pitch": pitch, "start": 2 * n, "end": 2 * n + 2}
        for n, pitch in enumerate([72, 74, 76, 74, 72, 71, 72, 67])
    ]
    request = {"model": "bach-coconet", "melody": {"notes": melody, "tempo": 90}, "seed": 1}
    status, _, body = server.post("/harmonize", request | {"format": "notes"})
    assert status == 200
    notes = json.loads(body)["notes"]
    assert [(n["pitch"], n["start"], n["end"]) for n in notes if n["voice"] == 0] == [
        (note["pitch"], note["start"], note["end"]) for note in melody
    ]
    assert {n["voice"] for n in notes} == {0, 1, 2, 3}


def test_refusals_name_the_field(server):
    clip = {"midi": MIDI}
    assert server.error("/infill", {"clip": clip, "bars": "3-9"}) == (
        400,
        "bars 3-9: the clip has 4 bars (1-4)",
    )
    status, line = server.error("/infill", {"clip": clip, "bars": "2", "tracks": "viola"})
    assert status == 400 and line.startswith("tracks viola: the model has no such track")
    status, line = server.error("/infill", {"model": "bach-rnn", "clip": clip, "bars": "2"})
    assert status == 400 and "cannot infill" in line and "model bach-coconet" in line


def test_models_list_the_constraints_under_infill_and_harmonize(server):
    _, _, body = server.request("GET", "/models")
    coconet = next(entry for entry in json.loads(body)["models"] if entry["name"] == "bach-coconet")
    for endpoint in ("infill", "harmonize"):
        listed = coconet["endpoints"][endpoint]
        for name in ("key", "scale", "ranges", "density", "chords", "polyphony"):
            assert listed[name] == coconet["controls"][name]  # as compose lists them
        assert listed["passing"]["type"] == "boolean" and listed["key"]["type"] == "text"


def test_infill_keeps_the_key_asked_as_the_command_line_does(server, tmp_path):
    in_scale = Constraints.parse(key="Eb major").scale
    request = {"model": "bach-coconet", "clip": {"midi": MIDI}, "bars": "2-3", "key": "Eb major"}
    for seed in (4, 5):
        status, _, body = server.post("/infill", request | {"seed": seed, "format": "notes"})
        assert status == 200
        notes = json.loads(body)["notes"]
        new = [note["pitch"] for note in notes if 4 <= note["start"] < 12]  # bars 2-3 in 4/4
        assert new and all(pitch % 12 in in_scale for pitch in new), new
    out = tmp_path / "infilled.mid"
    result = muse("infill", CLIP, "--bars", "2-3", "--key", "Eb major", "--seed", 5, "-o", out)
    assert result.exit_code == 0, result.output
    assert server.post("/infill", request | {"seed": 5})[2] == out.read_bytes()


def test_harmonize_keeps_the_constraints_asked(server):
    melody = [{"pitch": p, "start": n, "end": n + 1} for n, p in enumerate([72, 74, 76, 77])]
    request = {"model": "bach-coconet", "melody": {"notes": melody}, "seed": 2, "format": "notes"}
    asked = {"key": "C major", "ranges": "bass=48-60", "polyphony": "1"}
    status, _, body = server.post("/harmonize", request | asked)
    assert status == 200
    under = [note for note in json.loads(body)["notes"] if note["voice"] > 0]
    assert under and all(note["pitch"] % 12 in Constraints.parse(key="C").scale for note in under)
    assert all(48 <= note["pitch"] <= 60 for note in under if note["voice"] == 3)


def test_a_constraint_that_cannot_be_read_or_taken_is_one_line(server):
    request = {"model": "bach-coconet", "clip": {"midi": MIDI}, "bars": "2"}
    assert server.error("/infill", request | {"key": "H minor"}) == (
        400,
        "key H minor: 'H' does not start with a note name (C, F#, Bb)",
    )
    assert server.error("/infill", request | {"key": 5}) == (422, "key: should be a string, not 5")
    status, line = server.error("/infill", request | {"mood": "sunny"})
    assert status == 422 and line.startswith("mood: bach-coconet takes no such control on /infill")
    melody = {"notes": [{"pitch": 72, "start": 0, "end": 4}]}
    status, line = server.error("/harmonize", {"melody": melody, "chords": "C | Xq7"})
    assert status == 400 and line.startswith("chords") and "\n" not in line, line


def test_the_python_client_infills_and_harmonizes(server):
    import muse_gan
    from muse_gan.client import Client, Note

    client = Client(server.url)
    answer = client.infill(CLIP.read_bytes(), "2-3", "bach-coconet", "midi", tracks="alto", seed=4)
    model = muse_gan.load("bach-coconet")
    assert answer.seed == 4 and answer.model == "bach-coconet"
    assert answer.data == model.infill(str(CLIP), bars=(2, 3), tracks="alto", seed=4).file_bytes(
        ".mid"
    )
    melody = [Note(pitch, 2 * n, 2 * n + 2) for n, pitch in enumerate([72, 74, 76, 74, 72, 67])]
    harmony = client.harmonize(melody, "bach-coconet", seed=1, density="alto=2, tenor=2, bass=2")
    assert [(n.pitch, n.start, n.end) for n in harmony.notes if n.voice == 0] == [
        (note.pitch, note.start, note.end) for note in melody
    ]
    for voice in (1, 2, 3):  # two notes started in each bar of 4/4
        starts = [n.start for n in harmony.notes if n.voice == voice]
        per_bar = [sum(4 * bar <= start < 4 * bar + 4 for start in starts) for bar in range(3)]
        assert per_bar == [2, 2, 2], starts
