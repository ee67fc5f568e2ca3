"""A folder of one's own MIDI trains with no settings, then composes in its shape (issue 21):
`muse train --data DIR` on piano solos, a band with drums in 3/4, jigs in 6/8 and five-voice
pieces, each a tiny real training run, then `muse compose` read back as a DAW would."""

import io

import mido
import pretty_midi
import pytest

from .. import midi_files
from ..conftest import TINY, set_options
from ..unit.test_cli import muse

FOLDERS = {
    "piano": lambda path, n: midi_files.piano_solo(path, bars=6, shift=n),
    "trio": lambda path, n: midi_files.band_trio(path, bars=4 + n % 2),
    "jigs": lambda path, n: midi_files.jig(path, bars=4 + n),
    "motets": lambda path, n: midi_files.five_voices(path, bars=4 + n),
}

# the jigs' model is told which bar of the piece each step is in (model.bar_numbers)
SETTINGS = {"jigs": ["model.bar_numbers=4"]}


@pytest.fixture(scope="module", params=sorted(FOLDERS))
def trained(request, tmp_path_factory):
    """(kind, run folder, what `muse train` printed) for a folder of four files of one kind."""
    kind = request.param
    folder = tmp_path_factory.mktemp(kind)
    for number in range(4):
        FOLDERS[kind](folder / "mine" / f"{kind}{number}.mid", number)
    run = folder / "run"
    settings = TINY + SETTINGS.get(kind, [])
    result = muse("train", "--data", folder / "mine", "--out", run, *set_options(settings))
    assert result.exit_code == 0, result.output
    return kind, run, result.output


def composed(run, *options) -> bytes:
    result = muse("compose", "--model", run, "--bars", 16, "--seed", 3, "-o", "-", *options)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def read(midi: bytes) -> pretty_midi.PrettyMIDI:
    return pretty_midi.PrettyMIDI(io.BytesIO(midi))


def bars_of(midi: bytes) -> float:
    """Bars the file spans to its tracks' end (a DAW's length, rests at the end included), in
    its first time signature."""
    piece = read(midi)
    signature = piece.time_signature_changes[0]
    seconds_per_quarter = 60.0 / piece.get_tempo_changes()[1][0]
    quarters = mido.MidiFile(file=io.BytesIO(midi)).length / seconds_per_quarter
    return quarters / (signature.numerator * 4 / signature.denominator)


EXPECTED = {
    # kind: (track names, programs, drums, time signature, velocities vary)
    "piano": (["Piano"], [0], [False], (4, 4), True),
    "trio": (["Drums", "Bass", "Piano"], [0, 33, 4], [True, False, False], (3, 4), True),
    "jigs": (["Fiddle"], [40], [False], (6, 8), False),
    "motets": (
        ["Cantus", "Altus", "Tenor", "Quintus", "Bassus"],
        [52] * 5,
        [False] * 5,
        (4, 4),
        False,
    ),
}


def test_the_layout_found_is_printed_and_kept_in_the_runs_config(trained):
    kind, run, output = trained
    assert "from the data: tracks:" in output
    names = EXPECTED[kind][0]
    config = (run / "config.toml").read_text()
    assert all(f'"{name}"' in config for name in names)


def test_sixteen_bars_come_back_in_the_datas_tracks_meter_and_dynamics(trained):
    kind, run, _ = trained
    names, programs, drums, signature, dynamic = EXPECTED[kind]
    midi = composed(run)
    piece = read(midi)
    written = [part for part in piece.instruments if part.notes]
    assert [part.name for part in piece.instruments] == names
    assert [part.program for part in piece.instruments] == programs
    assert [part.is_drum for part in piece.instruments] == drums
    assert [(s.numerator, s.denominator) for s in piece.time_signature_changes] == [signature]
    assert round(bars_of(midi), 3) == 16
    assert written, "a tiny model still writes notes"
    velocities = {note.velocity for part in written for note in part.notes}
    assert (len(velocities) > 1) == dynamic, velocities
    channels = {  # as a DAW sees them: drums on channel 10 (9 counted from 0), no one else there
        track.name: {m.channel for m in track if m.type == "note_on"}
        for track in mido.MidiFile(file=io.BytesIO(midi)).tracks
    }
    for name, drum in zip(names, drums):
        assert (channels[name] <= {9}) if drum else (9 not in channels[name])


def test_the_same_seed_composes_the_same_piece_with_bar_numbers_or_without(trained):
    kind, run, _ = trained
    assert ("bar_numbers = 4" in (run / "config.toml").read_text()) == (kind in SETTINGS)
    assert composed(run) == composed(run)
    assert composed(run) != composed(run, "--seed", 4)


def test_velocity_fixes_every_note(trained):
    _, run, _ = trained
    piece = read(composed(run, "--velocity", 64))
    assert {note.velocity for part in piece.instruments for note in part.notes} == {64}
