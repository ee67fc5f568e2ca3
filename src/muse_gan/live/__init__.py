"""`muse play`: a model composing bar after bar into a MIDI output port, in time, until stopped.

    >>> from muse_gan.live import play
    >>> play(model="bach-rnn", virtual="muse_gan", tempo=90)     # until Ctrl-C or SIGTERM

The model composes a few bars at a time and keeps a fixed number of bars ahead of what is
sounding; each new chunk continues the last bar of the one before (a model that accompanies a
melody, such as bach-gan, composes each chunk afresh instead). The notes go out at a fixed
tempo or following a MIDI clock from another device; when playing stops, every note started
is ended.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading

from ..errors import MuseError
from .schedule import Event, MidiClock, Player, TempoClock, piece_events

ALSA_SEQUENCER = "/dev/snd/seq"

__all__ = ["Composer", "Event", "MidiClock", "Player", "TempoClock", "piece_events", "play"]


class Composer:
    """Successive pieces of ``chunk_bars`` bars from a loaded model, each continuing the last
    bar of the one before, with seeds ``seed``, ``seed + 1``, ..."""

    def __init__(self, muse, seed: int = 0, temperature: float = 1.0, tempo=None, chunk_bars=2):
        from ..server.models import accompanies

        self.muse, self.seed, self.temperature, self.tempo = muse, seed, temperature, tempo
        self.chunk_bars = chunk_bars
        self.continues = accompanies(muse) is None

    def pieces(self, bars: int | None = None):
        """Pieces until ``bars`` bars in all (forever with None); the last may be shorter."""
        tail, made = None, 0
        for number in itertools.count():
            length = self.chunk_bars if bars is None else min(self.chunk_bars, bars - made)
            if length <= 0:
                return
            piece = self._next(length, self.seed + number, tail, made)
            tail = self._last_bar(piece) if self.continues else None
            made += length
            yield piece

    def _next(self, bars: int, seed: int, tail, made: int):
        """The next ``bars`` bars after ``made``: continuing ``tail``, the last of them, as
        the bar of the whole it is (a model told its bar numbers goes on as a tune goes on)."""
        muse = self.muse
        if tail is None:
            return muse.compose(bars, seed, self.temperature, self.tempo)
        # the bar the model hears as bar ``made``: playing goes on past any bar number
        alike = muse.bar_alike(made)
        whole = muse.compose(
            bars + 1, seed, self.temperature, self.tempo, primer=tail, first_bar=alike
        )
        return muse.adapter.piece(whole.roll[:, muse.adapter.steps_per_bar :], whole.tempo)

    def _last_bar(self, piece):
        return self.muse.adapter.piece(
            piece.roll[:, -self.muse.adapter.steps_per_bar :], piece.tempo
        )


def beats_of(piece) -> float:
    signature = piece.time_signature_changes[0]
    return piece.bars * signature.numerator * 4 / signature.denominator


def opening_events(piece) -> list[Event]:
    """Each voice's program on its channel, before the first note."""
    import mido

    return [
        Event(0.0, -1, mido.Message("program_change", channel=channel, program=part.program))
        for channel, part in enumerate(piece.instruments)
    ]


def feed(player: Player, pieces, first_beat: float, lookahead_beats: float) -> None:
    """Adds each of ``pieces`` after the one before, keeping at most ``lookahead_beats``
    composed ahead of the player's clock; tells the player when there are no more."""
    start = first_beat
    try:
        for piece in pieces:
            player.add(piece_events(piece, start))
            start += beats_of(piece)
            while not player.stop.is_set() and start - player.clock.beat() > lookahead_beats:
                player.stop.wait(0.05)
            if player.stop.is_set():
                return
    except Exception as error:  # the music stops cleanly, with the reason on stderr
        print(f"muse play: composing failed ({type(error).__name__}: {error})", file=sys.stderr)
        player.stop.set()
    finally:
        player.add([], last=True)


def play(
    model=None,
    port: str | None = None,
    virtual: str | None = None,
    tempo: float | None = None,
    clock_in: str | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    bars: int | None = None,
    lookahead: int = 4,
    chunk_bars: int = 2,
) -> None:
    """Compose with ``model`` into a MIDI output (``port`` by name, or a new ``virtual`` one)
    until stopped or ``bars`` bars are played, ``lookahead`` bars ahead."""
    from ..api import load

    output = open_output(port, virtual)  # first: a missing port is refused before loading
    muse = load(model)
    muse.check_composes()
    composer = Composer(muse, seed, temperature, tempo, chunk_bars)
    pieces = composer.pieces(bars)
    first = next(pieces)
    clock, clock_port = _clock(clock_in, first.tempo)
    player = Player(output, clock)
    player.add(opening_events(first) + piece_events(first))
    lookahead_beats = lookahead * beats_of(first) / first.bars
    filling = threading.Thread(
        target=feed, args=(player, pieces, beats_of(first), lookahead_beats), daemon=True
    )
    filling.start()
    previous = signal.signal(signal.SIGTERM, lambda *_: player.stop.set())
    print(f"muse play: playing into {output.name} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        player.play()
    except KeyboardInterrupt:
        player.stop.set()  # play() has ended every note on its way out
    finally:
        signal.signal(signal.SIGTERM, previous)
        filling.join(5)
        output.close()
        if clock_port is not None:
            clock_port.close()
    print("muse play: stopped, all notes off", file=sys.stderr)


def _clock(clock_in: str | None, tempo: float):
    """A clock at ``tempo`` starting now, or a MIDI clock fed by the input port ``clock_in``."""
    if clock_in is None:
        return TempoClock(tempo), None
    import mido

    clock = MidiClock()
    name = _port_name(clock_in, mido.get_input_names(), "--clock-in", "input")
    return clock, _opened(lambda: mido.open_input(name, callback=clock.receive), "--clock-in")


def open_output(port: str | None, virtual: str | None):
    """The MIDI output named (exactly, or by a part only one name contains), the first one
    there is, or a new virtual port; a ``MuseError`` in one line when there is none."""
    import mido

    if virtual:
        return _opened(lambda: mido.open_output(virtual, virtual=True), f"--virtual {virtual}")
    names = _opened(mido.get_output_names, "--port")
    if port is None:
        if not names:
            raise MuseError(
                "--port: this machine has no MIDI outputs; give --virtual NAME to make one"
            )
        port = names[0]
    name = _port_name(port, names, "--port", "output")
    return _opened(lambda: mido.open_output(name), f"--port {port}")


def _port_name(wanted: str, names: list[str], option: str, kind: str) -> str:
    if wanted in names:
        return wanted
    matching = [name for name in names if wanted.lower() in name.lower()]
    if len(matching) == 1:
        return matching[0]
    known = ", ".join(names) or "none"
    reason = "names several" if matching else "is no"
    raise MuseError(f"{option} {wanted}: {reason} MIDI {kind} here (known: {known})")


def _opened(opening, option: str):
    if sys.platform.startswith("linux") and not os.path.exists(ALSA_SEQUENCER):
        # rtmidi would print ALSA's own complaint before failing; one line says it instead
        raise MuseError(
            f"{option}: no ALSA sequencer on this machine ({ALSA_SEQUENCER}); MIDI ports need "
            f"one (load the snd-seq module)"
        )
    try:
        return opening()
    except MuseError:
        raise
    except Exception as error:  # rtmidi's errors are of its own kinds
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MuseError(f"{option}: cannot open MIDI ({reason})") from None
