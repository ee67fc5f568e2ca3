"""MIDI as composers bring it: tracks inferred from the data, drums, dynamics and meters.

Real files written with pretty_midi (tests/midi_files.py), prepared as training prepares them,
seen through the adapter a model would have; no training here (tests/e2e/test_your_midi.py
trains on folders of them).
"""

import dataclasses
import io

import mido
import numpy as np
import pretty_midi
import pytest
import torch

from muse_gan.assembly import build_objective, load_config
from muse_gan.errors import ConfigError, DataError, MuseError
from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter
from muse_gan.modalities.midi.layout import Part, infer_layout
from muse_gan.model import MuseModel
from muse_gan.training import samplers

from .. import midi_files
from ..conftest import prepared

AUTO = MidiConfig()  # everything left to the data


def fitted_on(*paths, settings=AUTO):
    """The adapter a model trained on these files would have, and the files' prepared pieces."""
    adapter = PianoRollAdapter(settings)
    pieces = [prepared(adapter, item, str(path)) for path in paths for item in adapter.read(path)]
    return adapter.fitted(pieces), pieces


def roll_of(adapter, piece) -> np.ndarray:
    (segment,) = adapter.model_view([piece])
    return adapter.tensor_of(segment).numpy()


# the tracks


def test_a_piano_solo_is_one_track(tmp_path):
    adapter, _ = fitted_on(midi_files.piano_solo(tmp_path / "solo.mid"))
    layout = adapter.layout
    assert (layout.mapping, layout.names, layout.programs) == ("merge", ("Piano",), (0,))
    assert "tracks: 1 track, all parts in one: Piano (program 0)" in adapter.fit_summary


def test_a_band_gets_a_track_per_instrument_family_with_its_program(tmp_path):
    adapter, _ = fitted_on(midi_files.band_trio(tmp_path / "trio.mid"))
    layout = adapter.layout
    assert (layout.mapping, layout.names) == ("families", ("Drums", "Bass", "Piano"))
    assert layout.programs[1:] == (33, 4) and layout.drums == (0,)
    assert adapter.settings.drum_tracks == (0,)  # what the run's config will store


def test_voices_named_alike_across_pieces_get_a_track_each_highest_first(tmp_path):
    adapter, _ = fitted_on(midi_files.five_voices(tmp_path / "motet.mid"))
    assert adapter.layout.names == ("Cantus", "Altus", "Tenor", "Quintus", "Bassus")
    assert adapter.layout.programs == (52,) * 5


def test_polyphony_named_otherwise_in_every_piece_is_ranked_into_voice_slots():
    pieces = [
        [
            Part(f"{name}{number}", 52, False, pitch)
            for name, pitch in (("a", 70), ("b", 62), ("c", 50))
        ]
        for number in range(4)
    ]
    layout = infer_layout(pieces)
    assert (layout.mapping, layout.names) == ("voices", ("Voice 1", "Voice 2", "Voice 3"))


def test_more_voices_than_slots_leave_out_inner_voices_never_the_bass():
    from muse_gan.modalities.midi.layout import Layout
    from muse_gan.modalities.midi.view import part_tracks

    heights = (79, 74, 70, 67, 64, 60, 55, 43)  # eight voices, the bass lowest
    parts = [Part(f"v{number}", 52, False, pitch) for number, pitch in enumerate(heights)]
    layout = Layout("voices", tuple(f"Voice {n}" for n in range(1, 7)), (52,) * 6)
    tracks = part_tracks(layout, parts, 6)
    assert list(tracks) == [0, 1, 2, 3, 4, -1, -1, 5]


def test_parts_beyond_a_families_layout_fold_into_their_familys_track(tmp_path):
    piece = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for program, pitch in (
        (0, 72),
        (1, 60),
        (33, 36),
        (118, 50),
    ):  # two pianos, a bass, a synth drum (sfx)
        part = pretty_midi.Instrument(program, name=f"p{program}")
        part.notes.append(pretty_midi.Note(80, pitch, 0.0, 2.0))
        piece.instruments.append(part)
    path = tmp_path / "fold.mid"
    piece.write(str(path))
    adapter, pieces = fitted_on(
        path,
        settings=dataclasses.replace(
            AUTO, track_mapping="families", track_names=("Bass", "Piano"), programs=(33, 0)
        ),
    )
    roll = roll_of(adapter, pieces[0])
    assert (
        roll[1, 0, 72 - 28] and roll[1, 0, 60 - 28] and roll[0, 0, 36 - 28]
    )  # both pianos in one track
    assert "1 part that fits no track dropped" in adapter.fitted(pieces).fit_summary


