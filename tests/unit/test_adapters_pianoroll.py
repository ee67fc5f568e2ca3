"""Tests for muse_gan.modalities.midi.adapter: encode and roll, decode to a Piece, the Piece's
files, read, settings and the adapter's training and composing hooks.

The hand-built pieces play at 120 quarter notes per minute, so with 4 steps per beat one
step lasts 0.125 s and a 4/4 bar (16 steps) lasts 2 s.
"""

import dataclasses
import io
import json
import warnings

import mido
import numpy as np
import pretty_midi
import pytest
import torch

from muse_gan.assembly import load_config
from muse_gan.core.adapter import Adapter, Animates, Augments, Composes, PlugsTerms, Tokens
from muse_gan.core.objective import NO_TERMS
from muse_gan.core.spec import Spec
from muse_gan.errors import ConfigError, DataError, MuseError
from muse_gan.modalities import build_adapter
from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter, Piece
from muse_gan.modalities.midi.keys import Transposition

from ..conftest import prepared

STEP = 0.125  # seconds per step at 120 qpm and 4 steps per beat
LOW, HIGH = 48, 84  # 37 pitches
SATB = ("Soprano", "Alto", "Tenor", "Bass")
# four tracks in one meter, as the bundled chorale models have (the hand-built parts are not
# named after the tracks, so they go to them in order)
SETTINGS = MidiConfig(
    pitch_low=LOW,
    pitch_high=HIGH,
    tempo=120.0,
    track_mapping="keep",
    track_names=SATB,
    programs=(19,) * 4,
    meter="4/4",
    dynamics="off",
    conditions=(),
)


