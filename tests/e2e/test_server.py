"""`muse serve` as a real process on a free localhost port, spoken to over HTTP: every endpoint,
bad requests, limits, the token, concurrency, shutdown and a second server on a taken port."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from muse_gan.client import (
    Client,
    Note,
    ServerError,
    continuation_request,
    notes_from_ticks,
)
from tests.fuzz_inputs import midi_edge_cases
from tests.serving import Server

DATA = Path(__file__).parents[2] / "data"
PRIMER = base64.b64encode((DATA / "primer.mid").read_bytes()).decode()
MELODY = [Note(72, 0, 1), Note(74, 1, 2), Note(76, 2, 4), Note(74, 4, 8)]


@pytest.fixture(scope="module")
def server():
    running = Server("--models", "bach-rnn,bach-gan,bach-vae", "-q")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def library():
    import muse_gan

    return {name: muse_gan.load(name) for name in ("bach-rnn", "bach-gan", "bach-vae")}


def notes_json(notes):
    return [note.__dict__ for note in notes]


# what the server offers


def test_models_lists_each_models_controls_from_its_capabilities(server):
    status, _, body = server.request("GET", "/models")
    models = {entry["name"]: entry for entry in json.loads(body)["models"]}
    assert status == 200 and list(models) == ["bach-rnn", "bach-gan", "bach-vae"]
    assert "decode" in models["bach-gan"]["controls"]
    assert "decode" not in models["bach-rnn"]["controls"]
    assert "interpolate" in models["bach-vae"]["endpoints"]
    assert "interpolate" not in models["bach-rnn"]["endpoints"]
    assert models["bach-gan"]["endpoints"]["continue"]["primer"].startswith("accompanies")
    assert models["bach-rnn"]["controls"]["bars"]["max"] == 64
    assert models["bach-rnn"]["voices"] == ["Soprano", "Alto", "Tenor", "Bass"]


def test_the_openapi_schema_names_every_endpoint(server):
    status, _, body = server.request("GET", "/openapi.json")
    paths = json.loads(body)["paths"]
    assert status == 200
    assert {"/models", "/compose", "/continue", "/interpolate", "/render"} <= set(paths)


def test_the_page_and_its_script_are_served(server):
    status, headers, body = server.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"app.js" in body
    assert server.request("GET", "/static/app.js")[0] == 200


# making music


def test_compose_answers_the_librarys_own_bytes_every_time(server, library):
    request = {"model": "bach-rnn", "bars": 4, "seed": 7}
    status, headers, first = server.post("/compose", request)
    assert status == 200 and headers["content-type"] == "audio/midi"
    assert headers["x-muse-seed"] == "7"
    assert first == server.post("/compose", request)[2]
    assert first == library["bach-rnn"].compose(bars=4, seed=7).file_bytes(".mid")


def test_compose_without_a_seed_answers_the_seed_it_used(server, library):
    status, headers, data = server.post("/compose", {"bars": 2})
    seed = int(headers["x-muse-seed"])
    assert status == 200
    assert data == library["bach-rnn"].compose(bars=2, seed=seed).file_bytes(".mid")


def test_compose_answers_notes_timed_in_beats(server):
    status, _, body = server.post("/compose", {"bars": 2, "seed": 1, "format": "notes"})
    piece = json.loads(body)
    assert status == 200 and piece["bars"] == 2 and piece["meter"] == "4/4"
    assert piece["seed"] == 1 and piece["model"] == "bach-rnn"
    assert piece["notes"] and all(0 <= n["start"] < n["end"] <= 8 for n in piece["notes"])
    assert {note["voice"] for note in piece["notes"]} <= {0, 1, 2, 3}


def test_compose_answers_a_wav(server):
    status, headers, data = server.post("/compose", {"bars": 1, "seed": 1, "format": "wav"})
    assert status == 200 and headers["content-type"] == "audio/wav"
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def test_gan_controls_pass_through(server, library):
    request = {"model": "bach-gan", "bars": 4, "seed": 3, "decode": "bernoulli", "transpose": 2}
    data = server.post("/compose", request)[2]
    expected = library["bach-gan"].compose(bars=4, seed=3, decode="bernoulli", transpose=2)
    assert data == expected.file_bytes(".mid")


def test_constraints_pass_through_to_every_family(server, library):
    asked = {"key": "D minor", "ranges": "soprano=62-74", "polyphony": "1", "density": "3"}
    for name in ("bach-rnn", "bach-gan", "bach-vae"):
        data = server.post("/compose", {"model": name, "bars": 1, "seed": 2} | asked)[2]
        assert data == library[name].compose(bars=1, seed=2, **asked).file_bytes(".mid")
    request = {"bars": 3, "seed": 1, "primer": {"midi": PRIMER}, "chords": "Dm | A7 | Dm"}
    data = server.post("/continue", request)[2]
    expected = library["bach-rnn"].compose(
        bars=3, seed=1, primer=str(DATA / "primer.mid"), chords="Dm | A7 | Dm"
    )
    assert data == expected.file_bytes(".mid")
    assert server.error("/compose", {"key": "H minor"}) == (
        400,
        "key H minor: 'H' does not start with a note name (C, F#, Bb)",
    )


def test_a_gan_harmonizes_without_constraints_and_says_so(server):
    _, _, body = server.request("GET", "/models")
    gan = next(entry for entry in json.loads(body)["models"] if entry["name"] == "bach-gan")
    assert list(gan["endpoints"]["harmonize"]) == ["melody"]  # no constraints listed
    request = {"model": "bach-gan", "melody": {"notes": notes_json(MELODY)}, "key": "C major"}
    assert server.error("/harmonize", request) == (
        422,
        "key: bach-gan takes no such control on /harmonize (its controls: none beyond its fields)",
    )


def test_continue_a_midi_clip_as_the_library_does(server, library):
    request = {"bars": 4, "seed": 1, "primer": {"midi": PRIMER}}
    status, _, data = server.post("/continue", request)
    expected = library["bach-rnn"].compose(bars=4, seed=1, primer=str(DATA / "primer.mid"))
    assert status == 200 and data == expected.file_bytes(".mid")


def test_continue_a_notes_clip_starts_with_it(server):
    clip = {"notes": notes_json(MELODY), "tempo": 90}
    status, _, body = server.post(
        "/continue", {"bars": 4, "seed": 2, "primer": clip, "format": "notes"}
    )
    piece = json.loads(body)
    soprano = [(n["pitch"], n["start"]) for n in piece["notes"] if n["voice"] == 0]
    assert status == 200 and piece["tempo"] == 90
    assert soprano[:3] == [(72, 0.0), (74, 1.0), (76, 2.0)]


def test_a_gan_accompanies_the_melody_it_is_given(server):
    clip = {"notes": notes_json(MELODY)}
    body = server.post(
        "/continue", {"model": "bach-gan", "bars": 4, "seed": 2, "primer": clip, "format": "notes"}
    )[2]
    piece = json.loads(body)
    soprano = [(n["pitch"], n["start"], n["end"]) for n in piece["notes"] if n["voice"] == 0]
    assert soprano == [(n.pitch, n.start, n.end) for n in MELODY]
    assert any(note["voice"] > 0 for note in piece["notes"])


def test_interpolate_between_two_clips(server, library):
    end = base64.b64encode((DATA / "my_midi" / "bwv11.6.mid").read_bytes()).decode()
    request = {
        "model": "bach-vae",
        "start": {"midi": PRIMER},
        "end": {"midi": end},
        "steps": 3,
        "seed": 0,
    }
    status, _, data = server.post("/interpolate", request)
    vae = library["bach-vae"]
    pieces = vae.interpolate(str(DATA / "primer.mid"), str(DATA / "my_midi" / "bwv11.6.mid"), 3)
    assert status == 200 and data == vae.join(pieces).file_bytes(".mid")


def test_render_plays_a_clip_the_same_way_every_time(server):
    request = {"clip": {"notes": notes_json(MELODY), "tempo": 120}, "synth": "builtin"}
    status, headers, data = server.post("/render", request)
    assert status == 200 and headers["content-type"] == "audio/wav" and data[:4] == b"RIFF"
    assert data == server.post("/render", request)[2]


# the client module against the real server


def test_the_client_composes_continues_and_renders(server):
    client = Client(server.url)
    assert "interpolate" in client.models()["bach-vae"]["endpoints"]
    answer = client.compose(bars=2, seed=5)
    assert answer.seed == 5 and answer.bars == 2 and answer.notes
    longer = client.continue_clip(MELODY, bars=4, seed=5, tempo=100)
    assert longer.tempo == 100 and longer.notes[0].pitch == 72
    assert client.compose(bars=1, seed=5, format="midi").data[:4] == b"MThd"
    assert client.render(MELODY)[:4] == b"RIFF"
    taken, ignored = client.understood("bach-rnn", {"tempo": 90, "mood": "sunny", "seed": None})
    assert taken == {"tempo": 90} and ignored == {"mood": "sunny"}
    with pytest.raises(ServerError, match="bars: 99") as refused:
        client.compose(bars=99)
    assert refused.value.status == 422


def test_the_reaper_scripts_request_continues_the_selection_in_the_projects_settings(server):
    """What examples/reaper/muse_continue.py does between REAPER's calls: notes read as
    (pitch, start, end, velocity, channel) in project quarter notes, cut to the time selection,
    sent with the project's settings less those the model does not take."""
    client = Client(server.url)
    events = [(72, 8.0, 9.0, 100, 0), (74, 9.0, 10.0, 100, 0), (76, 10.0, 14.0, 100, 0)]
    notes = notes_from_ticks(events, 1.0, start_tick=8.0, end_tick=12.0)  # selection: 1 bar
    daw = {"tempo": 84.0, "meter": "4/4", "key": "G major", "seed": 11, "temperature": 1.0}
    daw["first_bar"] = 3  # the selection starts at quarter note 8 of the project
    controls, ignored = continuation_request(client, None, notes, 2, daw)
    takes = client.models()["bach-rnn"]["controls"]  # a meter or key once the library has them
    sent = {
        "tempo": 84.0,
        "meter": "4/4",
        "key": "G major",
        "seed": 11,
        "temperature": 1.0,
        "first_bar": 3,
        "bars": 3,
    }
    assert controls == {name: value for name, value in sent.items() if name in takes}
    assert takes["first_bar"] == {"type": "integer", "min": 1, "max": 100_000, "default": 1}
    assert ignored == {name: value for name, value in sent.items() if name not in takes}
    common, _ = continuation_request(client, None, notes, 2, daw | {"meter": "C"})
    assert common == controls  # a project in common time asks in 4/4
    answer = client.continue_clip(notes, None, **controls)
    assert answer.bars == 3 and answer.tempo == 84.0 and answer.seed == 11
    assert [(n.pitch, n.start) for n in answer.notes if n.voice == 0][:3] == [
        (72, 0.0),
        (74, 1.0),
        (76, 2.0),
    ]


