"""`muse play`'s scheduling against in-memory ports: each message sent at its beat (on a
virtual clock exactly, in real time within a few milliseconds), every note ended on stop, a
MIDI clock followed; the composer's chunks continue one another; a real ALSA virtual port
where the machine has a sequencer."""

from __future__ import annotations

import os
import threading
import time

import mido
import pytest

from muse_gan.live import Composer, MidiClock, Player, TempoClock, beats_of, feed, piece_events
from muse_gan.live.schedule import Event


class RecordingPort:
    """An output port that notes what it was sent, and when (by ``clock``'s beat and real time)."""

    name = "recording"

    def __init__(self, clock=None):
        self.clock, self.sent = clock, []

    def send(self, message):
        beat = self.clock.beat() if self.clock else None
        self.sent.append((beat, time.monotonic(), message))

    def close(self):
        pass


class VirtualClock:
    """Beats that pass only when waited for: the schedule checked without real time."""

    def __init__(self):
        self.now = 0.0

    def beat(self):
        return self.now

    def wait_until(self, beat, stop):
        self.now = max(self.now, beat)


def note(kind, pitch, channel=0):
    return mido.Message(kind, note=pitch, channel=channel, velocity=64 if kind == "note_on" else 0)


def test_each_message_goes_out_at_its_beat():
    clock = VirtualClock()
    port = RecordingPort(clock)
    player = Player(port, clock)
    player.add([Event(1.0, 1, note("note_on", 60)), Event(0.0, 1, note("note_on", 64))])
    player.add(
        [Event(2.0, 0, note("note_off", 60)), Event(0.5, 0, note("note_off", 64))], last=True
    )
    player.play()
    sent = [
        (beat, message.type, message.note)
        for beat, _, message in port.sent
        if message.type != "control_change"
    ]
    assert sent == [
        (0.0, "note_on", 64),
        (0.5, "note_off", 64),
        (1.0, "note_on", 60),
        (2.0, "note_off", 60),
    ]


def test_real_time_follows_the_tempo():
    tempo = 600.0  # a beat every 100 ms
    events = [Event(beat / 4, 1, note("note_on", 60 + beat)) for beat in range(8)]
    clock = TempoClock(tempo)
    port = RecordingPort()
    player = Player(port, clock)
    player.add(events, last=True)
    player.play()
    started = clock.started
    lateness = [
        sent_at - started - event.beat * 60 / tempo
        for (_, sent_at, _), event in zip(port.sent, events)
    ]
    assert all(0 <= late < 0.02 for late in lateness), lateness


def test_stopping_ends_every_sounding_note():
    clock = VirtualClock()
    port = RecordingPort(clock)
    player = Player(port, clock)
    player.add([Event(0.0, 1, note("note_on", 60, 0)), Event(0.0, 1, note("note_on", 48, 3))])
    player.add([Event(4.0, 0, note("note_off", 60, 0))])

    def stop_at_beat_one(beat, stop):
        if beat > 1:
            stop.set()
        clock.now = min(beat, 1)

    clock.wait_until = stop_at_beat_one
    player.play()
    after = [message for _, _, message in port.sent[2:]]
    assert [(m.type, m.channel, getattr(m, "note", None)) for m in after] == [
        ("note_off", 0, 60),
        ("note_off", 3, 48),
        ("control_change", 0, None),
        ("control_change", 3, None),
    ]
    assert all(m.control == 123 for m in after[2:])


def test_a_midi_clock_moves_the_beat_24_ticks_at_a_time():
    clock = MidiClock()
    stop = threading.Event()
    clock.receive(mido.Message("clock"))  # before start: not counted
    clock.receive(mido.Message("start"))
    for _ in range(36):
        clock.receive(mido.Message("clock"))
    assert clock.beat() == 1.5
    clock.receive(mido.Message("stop"))
    clock.receive(mido.Message("clock"))
    assert clock.beat() == 1.5
    waiting = threading.Thread(target=clock.wait_until, args=(2.0, stop))
    waiting.start()
    clock.receive(mido.Message("continue"))
    for _ in range(12):
        clock.receive(mido.Message("clock"))
    waiting.join(2)
    assert not waiting.is_alive()