def test_forty_tracks_of_one_program_are_one_track(tmp_path):
    piece = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for number in range(40):
        part = pretty_midi.Instrument(48, name="Strings")
        part.notes.append(pretty_midi.Note(80, 40 + number, number * 0.05, 2.5))
        piece.instruments.append(part)
    path = tmp_path / "orchestra.mid"
    piece.write(str(path))
    adapter, pieces = fitted_on(path)
    assert adapter.layout.names == ("Strings",)
    assert roll_of(adapter, pieces[0])[0, 19, :].sum() == 40  # every part's note still sounds


# drums


def test_drums_are_onsets_on_their_own_track_and_go_back_to_channel_ten(tmp_path):
    adapter, pieces = fitted_on(midi_files.band_trio(tmp_path / "trio.mid"))
    roll = roll_of(adapter, pieces[0])
    drums = roll[0, :, : adapter.pitches]
    kicks = drums[:, midi_files.KICK - 28]
    assert kicks.tolist()[:13] == [1] + [0] * 11 + [1]  # one step per hit, a hit every bar of 3/4
    piece = adapter.piece(torch.from_numpy(roll), tempo=120.0)
    (drum_part,) = [part for part in piece.instruments if part.is_drum]
    assert all(note.end - note.start == pytest.approx(60 / 120 / 4) for note in drum_part.notes)
    channels = {
        message.channel
        for track in mido.MidiFile(file=io.BytesIO(piece.file_bytes(".mid"))).tracks
        for message in track
        if message.type == "note_on"
    }
    assert 9 in channels  # General MIDI's channel 10, counted from 0


def test_drums_only_is_a_drums_track(tmp_path):
    piece = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    kit = pretty_midi.Instrument(0, is_drum=True, name="Kit")
    kit.notes = [
        pretty_midi.Note(100, midi_files.KICK, beat * 0.5, beat * 0.5 + 0.1) for beat in range(8)
    ]
    piece.instruments.append(kit)
    piece.write(str(tmp_path / "beat.mid"))
    adapter, _ = fitted_on(tmp_path / "beat.mid")
    assert (adapter.layout.names, adapter.layout.drums) == (("Drums",), (0,))


# dynamics


def test_varied_velocities_are_modelled_and_written_back(tmp_path):
    adapter, pieces = fitted_on(midi_files.band_trio(tmp_path / "trio.mid"))
    assert (
        adapter.settings.dynamics == "on" and adapter.spec.width == 2 * adapter.pitches + 8
    )  # where notes sound, start, and how loud
    piece = adapter.piece(torch.from_numpy(roll_of(adapter, pieces[0])), tempo=120.0)
    bass = next(part for part in piece.instruments if part.name == "Bass")
    per_bar = [
        round(
            np.mean(
                [note.velocity for note in bass.notes if bar * 1.5 <= note.start < (bar + 1) * 1.5]
            )
        )
        for bar in range(4)
    ]
    assert (
        per_bar == sorted(per_bar) and len(set(per_bar)) == 4
    )  # the crescendo comes back, bin by bin
    assert all(abs(written - asked) <= 8 for written, asked in zip(per_bar, (50, 70, 90, 110)))


def test_one_velocity_in_the_data_is_the_velocity_of_every_note(tmp_path):
    adapter, pieces = fitted_on(midi_files.jig(tmp_path / "jig.mid"))
    assert (adapter.settings.dynamics, adapter.settings.velocity) == ("off", 90)
    piece = adapter.piece(torch.from_numpy(roll_of(adapter, pieces[0])))
    assert {note.velocity for part in piece.instruments for note in part.notes} == {90}
    flat = adapter.piece(torch.from_numpy(roll_of(adapter, pieces[0])), velocity=64)
    assert {note.velocity for part in flat.instruments for note in part.notes} == {64}


# meters


def test_a_jig_is_read_in_six_eight_and_written_in_it(tmp_path):
    adapter, pieces = fitted_on(midi_files.jig(tmp_path / "jig.mid"))
    assert (adapter.meter, adapter.steps_per_bar) == (
        "6/8",
        12,
    )  # a bar of 6 eighths: 12 sixteenths
    roll = roll_of(adapter, pieces[0])
    assert roll.shape[1] == 4 * 12
    piece = adapter.piece(torch.from_numpy(roll))
    assert [(sig.numerator, sig.denominator) for sig in piece.time_signature_changes] == [(6, 8)]
    assert piece.bars == 4