def test_the_client_says_when_no_server_answers():
    with pytest.raises(ServerError, match="no muse server answers") as refused:
        Client("http://127.0.0.1:9", timeout=5).models()
    assert refused.value.status == 0


# bad requests: one line naming the field, and the server goes on


BAD = [
    ("/compose", {"bars": 999}, 422, "bars: 999 is not from 1 to 64"),
    ("/compose", {"bars": "many"}, 422, "bars: "),
    ("/compose", {"seed": -1}, 422, "seed: "),
    ("/compose", {"temperature": 0}, 422, "temperature: "),
    ("/compose", {"tempo": 1000}, 422, "tempo: "),
    ("/compose", {"format": "mp3"}, 422, "format: "),
    ("/compose", {"model": "nope"}, 404, "model: 'nope' is not served here"),
    ("/compose", {"mood": "sunny"}, 422, "mood: bach-rnn takes no such control"),
    ("/compose", {"velocity": "loud"}, 422, 'velocity: should be a whole number, not "loud"'),
    ("/compose", {"decode": "bernoulli"}, 400, "decode bernoulli: only GAN models"),
    ("/compose", {"model": "bach-gan", "transpose": 24, "seed": 1}, 400, "transpose 24: "),
    ("/continue", {"bars": 2}, 422, "primer: Field required"),
    ("/continue", {"primer": {"notes": []}}, 400, "primer: no notes"),
    ("/continue", {"primer": {"midi": "%%%"}}, 400, "primer.midi: not base64"),
    ("/continue", {"primer": {"midi": "aGVsbG8="}}, 400, "primer.midi: not a standard MIDI"),
    ("/continue", {"primer": {"midi": PRIMER, "notes": []}}, 422, "primer: give either"),
    (
        "/continue",
        {"primer": {"notes": [{"pitch": 60, "start": 2, "end": 1}]}},
        422,
        "primer.notes.0: end 1.0 is not after start 2.0",
    ),
    (
        "/continue",
        {"primer": {"notes": [{"pitch": 200, "start": 0, "end": 1}]}},
        422,
        "primer.notes.0.pitch: ",
    ),
    (
        "/continue",
        {"bars": 1, "primer": {"midi": PRIMER}},
        400,
        "primer: it is 2 bars long; bars must",
    ),
    (
        "/interpolate",
        {"model": "bach-rnn", "start": {"midi": PRIMER}, "end": {"midi": PRIMER}},
        400,
        "bach-rnn: an RNN model has no latent space",
    ),
    ("/render", {"clip": {"notes": [{"pitch": 60, "start": 0, "end": 9999}]}}, 400, "clip: lasts"),
]


