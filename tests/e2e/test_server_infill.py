"""`muse serve`'s /infill and /harmonize, on a real server process: listed where a model can
fill, the library's bytes (which keep the rest of the clip: tests/e2e/test_infill.py), the
melody kept, and refusals as one line naming the field."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.serving import Server

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
