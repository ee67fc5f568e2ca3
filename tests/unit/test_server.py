"""The server's pieces that need no running server: clips in notes ⇄ pieces, messages naming a
request's fields, the controls read off compose's signature. (The server itself is tested as a
real process in tests/e2e/test_server.py.)"""

import re

import pytest

from muse_gan.errors import MuseError
from muse_gan.server import is_loopback
from muse_gan.server.app import field_line
from muse_gan.server.clips import Limits, Refused, clip_piece, notes_piece
from muse_gan.server.models import _kind, check_control
from muse_gan.server.schema import ClipIn


def test_notes_in_beats_become_parts_named_after_the_models_voices():
    clip = ClipIn(notes=[{"pitch": 60, "start": 1, "end": 2, "voice": 2}], tempo=120)
    piece = clip_piece(clip, "primer", Limits(), ("Soprano", "Alto", "Tenor", "Bass"))
    (part,) = piece.instruments
    assert part.name == "Tenor"
    assert (part.notes[0].start, part.notes[0].end) == (0.5, 1.0)  # beats at 120 per minute


def test_a_voice_the_model_lacks_is_numbered():
    piece = notes_piece(
        ClipIn(notes=[{"pitch": 60, "start": 0, "end": 1, "voice": 5}]).notes, 100.0
    )
    assert piece.instruments[0].name == "Voice 6"


def test_clips_over_the_limits_are_refused_naming_the_field():
    clip = ClipIn(notes=[{"pitch": 60, "start": n, "end": n + 1} for n in range(3)])
    with pytest.raises(
        Refused, match=r"^start.notes: 3 notes, over the server's limit of 2$"
    ) as refused:
        clip_piece(clip, "start", Limits(notes=2))
    assert refused.value.status == 413
    with pytest.raises(MuseError, match=r"^clip.midi: not base64$"):
        clip_piece(ClipIn(midi="@@@"), "clip", Limits())


@pytest.mark.parametrize(
    ("library", "server"),
    [
        ("--bars 999: must be a whole number", "bars 999: must be a whole number"),
        (
            "--primer <pretty_midi.pretty_midi.PrettyMIDI object at 0x7f00>: it is 2 bars long; --bars must be",
            "primer: it is 2 bars long; bars must be",
        ),
        ("--primer clip: no notes", "primer: no notes"),
        ("start clip: no notes", "start: no notes"),
        ("--top-k 3: no", "top_k 3: no"),
    ],
)
def test_library_messages_name_the_requests_fields(library, server):
    assert field_line(library) == server


def test_control_types_come_from_annotations():
    annotations = (
        "int | None",
        "float",
        "str | None",
        "bool",
        "tuple[int, int] | None",
        "int | str",
    )
    kinds = ["integer", "number", "text", "boolean", "json", "json"]
    assert [_kind(text) for text in annotations] == kinds


@pytest.mark.parametrize(
    ("kind", "value", "line"),
    [
        ("integer", "four", 'voices: should be a whole number, not "four"'),
        ("integer", 2.5, "voices: should be a whole number, not 2.5"),
        ("integer", True, "voices: should be a whole number, not true"),
        ("number", "fast", 'voices: should be a number, not "fast"'),
        ("text", 44, "voices: should be a string, not 44"),
        ("boolean", 1, "voices: should be true or false, not 1"),
    ],
)
def test_a_control_of_the_wrong_type_is_refused_naming_it(kind, value, line):
    with pytest.raises(Refused, match=f"^{re.escape(line)}$") as refused:
        check_control("voices", value, {"type": kind})
    assert refused.value.status == 422


def test_a_control_of_its_type_or_null_passes():
    for kind, value in [("integer", 3), ("number", 3), ("number", 0.5), ("text", "3/4"),
                        ("boolean", False), ("json", {"soprano": [60, 81]}), ("integer", None)]:  # fmt: skip
        check_control("voices", value, {"type": kind})


def test_loopback_addresses():
    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.2", "localhost", "::1")))
    assert not any(map(is_loopback, ("0.0.0.0", "192.168.1.2", "example.org", "::")))


def test_a_model_lists_the_pulls_it_takes_with_its_own_values():
    import muse_gan
    from muse_gan.server.models import controls

    listed = {
        name: controls(muse_gan.load(name), Limits())
        for name in ("bach-gan", "bach-coconet", "palestrina")
    }
    pulls = ("key_hold", "note_hold", "rest_hold", "voice_span", "ensemble_span")
    assert not set(pulls) & set(listed["bach-gan"])  # a GAN draws all its notes at once
    assert [name for name in pulls if name in listed["bach-coconet"]] == ["key_hold"]
    assert listed["bach-coconet"]["key_hold"]["default"] == 0.7  # its own, from its header
    assert listed["palestrina"]["ensemble_span"] == {
        "type": "integer",
        "min": 0,
        "max": 127,
        "default": 28,
    }
    assert listed["palestrina"]["note_hold"]["min"] == -30
    # its own rest_hold differs by voice count: no default, so a page sends none
    assert listed["palestrina"]["rest_hold"]["default"] is None
    assert listed["palestrina"]["rest_hold"]["by_class"]
    assert listed["palestrina"]["rest_hold"]["note"] == (
        "default: the model's own for the class asked (4 voices: -0.15, 5 voices: 0.1, "
        "6 voices: 0.4; else 0)"
    )
