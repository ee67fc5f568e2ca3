"""muse_gan.client without a server: what a DAW script's logic rests on (its positions in ticks
turned into notes in beats and back, a time selection, the bars to ask for), and that importing
it brings in nothing but the standard library."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import muse_gan.client as client_module
from muse_gan.client import (
    Answer,
    Note,
    bars_spanned,
    clip_of_midi,
    key_name,
    notes_from_ticks,
    quarters_per_bar,
    ticks_from_notes,
)

REAPER_PPQ = 960  # REAPER's default ticks per quarter note


def test_the_client_imports_only_the_standard_library():
    tree = ast.parse(Path(client_module.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names


def test_importing_the_client_loads_nothing_heavy():
    probe = "import sys, muse_gan.client; print(sorted(m for m in ('torch', 'numpy', 'pretty_midi', 'mido', 'fastapi') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_daw_ticks_become_notes_in_beats_and_back():
    item_start = 4 * REAPER_PPQ  # the item starts at bar 2
    events = [
        (60, item_start, item_start + 480, 100, 0),
        (48, item_start + 960, item_start + 1920, 90, 3),
    ]
    notes = notes_from_ticks(events, REAPER_PPQ, item_start)
    assert notes == [Note(60, 0.0, 0.5, 100, 0), Note(48, 1.0, 2.0, 90, 3)]
    assert ticks_from_notes(notes, REAPER_PPQ, item_start) == events


def test_a_time_selection_cuts_the_notes_that_cross_it():
    events = [(60, 0, 960, 100, 0), (62, 960, 2880, 100, 0), (64, 2880, 3840, 100, 0)]
    notes = notes_from_ticks(events, REAPER_PPQ, start_tick=480, end_tick=1920)
    assert notes == [Note(60, 0.0, 0.5, 100, 0), Note(62, 0.5, 1.5, 100, 0)]


def test_bars_spanned_rounds_up_to_whole_bars():
    assert bars_spanned([Note(60, 0, 4)], 4) == 1
    assert bars_spanned([Note(60, 0, 4.25)], 4) == 2
    assert bars_spanned([Note(60, 0, 6)], 3) == 2
    assert bars_spanned([], 4) == 1


def test_quarters_per_bar_reads_the_meter():
    assert quarters_per_bar("4/4") == 4
    assert quarters_per_bar("6/8") == 3
    assert quarters_per_bar("3/2") == 6
    assert quarters_per_bar(None) == 4
    assert quarters_per_bar("C") == 4 and quarters_per_bar("C|") == 4  # 2/2: two halves
    assert quarters_per_bar("") == 4  # nothing said, as None


@pytest.mark.parametrize("meter", ["common", "6-8", "/8", "3/0", "\u00b2/4"])
def test_quarters_per_bar_names_a_meter_it_cannot_read(meter):
    with pytest.raises(ValueError, match=f"^meter {re.escape(repr(meter))}: "):
        quarters_per_bar(meter)


def test_an_answer_ending_on_a_rest_still_spans_its_bars():
    # 2 bars of 3/4, the last beat a rest: a DAW item made this long keeps the bar whole
    answer = Answer(1, "m", notes=[Note(60, 0, 5)], bars=2, meter="3/4")
    assert answer.beats() == 6
    # a note held past the last bar (or no bars sent) still fits
    assert Answer(1, "m", notes=[Note(60, 0, 7)], bars=2, meter="3/4").beats() == 7
    assert Answer(1, "m", notes=[Note(60, 0, 5)]).beats() == 5


def test_a_midi_file_travels_as_base64():
    assert clip_of_midi(b"MThd") == {"midi": "TVRoZA=="}


def test_a_daws_key_becomes_the_key_controls_words():
    assert key_name(7, "102034050607") == "G major"  # REAPER's major
    assert key_name(4, "102304056070") == "E minor"  # natural minor
    assert key_name(2, "102304050670") == "D minor"  # dorian: minor third, no major one
    assert key_name(10) == "Bb major"  # no pattern: major