@pytest.mark.parametrize(("path", "body", "status", "line"), BAD)
def test_a_bad_request_is_one_line_naming_the_field(server, path, body, status, line):
    got_status, message = server.error(path, body)
    assert (got_status, message[: len(line)]) == (status, line), message
    assert "\n" not in message


def test_bodies_that_are_not_json_objects_are_refused(server):
    status, _, body = server.request("POST", "/compose", raw=b'{"bars": 2')
    assert status == 422 and json.loads(body)["error"].startswith("body: not valid JSON")
    status, _, body = server.request("POST", "/compose", raw=b"[1, 2]")
    assert status == 422 and json.loads(body)["error"].startswith("body: send a JSON object")


def test_a_page_elsewhere_renamed_to_this_address_is_refused(server):
    status, _, body = server.request("GET", "/models", headers={"Host": "evil.example:80"})
    assert status == 421 and "Host: evil.example:80" in json.loads(body)["error"]


HOSTILE = {name: data for name, data in midi_edge_cases().items() if name != "3000 tracks"}


@pytest.mark.parametrize("name", HOSTILE)  # (3000 parts is answered, 200, in seconds)
def test_a_hostile_clip_is_answered_or_refused_in_one_line(server, name):
    clip = {"midi": base64.b64encode(HOSTILE[name]).decode()}
    status, _, body = server.post("/continue", {"bars": 4, "seed": 1, "primer": clip})
    if status != 200:
        line = json.loads(body)["error"]
        assert 400 <= status < 500 and line.startswith("primer.midi: ") and "\n" not in line
    assert server.request("GET", "/models")[0] == 200


