"""Tests for muse_gan.modalities.midi.scores: MusicXML and ABC files read into PrettyMIDI, and the chorale list."""

import time

import pytest
from music21 import chord, instrument, meter, note, stream, tempo, tie

from muse_gan.errors import DataError, MuseError
from muse_gan.modalities.midi.scores import (
    _score_seconds,
    bach_chorales,
    folk_tunes,
    music21_corpus,
    read_scores,
)

TWO_TUNES_ABC = """\
X:1
T:Pickup tune
M:4/4
L:1/4
Q:1/4=120
K:C
G | C D E F | c4 |]

X:2
T:Tied tune
M:6/8
L:1/8
K:G
DEF GAB | c3- c3 |]
"""


def write_musicxml(tmp_path, bars, name="piece.musicxml", pickup_quarters=0.0, bpm=None):
    """A one-part 4/4 score of ``bars`` (lists of music21 notes/rests), written as MusicXML."""
    part = stream.Part()
    part.partName = "Melody"
    for number, contents in enumerate(bars, start=0 if pickup_quarters else 1):
        part.append(stream.Measure(contents, number=number))
    first_bar = part.getElementsByClass(stream.Measure).first()
    first_bar.insert(0, meter.TimeSignature("4/4"))
    if bpm is not None:
        first_bar.insert(0, tempo.MetronomeMark(number=bpm))
    # Without paddingLeft music21 would fill the short first bar with a hidden rest.
    first_bar.paddingLeft = pickup_quarters
    score = stream.Score([part])
    return score.write("musicxml", fp=tmp_path / name)


def tied(pitch, quarters, kind):
    tied_note = note.Note(pitch, quarterLength=quarters)
    tied_note.tie = tie.Tie(kind)
    return tied_note


def pitches(instrument_track):
    return [midi_note.pitch for midi_note in instrument_track.notes]


@pytest.fixture(scope="module")
def chorale():
    (path,) = [path for path in bach_chorales() if path.name == "bwv10.7.mxl"]
    (midi,) = read_scores(path)
    return midi


def test_chorale_has_four_named_voices(chorale):
    assert [track.name for track in chorale.instruments] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert all(not track.is_drum and track.program == 0 for track in chorale.instruments)


def test_chorale_notes_are_sung_pitches_with_positive_velocity(chorale):
    notes = [midi_note for track in chorale.instruments for midi_note in track.notes]
    assert len(notes) > 100
    assert all(30 <= midi_note.pitch <= 90 for midi_note in notes)
    assert all(midi_note.velocity > 0 for midi_note in notes)
    assert all(midi_note.end > midi_note.start >= 0 for midi_note in notes)


def test_chorale_has_a_time_signature_at_zero(chorale):
    (signature,) = chorale.time_signature_changes
    assert (signature.numerator, signature.denominator, signature.time) == (4, 4, 0.0)


def test_pickup_is_padded_so_bar_one_starts_one_bar_in(tmp_path):
    path = write_musicxml(
        tmp_path,
        [[note.Note("G4")], [note.Note("C5", quarterLength=4)]],
        pickup_quarters=3.0,
    )
    (midi,) = read_scores(path, default_tempo=120.0)
    pickup, downbeat = midi.instruments[0].notes
    # 120 quarters a minute: half a second each, so a 4/4 bar lasts 2 seconds.
    assert (pickup.start, downbeat.start) == (1.5, 2.0)
    assert midi.time_signature_changes[0].time == 0.0


def test_tie_over_a_barline_is_one_note(tmp_path):
    path = write_musicxml(
        tmp_path,
        [
            [note.Note("C4", type="half"), tied("E4", 2.0, "start")],
            [tied("E4", 1.0, "stop"), note.Rest(quarterLength=3.0)],
        ],
        bpm=90,
    )
    (midi,) = read_scores(path)
    track = midi.instruments[0]
    assert track.name == "Melody"
    assert pitches(track) == [60, 64]
    # The metronome mark (90) wins over the default tempo.
    assert track.notes[1].end - track.notes[1].start == pytest.approx(3 * 60 / 90)
    assert midi.get_tempo_changes()[1][0] == pytest.approx(90.0)


def test_chord_gives_a_note_per_pitch_and_grace_notes_are_skipped(tmp_path):
    loud_chord = chord.Chord(["C4", "E4", "G4"], type="half")
    loud_chord.volume.velocity = 100
    grace = note.Note("D5").getGrace()
    path = write_musicxml(tmp_path, [[loud_chord, grace, note.Note("C5", type="half")]])
    (midi,) = read_scores(path)
    track = midi.instruments[0]
    assert pitches(track) == [60, 64, 67, 72]
    assert [midi_note.velocity for midi_note in track.notes[:3]] == pytest.approx([100] * 3, abs=1)
    assert track.notes[3].velocity == 80


def test_abc_file_gives_one_midi_per_tune(tmp_path):
    path = tmp_path / "two_tunes.abc"
    path.write_text(TWO_TUNES_ABC)
    first, second = read_scores(path)
    assert pitches(first.instruments[0]) == [67, 60, 62, 64, 65, 72]  # ABC C is 60, c is 72
    assert first.instruments[0].name == "Part 1"
    assert first.get_tempo_changes()[1][0] == pytest.approx(120.0)
    assert first.instruments[0].notes[1].start == pytest.approx(2.0)  # bar 1 after the pickup
    # K:G sharpens F; the tied c3- c3 is a single note.
    assert pitches(second.instruments[0]) == [62, 64, 66, 67, 69, 71, 72]
    assert second.get_tempo_changes()[1][0] == pytest.approx(100.0)
    signature = second.time_signature_changes[0]
    assert (signature.numerator, signature.denominator) == (6, 8)