def test_several_meters_condition_the_model_and_each_composes_in_its_own(tmp_path):
    adapter, pieces = fitted_on(
        midi_files.jig(tmp_path / "jig.mid"), midi_files.piano_solo(tmp_path / "solo.mid")
    )
    assert adapter.conditions == ("meter",) and set(adapter.classes) == {"6/8", "4/4"}
    assert dict(zip(adapter.classes, adapter.spec.class_periods)) == {"6/8": 12, "4/4": 16}
    assert [segment.label for segment in adapter.model_view(pieces)] == ["6/8", "4/4"]
    config = load_config(None, ["model.hidden=16", "model.head_hidden=16", "model.layers=1"])
    config = config.with_section("midi", adapter.settings)
    model = MuseModel(build_objective(adapter, config).eval(), adapter, config, tmp_path)
    jig = model.compose(bars=3, seed=0, meter="6/8")
    assert jig.roll.shape[1] == 36 and jig.meter == "6/8"
    written = pretty_midi.PrettyMIDI(io.BytesIO(jig.file_bytes(".mid")))
    assert [(sig.numerator, sig.denominator) for sig in written.time_signature_changes] == [(6, 8)]
    with pytest.raises(MuseError, match="--meter 5/4: the model knows 4/4, 6/8"):
        model.compose(bars=2, meter="5/4")


def test_a_meter_composes_with_its_own_pulls_where_the_config_gives_them(tmp_path):
    files = (midi_files.jig(tmp_path / "jig.mid"), midi_files.piano_solo(tmp_path / "solo.mid"))
    jigs = {"6/8": {"rest_hold": 3.0, "note_hold": -1.0}}
    adapter, _ = fitted_on(*files, settings=dataclasses.replace(AUTO, class_pulls=jigs))
    config = load_config(None, ["model.hidden=16", "model.head_hidden=16", "model.layers=1"])
    config = config.with_section("midi", adapter.settings)
    model = MuseModel(build_objective(adapter, config).eval(), adapter, config, tmp_path)
    for seed in range(3):
        own = model.compose(bars=3, seed=seed, meter="6/8").roll
        assert torch.equal(own, model.compose(3, seed=seed, meter="6/8", **jigs["6/8"]).roll)
        plain = model.compose(3, seed=seed, meter="4/4").roll  # the model's midi.rest_hold: 0
        assert torch.equal(plain, model.compose(3, seed=seed, meter="4/4", rest_hold=0).roll)
    asked = {"rest_hold": 0.0, "note_hold": 0.0}  # a pull asked still wins over the meter's
    assert any(
        not torch.equal(
            model.compose(3, seed=seed, meter="6/8").roll,
            model.compose(3, seed=seed, meter="6/8", **asked).roll,
        )
        for seed in range(3)
    )
    typo = dataclasses.replace(AUTO, class_pulls={"7/8": {"rest_hold": 1.0}})
    with pytest.raises(
        ConfigError,
        match=r"^midi.class_pulls: '7/8' is not a class of this model \(its classes: 4/4, 6/8\)$",
    ):
        fitted_on(*files, settings=typo)
    with pytest.raises(ConfigError, match=r"\(its classes: none: it is not conditioned\)"):
        fitted_on(files[0], settings=dataclasses.replace(AUTO, class_pulls=jigs))


def test_new_data_a_model_cannot_see_is_left_out_with_the_reason(tmp_path):
    # fine-tuning a 4/4 and 6/8 model on a waltz: the error names the meter, not the length
    adapter, pieces = fitted_on(
        midi_files.jig(tmp_path / "jig.mid", bars=12),
        midi_files.piano_solo(tmp_path / "solo.mid", bars=12),
    )
    _, waltz = fitted_on(midi_files.band_trio(tmp_path / "trio.mid", bars=12))
    assert adapter.viewed(pieces)[1] == ""
    assert adapter.viewed(waltz)[1] == "1 stretch in other meters than 4/4, 6/8"
    assert adapter.model_view(waltz) == []
    with pytest.raises(MuseError, match=r"^none of the 1 training pieces fits this model \(1 "):
        samplers(adapter, {"train": waltz, "valid": []}, seed=0)