def test_the_server_answers_after_refusals(server):
    assert server.post("/compose", {"bars": 1, "seed": 0})[0] == 200
    assert server.process.poll() is None


# concurrency


def test_requests_at_once_on_one_model_and_several_get_their_own_answers(server):
    requests = [
        {"model": model, "bars": 2, "seed": seed, "decode": decode}
        for model, decode in (("bach-gan", "bernoulli"), ("bach-gan", "threshold"))
        for seed in range(3)
    ] + [
        {"model": model, "bars": 2, "seed": seed}
        for model in ("bach-rnn", "bach-vae")
        for seed in range(3)
    ]
    alone = [server.post("/compose", request)[2] for request in requests]
    with ThreadPoolExecutor(len(requests)) as pool:
        together = list(pool.map(lambda request: server.post("/compose", request), requests))
    assert [status for status, _, _ in together] == [200] * len(requests)
    assert [data for _, _, data in together] == alone


def test_a_long_request_holds_up_its_own_model_only(server):
    answered = {}

    def ask(name: str, model: str, bars: int) -> None:
        status = server.post("/compose", {"model": model, "bars": bars, "seed": 1})[0]
        answered[name] = (status, time.monotonic())

    long = threading.Thread(target=ask, args=("long", "bach-rnn", 32))
    long.start()
    time.sleep(0.5)  # the long request is in bach-rnn's hands
    behind = threading.Thread(target=ask, args=("same model", "bach-rnn", 1))
    behind.start()
    ask("other model", "bach-vae", 1)
    assert "long" not in answered  # another model answered meanwhile
    long.join(120)
    behind.join(120)
    assert [answered[name][0] for name in ("long", "same model", "other model")] == [200] * 3
    assert answered["same model"][1] > answered["long"][1]  # one model: one request at a time


