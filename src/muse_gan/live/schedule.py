"""Sending a piece's notes to a MIDI port in time: events timed in beats, clocks that say
which beat it is, and the player that sends each event when its beat comes.

Times are beats (quarter notes) from the start of playing; a clock turns them into waiting,
at a fixed tempo (``TempoClock``) or following a MIDI clock from another device
(``MidiClock``, 24 ticks per beat). Whatever stops the player, every note it started is ended
(a note-off each, then "all notes off" on every channel it used).
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, field

import mido

TICKS_PER_BEAT = 24  # MIDI clock


@dataclass(order=True)
class Event:
    beat: float
    order: int  # ties: note-offs before note-ons at the same beat, then in the order made
    message: mido.Message = field(compare=False)


def piece_events(piece, first_beat: float = 0.0) -> list[Event]:
    """A pretty_midi piece's notes as note-on/off events from ``first_beat``, voice N on channel N."""
    seconds_per_beat = 60.0 / piece.tempo
    events = []
    for channel, part in enumerate(piece.instruments):
        for note in part.notes:
            start = first_beat + note.start / seconds_per_beat
            end = first_beat + note.end / seconds_per_beat
            events.append(
                Event(
                    start,
                    1,
                    mido.Message(
                        "note_on", channel=channel, note=note.pitch, velocity=note.velocity
                    ),
                )
            )
            events.append(Event(end, 0, mido.Message("note_off", channel=channel, note=note.pitch)))
    return sorted(events)


class TempoClock:
    """Beats at a fixed ``tempo`` (quarter notes per minute) from the moment it is made."""

    def __init__(self, tempo: float, timer=time.monotonic):
        self.tempo, self.timer = tempo, timer
        self.started = timer()

    def beat(self) -> float:
        return (self.timer() - self.started) * self.tempo / 60.0

    def wait_until(self, beat: float, stop: threading.Event) -> None:
        """Returns when ``beat`` comes, or at once when ``stop`` is set."""
        while not stop.is_set():
            left = (beat - self.beat()) * 60.0 / self.tempo
            if left <= 0:
                return
            stop.wait(left)


class MidiClock:
    """Beats counted from a MIDI clock (24 ticks a beat) arriving through ``tick``; "start"
    counts from zero again, "stop" holds the count, "continue" goes on."""

    def __init__(self):
        self.ticks, self.running = 0, False
        self.changed = threading.Condition()

    def receive(self, message: mido.Message) -> None:
        with self.changed:
            if message.type == "start":
                self.ticks, self.running = 0, True
            elif message.type == "continue":
                self.running = True
            elif message.type == "stop":
                self.running = False
            elif message.type == "clock" and self.running:
                self.ticks += 1
            self.changed.notify_all()

    def beat(self) -> float:
        return self.ticks / TICKS_PER_BEAT

    def wait_until(self, beat: float, stop: threading.Event) -> None:
        with self.changed:
            while not stop.is_set() and self.beat() < beat:
                self.changed.wait(0.1)  # wakes for stop, too


class Player:
    """Sends events to ``port`` as ``clock`` reaches their beats; events come from ``add``
    (another thread may add while playing). ``sounding`` holds the notes started and not ended."""

    def __init__(self, port, clock, stop: threading.Event | None = None):
        self.port, self.clock = port, clock
        self.stop = stop or threading.Event()
        self.queue: list[Event] = []
        self.arrived = threading.Condition()
        self.sounding: set[tuple[int, int]] = set()
        self.channels: set[int] = set()
        self.finished = False  # no more events will come

    def add(self, events: list[Event], last: bool = False) -> None:
        with self.arrived:
            for event in events:
                heapq.heappush(self.queue, event)
            self.finished = self.finished or last
            self.arrived.notify_all()

    def play(self) -> None:
        """Until stopped or out of events; then every sounding note is ended."""
        try:
            while not self.stop.is_set():
                event = self._next()
                if event is None:
                    return
                self.clock.wait_until(event.beat, self.stop)
                if not self.stop.is_set():
                    self._send(event.message)
        finally:
            self.silence()

    def _next(self) -> Event | None:
        with self.arrived:
            while not self.queue and not self.finished and not self.stop.is_set():
                self.arrived.wait(0.1)
            return heapq.heappop(self.queue) if self.queue and not self.stop.is_set() else None

    def _send(self, message: mido.Message) -> None:
        if message.type == "note_on":
            self.sounding.add((message.channel, message.note))
            self.channels.add(message.channel)
        elif message.type == "note_off":
            self.sounding.discard((message.channel, message.note))
        self.port.send(message)

    def silence(self) -> None:
        """A note-off for every note still sounding, then "all notes off" on every channel used."""
        for channel, note in sorted(self.sounding):
            self.port.send(mido.Message("note_off", channel=channel, note=note))
        self.sounding.clear()
        for channel in sorted(self.channels):
            self.port.send(mido.Message("control_change", channel=channel, control=123, value=0))