@pytest.fixture(scope="module")
def bach():
    import muse_gan

    return muse_gan.load("bach-rnn")


def test_chunks_continue_each_other_and_fill_the_bars_asked_for(bach):
    composer = Composer(bach, seed=3, tempo=120, chunk_bars=2)
    pieces = list(composer.pieces(bars=5))
    assert [piece.bars for piece in pieces] == [2, 2, 1]
    second = bach.compose(3, 4, 1.0, 120, primer=composer._last_bar(pieces[0]))
    assert (second.roll[:, bach.adapter.steps_per_bar :] == pieces[1].roll).all()


def test_a_model_told_its_bar_numbers_goes_on_from_the_bar_each_chunk_is_at():
    import muse_gan

    folk = muse_gan.load("folk-melody")  # model.bar_numbers = 8
    composer = Composer(folk, seed=0, tempo=120, chunk_bars=2)
    pieces = list(composer.pieces(bars=6))
    bar = folk.adapter.steps_per_bar
    for number in (1, 2):  # chunk 2 continues bar 2 of the whole, chunk 3 bar 4
        tail = composer._last_bar(pieces[number - 1])
        whole = folk.compose(3, number, 1.0, 120, primer=tail, first_bar=2 * number)
        assert (whole.roll[:, bar:] == pieces[number].roll).all()
    # each chunk's last bar read as an opening (bar 1), the chunks would have been others
    as_openings = [
        folk.compose(3, number, 1.0, 120, primer=composer._last_bar(pieces[number - 1]))
        for number in (1, 2)
    ]
    assert any(
        not (opening.roll[:, bar:] == piece.roll).all()
        for opening, piece in zip(as_openings, pieces[1:])
    )
    # played on for hours, past any bar number an option takes: bar 100,001 is heard as bar 9
    far, ninth = (composer._next(2, 5, tail, made).roll for made in (100_001, 9))
    assert (far == ninth).all()


def test_a_models_chunks_go_out_one_after_another(bach):
    clock = VirtualClock()
    port = RecordingPort(clock)
    player = Player(port, clock)
    pieces = list(Composer(bach, seed=1, tempo=120, chunk_bars=1).pieces(bars=3))
    feeding = threading.Thread(target=feed, args=(player, iter(pieces), 0.0, 8.0))
    feeding.start()
    player.play()
    feeding.join()
    starts = [beat for beat, _, message in port.sent if message.type == "note_on"]
    expected = sorted(
        event.beat
        for number, piece in enumerate(pieces)
        for event in piece_events(piece, number * beats_of(piece))
        if event.message.type == "note_on"
    )
    assert starts == expected and max(starts) >= 8  # the third bar played


@pytest.mark.skipif(
    not os.path.exists("/dev/snd/seq"), reason="no ALSA sequencer here (/dev/snd/seq is missing)"
)
def test_notes_reach_a_real_virtual_port():
    received = []
    with mido.open_output("muse test out", virtual=True) as output:
        name = next(name for name in mido.get_input_names() if "muse test out" in name)
        with mido.open_input(name, callback=received.append):
            player = Player(output, TempoClock(600))
            player.add(
                [Event(0.0, 1, note("note_on", 60)), Event(0.5, 0, note("note_off", 60))], last=True
            )
            player.play()
            time.sleep(0.2)
    assert [message.type for message in received][:2] == ["note_on", "note_off"]


def test_muse_play_refuses_a_port_it_cannot_open_in_one_line():
    from click.testing import CliRunner

    from muse_gan.cli import main

    result = CliRunner().invoke(main, ["play", "--port", "no such port", "--seed", "1"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: --port") and result.output.count("\n") == 1


def test_muse_play_takes_one_of_port_and_virtual():
    from click.testing import CliRunner

    from muse_gan.cli import main

    result = CliRunner().invoke(main, ["play", "--port", "a", "--virtual", "b"])
    assert result.exit_code == 1 and "--port/--virtual: give one of them" in result.output