def piece_of(*parts, resolution=480, tempo=120.0, drums=()) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI with one instrument per part; a part is a list of (pitch, start s, end s)."""
    piece = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=tempo)
    for number, notes in enumerate(parts):
        instrument = pretty_midi.Instrument(0, is_drum=number in drums, name=f"part {number}")
        instrument.notes = [pretty_midi.Note(90, pitch, start, end) for pitch, start, end in notes]
        piece.instruments.append(instrument)
    return piece


def chorale_like() -> pretty_midi.PrettyMIDI:
    return piece_of(
        [(72, 0.0, 0.5)],  # steps 0-3
        [(67, 0.5, 1.0), (64, 1.0, 1.25)],  # steps 4-7, then 8-9
        [(60, 1.75, 2.25), (96, 0.0, 0.5)],  # steps 14-17, across the bar line; 96 is above HIGH
        [(48, 0.0, 2.0), (47, 0.0, 1.0)],  # steps 0-15 at pitch index 0; 47 is below LOW
    )


def cells(roll: torch.Tensor) -> set[tuple[int, int, int]]:
    return {tuple(index) for index in roll.nonzero().tolist()}


def span(track, first, last, pitch):
    return {(track, step, pitch - LOW) for step in range(first, last + 1)}


def random_roll(seed: int, tracks=4, bars=3, pitches=37, density=0.15) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    roll = (torch.rand(tracks, bars * 16, pitches, generator=generator) < density).to(torch.uint8)
    roll[:, -1, 0] = 1  # something sounds in the last step, so encode gives back all bars
    return roll


# encode


def test_encode_puts_each_note_in_its_cells():
    roll = PianoRollAdapter(SETTINGS).roll(chorale_like())
    assert roll.dtype == torch.uint8
    assert roll.shape == (4, 32, 37)  # 18 steps, rounded up to 2 bars
    expected = (
        span(0, 0, 3, 72)
        | span(1, 4, 7, 67)
        | span(1, 8, 9, 64)
        | span(2, 14, 17, 60)
        | span(3, 0, 15, 48)
    )
    assert cells(roll) == expected


def test_encode_length_is_whole_bars():
    adapter = PianoRollAdapter(SETTINGS)
    one_step = [(60, 0.0, STEP)]
    assert adapter.roll(piece_of(*[one_step] * 4)).shape[1] == 16
    exactly_a_bar = [(60, 0.0, 16 * STEP)]
    assert adapter.roll(piece_of(*[exactly_a_bar] * 4)).shape[1] == 16
    a_bar_and_a_step = [(60, 0.0, 17 * STEP)]
    assert adapter.roll(piece_of(*[a_bar_and_a_step] * 4)).shape[1] == 32


def test_bars_follow_beats_per_bar_and_steps_per_beat():
    adapter = PianoRollAdapter(dataclasses.replace(SETTINGS, steps_per_beat=2, meter="3/4"))
    roll = adapter.roll(piece_of(*[[(60, 0.0, 2.0)]] * 4))  # 4 beats = 8 steps; bars of 6 steps
    assert roll.shape == (4, 12, 37)
    assert cells(roll[0]) == {(step, 12) for step in range(8)}


def test_encode_follows_ticks_not_seconds_at_another_tempo():
    # At 60 qpm a step lasts 0.25 s; a beat is still 4 steps.
    piece = piece_of(*[[(60, 0.25, 0.75)]] * 4, tempo=60.0)
    assert cells(PianoRollAdapter(SETTINGS).roll(piece)[0]) == {(1, 12), (2, 12)}


# steps 1.12-1.6: round → at least one step, 1; sample → none (no step start inside)
LOPSIDED = [
    (60, 0.06, 0.20),  # steps 0.48-1.6: round → 0-1; sample → step 1 (sounding at 1.0)
    (
        62,
        0.14,
        0.20,
    ),
    (64, 0.25, 0.50),  # steps 2-4 exactly: both → 2, 3
    (65, 0.56, 0.58),  # steps 4.48-4.64: round → at least one step, 4; sample → none
]


@pytest.mark.parametrize(
    "quantize, expected",
    [
        ("round", {(0, 12), (1, 12), (1, 14), (2, 16), (3, 16), (4, 17)}),
        ("sample", {(1, 12), (2, 16), (3, 16)}),
    ],
)
def test_quantize_round_versus_sample(quantize, expected):
    adapter = PianoRollAdapter(dataclasses.replace(SETTINGS, quantize=quantize))
    roll = adapter.roll(piece_of(LOPSIDED, [(72, 0, 0.5)], [(72, 0, 0.5)], [(72, 0, 0.5)]))
    assert cells(roll[0]) == expected


def test_notes_outside_the_pitch_range_are_left_out():
    adapter = PianoRollAdapter(SETTINGS)
    roll = adapter.roll(
        piece_of(*[[(LOW - 1, 0, 1), (LOW, 0, 1), (HIGH, 1, 2), (HIGH + 1, 1, 2)]] * 4)
    )
    assert cells(roll) == {
        cell for track in range(4) for cell in span(track, 0, 7, LOW) | span(track, 8, 15, HIGH)
    }


def test_a_piece_with_only_out_of_range_notes_is_refused():
    with pytest.raises(DataError, match="pitch range 48-84"):
        PianoRollAdapter(SETTINGS).roll(piece_of(*[[(30, 0, 1)]] * 4))


def test_a_piece_without_notes_is_refused():
    with pytest.raises(DataError, match="no notes"):
        PianoRollAdapter(SETTINGS).roll(piece_of([], [], [], []))
    with pytest.raises(DataError, match="no notes"):
        PianoRollAdapter(SETTINGS).encode(piece_of([], [], [], []))


def test_require_parts_leaves_out_pieces_with_another_part_count():
    adapter = PianoRollAdapter(dataclasses.replace(SETTINGS, require_parts=4))
    three_parts = prepared(adapter, piece_of([(60, 0, 1)], [(62, 0, 1)], [(64, 0, 1)]))
    four_parts = prepared(adapter, chorale_like())
    assert [piece.name for piece in adapter.model_view([three_parts, four_parts])] == [
        four_parts.name
    ]
    assert (
        "1 piece without exactly 4 parts" in adapter.fitted([three_parts, four_parts]).fit_summary
    )


def test_roll_of_a_clip_pads_with_silent_tracks():
    three_parts = piece_of([(60, 0, 1)], [(62, 0, 1)], [(64, 0, 1)])
    roll = PianoRollAdapter(SETTINGS).roll(three_parts)  # not strict: a user's clip
    assert roll.shape == (4, 16, 37)
    assert cells(roll) == span(0, 0, 7, 60) | span(1, 0, 7, 62) | span(2, 0, 7, 64)
    assert not roll[3].any()


def test_parts_beyond_the_tracks_are_left_out():
    five_parts = piece_of(*[[(60 + part, 0, 1)] for part in range(5)])
    roll = PianoRollAdapter(SETTINGS).roll(five_parts)  # in order: the fifth part fits no track
    assert cells(roll) == span(0, 0, 7, 60) | span(1, 0, 7, 61) | span(2, 0, 7, 62) | span(
        3, 0, 7, 63
    )


def test_instruments_without_notes_do_not_count_as_parts():
    piece = chorale_like()
    piece.instruments.insert(0, pretty_midi.Instrument(0, name="conductor"))
    assert cells(PianoRollAdapter(SETTINGS).roll(piece)) == cells(
        PianoRollAdapter(SETTINGS).roll(chorale_like())
    )


def test_merge_puts_every_non_drum_part_in_one_track():
    settings = dataclasses.replace(
        SETTINGS, track_mapping="merge", track_names=("All",), programs=(0,)
    )
    adapter = PianoRollAdapter(settings)
    assert adapter.tracks == 1
    # five parts, one of them drums: no part-count check when merging
    piece = piece_of(
        [(60, 0, 0.5)],
        [(64, 0.5, 1.0)],
        [(67, 0, 0.25)],
        [(70, 0, 1.0)],
        [(50, 0, 1.0)],
        drums=(4,),
    )
    roll = adapter.roll(piece)
    assert roll.shape == (1, 16, 37)
    assert cells(roll) == span(0, 0, 3, 60) | span(0, 4, 7, 64) | span(0, 0, 1, 67) | span(
        0, 0, 7, 70
    )


def test_spec_publishes_the_roll_sizes():
    assert PianoRollAdapter(SETTINGS).spec == Spec(
        "binary", channels=4, width=37, steps_per_bar=16, window=4 * 16
    )
    merged = PianoRollAdapter(
        dataclasses.replace(SETTINGS, track_mapping="merge", steps_per_beat=1, window_bars=2)
    )
    assert merged.spec == Spec("binary", channels=1, width=37, steps_per_bar=4, window=2 * 4)
    assert merged.spec.frame_size == 37 and merged.spec.segment == 8
    assert merged.steps_per_bar == 4


# decode


DRUM_SETTINGS = dataclasses.replace(
    SETTINGS,
    track_names=("Lead", "Bass line", "Pad", "Kit"),
    programs=(0, 33, 89, 0),
    drum_tracks=(3,),
)


def test_decode_gives_one_instrument_per_track_from_the_settings():
    roll = random_roll(0)
    adapter = PianoRollAdapter(DRUM_SETTINGS)
    piece = adapter.decode(roll)
    assert [(part.name, part.program, part.is_drum) for part in piece.instruments] == [
        ("Lead", 0, False),
        ("Bass line", 33, False),
        ("Pad", 89, False),
        ("Kit", 0, True),
    ]
    assert piece.resolution == 480
    # each instrument is the one the adapter names for its track
    assert [(part.name, part.program, part.is_drum) for part in piece.instruments] == [
        (part.name, part.program, part.is_drum) for part in map(adapter.instrument, range(4))
    ]


def test_decode_gives_a_piece_that_knows_its_roll_tempo_and_bars():
    roll = random_roll(0, bars=3)
    piece = PianoRollAdapter(SETTINGS).decode(roll)
    assert isinstance(piece, Piece) and isinstance(piece, pretty_midi.PrettyMIDI)
    assert torch.equal(piece.roll, roll)
    assert (piece.tempo, piece.bars) == (120.0, 3)
    assert PianoRollAdapter(SETTINGS).piece(roll, tempo=90.0).tempo == 90.0


def test_decode_joins_consecutive_steps_into_one_note():
    roll = torch.zeros(4, 16, 37, dtype=torch.uint8)
    roll[0, 2:6, 12] = 1  # one note, steps 2-5
    roll[0, 8, 12] = 1  # a second note after a gap
    roll[2, 0:16, 0] = 1
    piece = PianoRollAdapter(SETTINGS).piece(roll, tempo=120.0)
    notes = sorted(
        (note.start, note.end, note.pitch, note.velocity) for note in piece.instruments[0].notes
    )
    assert notes == [(2 * STEP, 6 * STEP, 60, 80), (8 * STEP, 9 * STEP, 60, 80)]
    assert [(note.start, note.end, note.pitch) for note in piece.instruments[2].notes] == [
        (0.0, 2.0, 48)
    ]
    assert piece.instruments[1].notes == [] and piece.instruments[3].notes == []


def test_decode_accepts_float_probabilities_and_thresholds_at_half():
    roll = torch.zeros(4, 16, 37)
    roll[1, 0, 5] = 0.51
    roll[1, 1, 5] = 0.49
    piece = PianoRollAdapter(SETTINGS).piece(roll, tempo=120.0)
    assert [(note.start, note.end, note.pitch) for note in piece.instruments[1].notes] == [
        (0.0, STEP, LOW + 5)
    ]
    assert piece.roll.dtype == torch.uint8 and int(piece.roll.sum()) == 1


def test_decode_uses_the_settings_tempo_when_none_is_given():
    roll = torch.zeros(4, 16, 37, dtype=torch.uint8)
    roll[0, 4, 0] = 1
    piece = PianoRollAdapter(dataclasses.replace(SETTINGS, tempo=60.0)).decode(roll)
    (note,) = piece.instruments[0].notes
    assert (note.start, note.end) == (1.0, 1.25)  # 0.25 s per step at 60 qpm
    assert piece.get_tempo_changes()[1].tolist() == pytest.approx([60.0])


def test_midi_files_put_the_drum_track_on_channel_ten_with_tempo_and_meter():
    adapter = PianoRollAdapter(dataclasses.replace(DRUM_SETTINGS, meter="3/4"))
    roll = random_roll(1, bars=2)
    midi = mido.MidiFile(file=io.BytesIO(adapter.piece(roll, tempo=90.0).file_bytes(".mid")))
    channels = {}
    for track in midi.tracks:
        name = next((message.name for message in track if message.type == "track_name"), None)
        channels[name] = {message.channel for message in track if message.type == "note_on"}
    assert channels["Kit"] == {9}  # 0-based 9 is General MIDI channel 10
    assert all(9 not in channels[name] and channels[name] for name in ("Lead", "Bass line", "Pad"))
    meta = [message for track in midi.tracks for message in track if message.is_meta]
    tempos = [mido.tempo2bpm(message.tempo) for message in meta if message.type == "set_tempo"]
    assert tempos == [pytest.approx(90.0, abs=1e-3)]  # stored in whole microseconds per beat
    assert [
        (message.numerator, message.denominator)
        for message in meta
        if message.type == "time_signature"
    ] == [(3, 4)]


@pytest.mark.parametrize("quantize", ["round", "sample"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_encode_of_decode_is_the_roll(quantize, seed):
    adapter = PianoRollAdapter(dataclasses.replace(DRUM_SETTINGS, quantize=quantize))
    roll = random_roll(seed)
    assert torch.equal(adapter.roll(adapter.piece(roll, tempo=97.0)), roll)


@pytest.mark.parametrize("suffix", [".mid", ".MIDI"])
def test_round_trip_through_a_midi_file(tmp_path, suffix):
    adapter = PianoRollAdapter(DRUM_SETTINGS)
    roll = random_roll(3)
    path = tmp_path / f"out{suffix}"
    adapter.decode(roll).write(path)
    # the adapter and the piece write alike
    assert path.read_bytes() == adapter.file_bytes(roll, ".mid")
    (piece,) = adapter.read(path)
    assert torch.equal(adapter.roll(piece), roll)


def test_merge_round_trip():
    settings = dataclasses.replace(
        SETTINGS, track_mapping="merge", track_names=("All",), programs=(19,)
    )
    adapter = PianoRollAdapter(settings)
    roll = random_roll(4, tracks=1)
    piece = adapter.decode(roll)
    assert [(part.name, part.program) for part in piece.instruments] == [("All", 19)]
    assert torch.equal(adapter.roll(piece), roll)


# the Piece's files


def end_of_track_ticks(midi: mido.MidiFile) -> list[int]:
    return [sum(message.time for message in track) for track in midi.tracks]


def test_midi_file_ends_every_track_on_the_last_bar_line():
    adapter = PianoRollAdapter(SETTINGS)
    roll = torch.zeros(4, 32, 37, dtype=torch.uint8)
    roll[:, 0:3, 10] = 1  # everything ends early: the rest of the two bars is silence
    midi = mido.MidiFile(file=io.BytesIO(adapter.piece(roll, tempo=120.0).file_bytes(".mid")))
    assert all(track[-1].type == "end_of_track" for track in midi.tracks)
    # a conductor track and four parts; 120 ticks a step
    assert end_of_track_ticks(midi) == [32 * 120] * 5
    assert midi.length == pytest.approx(32 * STEP)
    # pretty_midi's own writer ends at the last note (and a tick late): the piece's differs from it
    plain = io.BytesIO()
    pretty_midi.PrettyMIDI.write(adapter.piece(roll, tempo=120.0), plain)
    assert mido.MidiFile(file=io.BytesIO(plain.getvalue())).length == pytest.approx(
        3 * STEP, abs=1.5 / 960
    )


def test_midi_file_length_follows_the_tempo():
    adapter = PianoRollAdapter(SETTINGS)
    roll = random_roll(5, bars=3)
    midi = mido.MidiFile(file=io.BytesIO(adapter.piece(roll, tempo=75.0).file_bytes(".mid")))
    assert midi.length == pytest.approx(48 * 60 / 75 / 4)


def test_a_piece_writes_the_format_its_suffix_names(tmp_path):
    piece = PianoRollAdapter(DRUM_SETTINGS).decode(random_roll(7, bars=1))
    piece.write(tmp_path / "song.png")
    assert (tmp_path / "song.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "song.png").read_bytes() == piece.file_bytes(".PNG")
    # pretty_midi's contract: a file object gets MIDI
    with open(tmp_path / "to-a-file-object", "wb") as file:
        piece.write(file)
    assert (tmp_path / "to-a-file-object").read_bytes() == piece.file_bytes(".mid")
    with pytest.raises(DataError, match="cannot write '.gif'.*\\.mid, \\.midi, \\.png, \\.wav"):
        piece.write(tmp_path / "song.gif")
    assert not (tmp_path / "song.gif").exists()


def test_midi_file_opens_in_pretty_midi_mido_and_music21(tmp_path):
    import music21

    adapter = PianoRollAdapter(DRUM_SETTINGS)
    roll = random_roll(6, bars=1, density=0.05)
    path = tmp_path / "sample.mid"
    path.write_bytes(adapter.file_bytes(roll, ".mid"))
    decoded = adapter.decode(roll)
    piece = pretty_midi.PrettyMIDI(str(path))
    assert [len(part.notes) for part in piece.instruments] == [
        len(part.notes) for part in decoded.instruments
    ]
    assert len(mido.MidiFile(path).tracks) == 5
    score = music21.converter.parse(path)
    assert [part.partName for part in score.parts] == ["Lead", "Bass line", "Pad", "Kit"]
    # in quarter notes: the whole bar, trailing rest too
    assert score.highestTime == pytest.approx(16 * 0.25)


# read


def test_read_a_midi_file(tmp_path):
    path = tmp_path / "song.MID"  # suffixes are matched without regard to case
    chorale_like().write(str(path))
    (piece,) = PianoRollAdapter(SETTINGS).read(path)
    assert isinstance(piece, pretty_midi.PrettyMIDI)
    assert cells(PianoRollAdapter(SETTINGS).roll(piece)) == cells(
        PianoRollAdapter(SETTINGS).roll(chorale_like())
    )


def test_read_a_bach_chorale():
    from muse_gan.modalities.midi.scores import bach_chorales

    adapter = PianoRollAdapter(dataclasses.replace(SETTINGS, pitch_low=28, pitch_high=96))
    (piece,) = adapter.read(next(path for path in bach_chorales() if path.name == "bwv10.7.mxl"))
    roll = adapter.roll(piece)
    assert roll.shape[0] == 4 and roll.shape[2] == 69
    assert roll.shape[1] % 16 == 0 and roll.shape[1] >= 16
    assert all(roll[track].any() for track in range(4))


@pytest.mark.parametrize("content", [b"", b"MThd\x00\x00\x00\x06garbage", bytes(range(256))])
def test_read_garbage_midi_names_the_file(tmp_path, content):
    path = tmp_path / "broken.mid"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"{path}: not a readable MIDI file"):
        PianoRollAdapter(SETTINGS).read(path)


def test_read_refuses_other_suffixes(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("C D E F G")
    with pytest.raises(DataError, match=f"{path}: not a MIDI or score file"):
        PianoRollAdapter(SETTINGS).read(path)


def test_read_missing_midi_file_names_it(tmp_path):
    with pytest.raises(DataError, match="absent.mid"):
        PianoRollAdapter(SETTINGS).read(tmp_path / "absent.mid")


# settings


def test_to_dict_from_dict_round_trip_through_json():
    adapter = PianoRollAdapter(DRUM_SETTINGS)
    # as a checkpoint stores them: tuples become lists
    values = json.loads(json.dumps(adapter.to_dict()))
    rebuilt = PianoRollAdapter.from_dict(values)
    assert rebuilt.settings == DRUM_SETTINGS
    assert rebuilt.spec == adapter.spec


def test_from_dict_refuses_unknown_keys():
    values = PianoRollAdapter(SETTINGS).to_dict() | {"swing": 0.5}
    with pytest.raises(ConfigError, match="midi.swing"):
        PianoRollAdapter.from_dict(values)


def test_build_adapter_uses_the_midi_section():
    adapter = build_adapter(load_config(None, ["midi.pitch_low=60", "midi.pitch_high=71"]))
    assert isinstance(adapter, PianoRollAdapter)
    assert adapter.spec.width == 12


def test_the_cache_is_keyed_by_what_changes_the_note_tables_only():
    # tracks, pitch range, meter, window, transposition, key and GAN terms are applied to the
    # prepared note tables: changing them keeps the cache
    adapter = PianoRollAdapter(SETTINGS)
    training = dataclasses.replace(
        SETTINGS,
        pitch_low=30,
        meter="3/4",
        track_mapping="merge",
        window_bars=2,
        transpose=0,
        common_key=True,
        gan=dataclasses.replace(SETTINGS.gan, harmony_weight=10.0),
    )
    assert PianoRollAdapter(training).cache_settings() == adapter.cache_settings()
    assert set(adapter.cache_settings()) == set(MidiConfig.READING)
    coarser = PianoRollAdapter(dataclasses.replace(SETTINGS, steps_per_beat=2))
    assert coarser.cache_settings() != adapter.cache_settings()
    # a checkpoint keeps them all
    assert PianoRollAdapter.from_dict(PianoRollAdapter(training).to_dict()).settings == training


# capabilities and hooks


def test_declares_the_capabilities_of_pieces_of_music():
    adapter = PianoRollAdapter(SETTINGS)
    assert isinstance(adapter, (Adapter, Composes, PlugsTerms))
    assert not isinstance(adapter, (Augments, Animates, Tokens))


def test_training_windows_are_transposed_and_validation_windows_are_not():
    adapter = PianoRollAdapter(dataclasses.replace(SETTINGS, window_bars=2, transpose=3))
    pieces = adapter.model_view([prepared(adapter, piece_of(*[[(60, 0.0, 8.0)]] * 4))])  # four bars
    training, validation = (
        adapter.sampler(pieces, 0, training=True),
        adapter.sampler(pieces, 0, training=False),
    )
    assert isinstance(training.variation, Transposition) and training.variation.semitones == 3
    assert validation.variation is None
    assert training.window == 32  # windows of two bars, starting on bar lines
    assert training.starts[:, 1].tolist() == [0, 16, 32]
    still = PianoRollAdapter(dataclasses.replace(SETTINGS, transpose=0)).sampler(
        pieces, 0, training=True
    )
    assert still.variation is None


def test_model_view_moves_pieces_to_the_common_key_only_when_asked():
    d_major = piece_of(
        *[
            [
                (pitch, (pitch - 62) * STEP, (pitch - 61) * STEP)
                for pitch in (62, 64, 66, 67, 69, 71, 73)
            ]
        ]
        * 4
    )
    piece = prepared(PianoRollAdapter(SETTINGS), d_major)
    (plain,) = PianoRollAdapter(SETTINGS).model_view([piece])
    (moved,) = PianoRollAdapter(dataclasses.replace(SETTINGS, common_key=True)).model_view([piece])
    assert (plain.info["shift"], moved.info["shift"]) == (0, -2)  # down a whole tone to C major
    roll = PianoRollAdapter(SETTINGS).tensor_of(plain)
    assert torch.equal(PianoRollAdapter(SETTINGS).tensor_of(moved), torch.roll(roll, -2, dims=2))


def test_gan_terms_are_plugged_into_gans_only():
    adapter = PianoRollAdapter(
        dataclasses.replace(
            SETTINGS, gan=dataclasses.replace(SETTINGS.gan, critic_chroma=True, harmony_weight=1.0)
        )
    )
    assert adapter.family_terms("rnn") is NO_TERMS and adapter.family_terms("vae") is NO_TERMS
    assert adapter.family_terms("gan") is not NO_TERMS


def test_read_clip_gives_the_roll_tempo_and_meter_and_names_the_option_when_unusable(tmp_path):
    adapter = PianoRollAdapter(SETTINGS)
    path = tmp_path / "clip.mid"
    piece_of([(60, 0, 1)], tempo=90.0).write(str(path))  # one part of four: a clip may have fewer
    clip = adapter.read_clip(path, "--primer")
    # whole microseconds per beat; a MIDI file without a time signature is in 4/4
    assert clip.tensor.shape == (4, 16, 37) and clip.tempo == pytest.approx(90.0, abs=1e-3)
    assert clip.meter == "4/4"
    # a PrettyMIDI is a clip too, the same as its file
    in_memory = adapter.read_clip(piece_of([(60, 0, 1)], tempo=90.0), "--primer")
    assert torch.equal(in_memory.tensor, clip.tensor) and in_memory.tempo == pytest.approx(90.0)
    assert cells(clip.tensor) == {(0, step, 12) for step in range(6)}  # 1 s at 90 qpm: 6 steps
    with pytest.raises(MuseError, match=f"--primer {path.parent / 'absent.mid'}: cannot read"):
        adapter.read_clip(path.parent / "absent.mid", "--primer")
    with pytest.raises(MuseError, match="start clip: no notes in the pitch range"):
        adapter.read_clip(piece_of([(20, 0, 1)]), "start")


def test_shifted_refuses_to_push_notes_out_only_when_an_option_asks():
    adapter = PianoRollAdapter(SETTINGS)
    roll = torch.zeros(4, 16, 37, dtype=torch.uint8)
    roll[0, 0, 35] = 1
    assert torch.equal(adapter.shifted(roll, 1, "--transpose"), torch.roll(roll, 1, dims=2))
    with pytest.raises(
        MuseError,
        match="--transpose 2: moves notes of this piece past the model's pitch range "
        "\\(MIDI 48-84\\)",
    ):
        adapter.shifted(roll, 2, "--transpose")
    assert not adapter.shifted(roll, 2).any()  # inside the model, a note pushed out is dropped


def test_into_model_key_is_no_shift_without_a_common_key():
    roll = torch.zeros(4, 16, 37, dtype=torch.uint8)
    roll[0, :, [2, 4, 6]] = 1  # D, E, F#: not C major's
    assert PianoRollAdapter(SETTINGS).into_model_key([roll]) == [0]
    assert PianoRollAdapter(dataclasses.replace(SETTINGS, common_key=True)).into_model_key(
        [roll]
    ) != [0]


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"pitch_low": 90, "pitch_high": 80}, "midi.pitch_low"),
        ({"pitch_high": 128}, "midi.pitch_low"),
        ({"track_mapping": "x"}, "midi.track_mapping"),
        ({"programs": (0, 0, 0)}, "midi.programs"),
        ({"programs": (0, 0, 0, 128)}, "midi.programs"),
        ({"track_names": (), "programs": ()}, "midi.track_names"),
        ({"quantize": "nearest"}, "midi.quantize"),
        ({"steps_per_beat": 7}, "midi.steps_per_beat"),
        ({"steps_per_beat": 0}, "midi.steps_per_beat"),
        ({"meter": "0/4"}, "midi.meter"),
        ({"meter": "3/8", "steps_per_beat": 1}, "midi.meter"),
        ({"meters": ("6/7",)}, "midi.meters"),
        ({"dynamics": "loud"}, "midi.dynamics"),
        ({"conditions": ("key",)}, "midi.conditions"),
        ({"velocity": 0}, "midi.velocity"),
        ({"drum_tracks": (4,)}, "midi.drum_tracks"),
        ({"tempo": 0.0}, "midi.tempo"),
        ({"window_bars": 0}, "midi.window_bars"),
    ],
)
def test_invalid_settings_are_config_errors(changes, key):
    with pytest.raises(ConfigError, match=key):
        PianoRollAdapter(dataclasses.replace(SETTINGS, **changes))


def test_roll_axes_are_tracks_steps_pitches():
    roll = PianoRollAdapter(SETTINGS).roll(
        piece_of([(LOW + 2, 0, STEP)], [(LOW, 0, 1)], [(LOW, 0, 1)], [(LOW, 0, 1)])
    )
    assert np.argwhere(roll[0].numpy()).tolist() == [[0, 2]]  # step 0, pitch index 2


def test_a_file_with_its_tempo_on_a_later_track_reads_without_a_warning(tmp_path):
    """pretty_midi warns about such files (common from DAWs) on stderr, where the commands'
    one-line errors are."""
    conductor, notes = mido.MidiTrack(), mido.MidiTrack()
    notes.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)))
    notes.append(mido.Message("note_on", note=60, velocity=80))
    notes.append(mido.Message("note_off", note=60, time=480))
    mido.MidiFile(type=1, tracks=[conductor, notes]).save(tmp_path / "daw.mid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (piece,) = PianoRollAdapter().read(tmp_path / "daw.mid")
    assert [note.pitch for note in piece.instruments[0].notes] == [60]
