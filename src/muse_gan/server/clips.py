"""Clips in a request ⇄ pretty_midi pieces, within the server's size limits.

A clip in notes is timed in beats; its voices become tracks named after the model's voices,
so a silent voice keeps its place (the adapter matches parts by name). A piece goes out as
notes timed in beats, read from its ticks so that a 16th note is exactly 0.25.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import pretty_midi

from ..errors import MuseError

DEFAULT_TEMPO = 120.0  # a notes clip without a tempo: the MIDI standard's default


class Refused(MuseError):
    """A request the server turns away as a whole; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; each refusal names the field and the limit."""

    bars: int = 64
    clip_bytes: int = 1_000_000
    notes: int = 10_000
    seconds: float = 30.0

    def check_bars(self, bars: int, field: str = "bars") -> None:
        if not 1 <= bars <= self.bars:
            raise Refused(
                422, f"{field}: {bars} is not from 1 to {self.bars} (the server's --max-bars)"
            )


def clip_piece(clip, field: str, limits: Limits, voices: tuple[str, ...] = ()):
    """The ``ClipIn`` of request field ``field`` as a ``pretty_midi.PrettyMIDI``; a
    ``MuseError`` naming the field when it is too big or unreadable."""
    if clip.midi is not None:
        return _midi_piece(clip.midi, f"{field}.midi", limits)
    if len(clip.notes) > limits.notes:
        raise Refused(
            413,
            f"{field}.notes: {len(clip.notes)} notes, over the server's limit of {limits.notes}",
        )
    return notes_piece(clip.notes, clip.tempo or DEFAULT_TEMPO, voices)


def _midi_piece(encoded: str, field: str, limits: Limits):
    if len(encoded) * 3 // 4 > limits.clip_bytes:
        raise Refused(
            413,
            f"{field}: about {len(encoded) * 3 // 4} bytes, over the server's limit of "
            f"{limits.clip_bytes} (--max-clip-bytes)",
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MuseError(f"{field}: not base64") from None
    if data[:4] != b"MThd":
        raise MuseError(f"{field}: not a standard MIDI file (it does not start with MThd)")
    try:
        piece = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as error:  # mido and pretty_midi raise many kinds on bad bytes
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MuseError(f"{field}: not a readable MIDI file ({reason})") from None
    notes = sum(len(part.notes) for part in piece.instruments)
    if notes > limits.notes:
        raise Refused(413, f"{field}: {notes} notes, over the server's limit of {limits.notes}")
    return piece


def notes_piece(notes, tempo: float, voices: tuple[str, ...] = ()) -> pretty_midi.PrettyMIDI:
    """Notes (``pitch``, ``start``/``end`` in beats, ``velocity``, ``voice``) as a piece at
    ``tempo``; voice N becomes a part named ``voices[N]`` where the model has such a voice."""
    piece = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    seconds_per_beat = 60.0 / tempo
    parts: dict[int, pretty_midi.Instrument] = {}
    for note in notes:
        if note.voice not in parts:
            name = voices[note.voice] if note.voice < len(voices) else f"Voice {note.voice + 1}"
            parts[note.voice] = pretty_midi.Instrument(0, name=name)
        parts[note.voice].notes.append(
            pretty_midi.Note(
                note.velocity,
                note.pitch,
                note.start * seconds_per_beat,
                note.end * seconds_per_beat,
            )
        )
    piece.instruments = [parts[voice] for voice in sorted(parts)]
    return piece


def piece_notes(piece) -> dict:
    """A model's ``Piece`` as JSON: its notes timed in beats, tempo, bars, meter and voices."""
    resolution = piece.resolution
    notes = [
        {
            "pitch": note.pitch,
            "start": piece.time_to_tick(note.start) / resolution,
            "end": piece.time_to_tick(note.end) / resolution,
            "velocity": note.velocity,
            "voice": voice,
        }
        for voice, part in enumerate(piece.instruments)
        for note in part.notes
    ]
    notes.sort(key=lambda note: (note["start"], note["voice"], note["pitch"]))
    signature = piece.time_signature_changes[0] if piece.time_signature_changes else None
    return {
        "tempo": piece.tempo,
        "bars": piece.bars,
        "meter": f"{signature.numerator}/{signature.denominator}" if signature else "4/4",
        "voices": [part.name for part in piece.instruments],
        "notes": notes,
    }