def test_truncated_mxl_is_a_data_error_naming_the_file(tmp_path):
    path = tmp_path / "truncated.mxl"
    path.write_bytes(bach_chorales()[0].read_bytes()[:300])
    with pytest.raises(DataError, match="truncated.mxl"):
        read_scores(path)


@pytest.mark.parametrize(
    "name, text, reason",
    [
        ("empty.abc", "", "empty"),
        ("headers_only.abc", "X:1\nT:Nothing yet\nM:4/4\nK:C\n", "no notes"),
        ("notes.txt", "C D E F", "not a score file"),
    ],
)
def test_unusable_file_is_a_data_error_naming_it(tmp_path, name, text, reason):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=f"{name}.*{reason}"):
        read_scores(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="absent.mxl: no such file"):
        read_scores(tmp_path / "absent.mxl")


def test_unpitched_percussion_part_is_a_drum_track(tmp_path):
    part = stream.Part([instrument.BassDrum(), note.Unpitched(quarterLength=4)])
    path = stream.Score([part]).write("musicxml", fp=tmp_path / "drum.musicxml")
    (midi,) = read_scores(path)
    (track,) = midi.instruments
    assert track.is_drum
    assert pitches(track) == [35]  # General MIDI acoustic bass drum


def test_bach_chorales_lists_sorted_mxl_files():
    paths = bach_chorales()
    assert len(paths) > 300
    assert [path.name for path in paths] == sorted(path.name for path in paths)
    assert all(path.suffix == ".mxl" and path.is_file() for path in paths)
    names = {path.name for path in paths}
    assert "bwv846.mxl" not in names  # a keyboard prelude, not a chorale
    assert {"bwv1.6.mxl", "bwv269.mxl"} <= names


def test_folk_tunes_are_the_abc_files_of_the_five_folk_collections():
    """Essen, O'Neill's, Ryan's Mammoth, Aird's Airs and miscFolk (issue 21); nothing parsed."""
    paths = folk_tunes()
    assert all(path.suffix == ".abc" and path.is_file() for path in paths)
    found = {path.relative_to(music21_corpus()).parts[0] for path in paths}
    assert {"essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk"} <= found


# files that would take music21 minutes


def test_a_tune_of_over_a_thousand_bars_is_refused_before_parsing(tmp_path):
    path = tmp_path / "endless.abc"
    # music21 alone: over 10 minutes
    path.write_text("X:1\nM:4/4\nL:1/8\nK:G\n" + "GABc dedB|" * 2700 + "\n")
    started = time.monotonic()
    with pytest.raises(DataError, match=f"^{path}: a tune of over 1000 bars"):
        read_scores(path)
    assert time.monotonic() - started < 1


def test_a_file_music21_is_slow_on_is_skipped_after_the_time_limit(tmp_path, monkeypatch):
    import muse_gan.modalities.midi.scores as scores

    monkeypatch.setattr(scores, "SCORE_SECONDS", 0.3)
    path = tmp_path / "slow.abc"  # a field change in every bar: music21 takes seconds
    path.write_text("X:1\nM:4/4\nL:1/8\nK:G\n" + "GABc dedB|dedB ded4/4\nL:1/8\nK:G\n" * 450)
    with pytest.raises(DataError, match=f"^{path}: not read within 0.3 s"):
        read_scores(path)


@pytest.mark.parametrize("text", ["soon", "0", "-1", "inf", "nan"])
def test_a_time_limit_from_the_environment_must_be_seconds_above_zero(text, monkeypatch):
    monkeypatch.setenv("MUSE_GAN_SCORE_SECONDS", "2.5")
    assert _score_seconds() == 2.5
    monkeypatch.setenv("MUSE_GAN_SCORE_SECONDS", text)
    with pytest.raises(
        MuseError, match=f"^MUSE_GAN_SCORE_SECONDS={text}: expected a number of seconds above 0$"
    ):
        _score_seconds()


def test_a_collection_is_read_without_its_odd_tune_and_given_time_by_its_tune_count(
    tmp_path, monkeypatch
):
    import muse_gan.modalities.midi.scores as scores

    good = "X:{n}\nM:6/8\nL:1/8\nK:D\nDFA dfa|gfe dcB|\n"
    odd = "X:2\nM:6/8\nL:1/8\nK:D\n|]\n"  # no notes
    path = tmp_path / "session.abc"
    path.write_text(good.format(n=1) + odd + good.format(n=3))
    tunes = read_scores(path)
    assert len(tunes) == 2 and all(len(tune.instruments[0].notes) == 12 for tune in tunes)
    monkeypatch.setattr(scores, "SCORE_SECONDS", 0.5)
    assert scores._seconds_for(path) == 3 * scores.SECONDS_PER_TUNE
    (tmp_path / "none.abc").write_text(odd + odd.replace("X:2", "X:3"))
    with pytest.raises(DataError, match="none.abc: none of its 2 pieces is usable"):
        read_scores(tmp_path / "none.abc")