# limits, the token, and the command line's refusals


@pytest.fixture(scope="module")
def strict():
    running = Server(
        "--models", "bach-rnn", "--max-bars", "16", "--max-notes", "3", "--max-clip-bytes", "100",
        "--timeout", "0.1", "--token", "s3cret", "-q",
    )  # fmt: skip
    yield running
    running.stop()


BEARER = {"Authorization": "Bearer s3cret"}


def test_every_request_needs_the_token(strict):
    status, _, body = strict.request("GET", "/models")
    assert status == 401 and json.loads(body)["error"].startswith("token: missing or wrong")
    assert strict.request("GET", "/models", headers={"Authorization": "Bearer nope"})[0] == 401
    assert strict.request("GET", "/models", headers=BEARER)[0] == 200
    assert strict.request("GET", "/?token=s3cret")[0] == 200
    assert strict.request("GET", "/openapi.json")[0] == 401


def test_limits_name_the_field_and_the_limit(strict):
    four_notes = [{"pitch": 60 + n, "start": n, "end": n + 1} for n in range(4)]
    cases = [
        ("/compose", {"bars": 17}, 422, "bars: 17 is not from 1 to 16"),
        ("/continue", {"primer": {"notes": four_notes}}, 413, "primer.notes: 4 notes, over the server's limit of 3"),
        ("/continue", {"primer": {"midi": PRIMER}}, 413, "primer.midi: about"),
    ]  # fmt: skip
    for path, body, status, line in cases:
        got, message = strict.error(path, {"bars": 2, **body}, headers=BEARER)
        assert (got, message[: len(line)]) == (status, line)


def test_a_request_past_the_time_limit_is_answered_and_the_server_goes_on(strict):
    status, message = strict.error("/compose", {"bars": 16, "seed": 1}, headers=BEARER)
    assert status == 504 and message == "model: bach-rnn took longer than the server's time limit"
    assert strict.request("GET", "/models", headers=BEARER)[0] == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(strict):
    host, port = strict.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            b"POST /compose HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer s3cret\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{" % port.encode()
        )
        assert connection.recv(100).startswith(b"HTTP/1.1 413")


def muse_serve(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "muse_gan", "serve", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_server_on_the_same_port_is_one_line(server):
    port = server.url.rsplit(":", 1)[1]
    result = muse_serve("--port", port)
    assert result.returncode == 1
    assert (
        result.stderr
        == f"Error: --port {port}: already in use on 127.0.0.1 (another muse serve? stop it, or give --port N)\n"
    )


def test_another_machines_address_needs_allow_remote():
    result = muse_serve("--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "--host 0.0.0.0: not a loopback address" in result.stderr


def test_another_machines_address_with_allow_remote_is_served_with_a_warning():
    running = Server(
        "--host", "0.0.0.0", "--allow-remote", "--token", "far", "--models", "bach-rnn"
    )
    try:
        assert (
            "muse serve: warning: listening on 0.0.0.0, reachable from other machines; "
            "they need the token"
        ) in running.lines
        running.url = running.url.replace("0.0.0.0", "127.0.0.1")
        assert running.request("GET", "/models")[0] == 401
        assert running.request("GET", "/models", headers={"Authorization": "Bearer far"})[0] == 200
    finally:
        running.stop()


def test_a_model_that_does_not_compose_is_refused_at_start():
    result = muse_serve("--port", "0", "--models", "digits-gan")
    assert result.returncode == 1
    assert (
        result.stderr
        == "Error: --models digits-gan: a model of image; muse serve serves MIDI models\n"
    )


# shutdown


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_finishes_the_requests_in_flight_then_exits(stop):
    running = Server("--models", "bach-rnn", "-q")
    answers = []
    asking = threading.Thread(
        target=lambda: answers.append(running.post("/compose", {"bars": 8, "seed": 1}))
    )
    asking.start()
    time.sleep(0.5)  # the request is in the model's hands
    assert running.stop(stop) == 0
    asking.join(30)
    assert answers and answers[0][0] == 200 and answers[0][2][:4] == b"MThd"
    assert running.lines[-1] == "muse serve: stopped"