def test_class_balance_draws_a_rare_meter_as_often_as_asked(tmp_path):
    adapter, pieces = fitted_on(
        midi_files.jig(tmp_path / "jig.mid", bars=6),
        midi_files.piano_solo(tmp_path / "solo.mid", bars=40),
    )
    parts = {"train": pieces, "valid": []}

    def shares(balance: float):
        train, twin = (samplers(adapter, parts, 0, class_balance=balance)[0] for _ in range(2))
        # a batch's windows are the ones picked: their classes too
        assert torch.equal(train.batch(16)[1], twin.labels[twin.picks(16)])
        drawn = train.labels[train.picks(10_000)]
        return torch.bincount(drawn, minlength=2).double() / len(drawn), train

    natural, plain = shares(0.0)
    held = torch.bincount(plain.labels, minlength=2).double()
    held /= held.sum()
    assert held.min() < 0.15  # the jig's windows are few
    assert torch.allclose(natural, held, atol=0.02)
    even, train = shares(1.0)
    assert torch.allclose(even, torch.full((2,), 0.5, dtype=torch.float64), atol=0.02)
    between, _ = shares(0.5)  # a class of n windows drawn as the square root of n
    assert torch.allclose(between, held.sqrt() / held.sqrt().sum(), atol=0.02)
    # within a class every window is drawn, and a restored sampler draws what it would have
    rare = int(held.argmin())
    picks = train.picks(4000)
    assert set(picks[train.labels[picks] == rare].tolist()) == set(
        torch.nonzero(train.labels == rare).flatten().tolist()
    )
    state = train.state()
    expected = train.picks(64)
    again = samplers(adapter, parts, seed=99, class_balance=1.0)[0]
    again.restore(state)
    assert torch.equal(again.picks(64), expected)


def test_class_balance_for_data_without_classes_is_one_clear_line(tmp_path):
    adapter, pieces = fitted_on(midi_files.piano_solo(tmp_path / "solo.mid", bars=8))
    with pytest.raises(
        ConfigError,
        match=r"^train.class_balance: 0.5: the data gives this model no classes: nothing to "
        r"balance \(leave it 0\)$",
    ):
        samplers(adapter, {"train": pieces, "valid": []}, seed=0, class_balance=0.5)


def three_four_then_six_eight(path, change: float, starts: list[float]):
    """The segments of a flute line at 120 a minute (a 3/4 bar 1.5 s, 12 steps; a 6/8 bar as
    long) in 3/4, then in 6/8 from ``change`` seconds, eighth notes from ``starts``."""
    piece = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piece.time_signature_changes = [
        pretty_midi.TimeSignature(3, 4, 0.0),
        pretty_midi.TimeSignature(6, 8, change),
    ]
    part = pretty_midi.Instrument(0, name="Flute")
    part.notes = [pretty_midi.Note(80, 60 + n % 5, t, t + 0.5) for n, t in enumerate(starts)]
    piece.instruments.append(part)
    settings = dataclasses.replace(AUTO, conditions=("meter",))
    adapter, pieces = fitted_on(midi_files.write(piece, path), settings=settings)
    return adapter, adapter.model_view(pieces)


def test_a_piece_whose_meter_changes_is_cut_at_the_change(tmp_path):
    _, segments = three_four_then_six_eight(
        tmp_path / "changing.mid", 3.0, [step * 0.5 for step in range(12)]
    )
    assert [(s.info["first"], s.info["steps"], s.label) for s in segments] == [
        (0, 24, "3/4"),
        (24, 24, "6/8"),
    ]


def test_a_piece_opens_at_its_first_bar_that_sounds(tmp_path):
    # two silent bars (a count-in), then a pickup of one beat (the last of bar 2), then a bar
    # of three beats; and after a change to 6/8 at bar 4, a silent bar before the 6/8 music
    starts = [4.0, 4.5, 5.0, 5.5] + [7.5 + 0.5 * step for step in range(6)]
    adapter, segments = three_four_then_six_eight(tmp_path / "count-in.mid", 6.0, starts)
    # the 3/4 stretch opens on its pickup's bar (2), the 6/8 one on its second bar (5), two
    # bars long
    assert [(s.info["first"], s.info["steps"], s.label) for s in segments] == [
        (24, 24, "3/4"),
        (60, 24, "6/8"),
    ]
    first_bar = adapter.tensor_of(segments[0]).numpy()[:, :12, : adapter.pitches].any(axis=(0, 2))
    assert first_bar.tolist() == [False] * 8 + [True] * 4  # the pickup: the bar's last beat


def test_a_meter_change_in_every_bar_reads_without_trouble(tmp_path):
    piece = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piece.time_signature_changes = [
        pretty_midi.TimeSignature(3 if bar % 2 else 4, 4, bar * 2.0) for bar in range(8)
    ]
    part = pretty_midi.Instrument(0, name="Piano")
    part.notes = [pretty_midi.Note(80, 60, beat * 0.5, beat * 0.5 + 0.5) for beat in range(28)]
    piece.instruments.append(part)
    piece.write(str(tmp_path / "restless.mid"))
    adapter, pieces = fitted_on(tmp_path / "restless.mid")
    assert len(adapter.model_view(pieces)) >= 1


def test_tempo_changes_do_not_move_notes_off_the_grid(tmp_path):
    piece = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    part = pretty_midi.Instrument(0, name="Piano")
    # beats 4 to 6 at 120 qpm; the file then slows down at beat 4, so they last longer in seconds
    part.notes = [pretty_midi.Note(80, 60, 0.0, 0.5), pretty_midi.Note(80, 62, 2.0, 3.0)]
    piece.instruments.append(part)
    path = tmp_path / "slower.mid"
    piece.write(str(path))
    midi = mido.MidiFile(str(path))
    midi.tracks[0].insert(
        1, mido.MetaMessage("set_tempo", tempo=1_000_000, time=4 * midi.ticks_per_beat)
    )
    midi.save(str(path))
    adapter, pieces = fitted_on(path)
    roll = roll_of(adapter, pieces[0])
    # beats 4 to 6 are steps 16 to 23 whatever the tempo there
    assert roll[0, 16:24, 62 - 28].all() and not roll[0, 24, 62 - 28]


# bad input


def test_notes_far_outside_any_range_leave_the_others(tmp_path):
    piece = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    part = pretty_midi.Instrument(0, name="Piano")
    part.notes = [
        pretty_midi.Note(80, 2, 0.0, 1.0),
        pretty_midi.Note(80, 127, 0.0, 1.0),
        pretty_midi.Note(80, 60, 0.0, 1.0),
    ]
    piece.instruments.append(part)
    piece.write(str(tmp_path / "wide.mid"))
    adapter, pieces = fitted_on(tmp_path / "wide.mid")
    assert roll_of(adapter, pieces[0])[0].sum() == 8  # the one in range, two beats of 16ths


def test_velocity_zero_note_ons_end_notes_and_overlapping_notes_merge(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track += [
        mido.Message("note_on", note=60, velocity=90, time=0),
        mido.Message("note_on", note=60, velocity=0, time=480),  # a note-off written as a note-on
        mido.Message("note_on", note=60, velocity=90, time=0),
        mido.Message(
            "note_on", note=60, velocity=90, time=240
        ),  # the same pitch again, overlapping
        mido.Message("note_off", note=60, time=240),
        mido.Message("note_off", note=60, time=0),
    ]
    midi.tracks.append(track)
    midi.save(str(tmp_path / "sloppy.mid"))
    adapter, pieces = fitted_on(tmp_path / "sloppy.mid")
    assert roll_of(adapter, pieces[0])[0, :, 60 - 28].tolist()[:9] == [1] * 8 + [0]


def test_a_type_two_file_is_refused_in_one_line(tmp_path):
    midi = mido.MidiFile(type=2)
    midi.tracks.append(
        mido.MidiTrack(
            [mido.Message("note_on", note=60), mido.Message("note_off", note=60, time=480)]
        )
    )
    midi.save(str(tmp_path / "patterns.mid"))
    with pytest.raises(DataError, match="patterns.mid: a type-2 MIDI file"):
        PianoRollAdapter(AUTO).read(tmp_path / "patterns.mid")


def test_a_folder_with_nothing_usable_is_one_error_naming_the_commonest_reasons(tmp_path):
    from muse_gan.core.store import prepare, source_files

    for number in range(3):
        (tmp_path / f"broken{number}.mid").write_bytes(b"MThd garbage")
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "zero.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x00")
    files = source_files(str(tmp_path), PianoRollAdapter.suffixes)
    with pytest.raises(
        MuseError,
        match=r"no usable pieces in 5 files \(4 × not a readable MIDI file; 1 × its header",
    ):
        prepare(PianoRollAdapter(AUTO), files, quiet=True)
