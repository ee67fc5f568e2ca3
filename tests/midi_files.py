"""Small MIDI files of the kinds composers bring, written with pretty_midi for the tests: a piano
solo, a trio with bass and drums in 3/4 with a crescendo, a 6/8 jig, a five-voice piece."""

from __future__ import annotations

from pathlib import Path

import pretty_midi

KICK, SNARE, HAT = 36, 38, 42  # General MIDI drum keys


def write(piece: pretty_midi.PrettyMIDI, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    piece.write(str(path))
    return path


def meter(
    piece: pretty_midi.PrettyMIDI, numerator: int, denominator: int
) -> pretty_midi.PrettyMIDI:
    piece.time_signature_changes = [pretty_midi.TimeSignature(numerator, denominator, 0.0)]
    return piece


def piano_solo(path: Path, bars: int = 4, shift: int = 0) -> Path:
    """Two hands of a piano (program 0) in 4/4 at 120: a melody in eighths over whole-note chords."""
    piece = meter(pretty_midi.PrettyMIDI(initial_tempo=120.0), 4, 4)
    right, left = (
        pretty_midi.Instrument(0, name="Piano RH"),
        pretty_midi.Instrument(0, name="Piano LH"),
    )
    for bar in range(bars):
        for eighth in range(8):
            start = bar * 2.0 + eighth * 0.25
            right.notes.append(
                pretty_midi.Note(
                    80, 72 + shift + (0, 2, 4, 5, 7, 5, 4, 2)[eighth], start, start + 0.25
                )
            )
        for pitch in (48, 55, 64):
            left.notes.append(pretty_midi.Note(70, pitch + shift, bar * 2.0, bar * 2.0 + 2.0))
    piece.instruments += [right, left]
    return write(piece, path)


def band_trio(path: Path, bars: int = 4) -> Path:
    """Electric piano (4), fingered bass (33) and drums in 3/4 at 120, loudening bar by bar."""
    piece = meter(pretty_midi.PrettyMIDI(initial_tempo=120.0), 3, 4)
    keys, bass = pretty_midi.Instrument(4, name="E.Piano"), pretty_midi.Instrument(33, name="Bass")
    drums = pretty_midi.Instrument(0, is_drum=True, name="Drums")
    for bar in range(bars):
        loud = min(50 + 20 * bar, 127)  # a crescendo: 50, 70, 90, 110, 127
        start = bar * 1.5
        keys.notes += [pretty_midi.Note(loud, pitch, start, start + 1.5) for pitch in (60, 64, 67)]
        bass.notes += [
            pretty_midi.Note(loud, 36, start + beat * 0.5, start + beat * 0.5 + 0.5)
            for beat in range(3)
        ]
        for beat in range(3):
            drums.notes.append(
                pretty_midi.Note(
                    loud, KICK if beat == 0 else SNARE, start + beat * 0.5, start + beat * 0.5 + 0.1
                )
            )
            drums.notes.append(
                pretty_midi.Note(loud, HAT, start + beat * 0.5 + 0.25, start + beat * 0.5 + 0.3)
            )
    piece.instruments += [keys, bass, drums]
    return write(piece, path)


def jig(path: Path, bars: int = 4) -> Path:
    """A fiddle (40) jig in 6/8 at 120 quarters a minute: running eighths."""
    piece = meter(pretty_midi.PrettyMIDI(initial_tempo=120.0), 6, 8)
    fiddle = pretty_midi.Instrument(40, name="Fiddle")
    tune = (67, 69, 71, 72, 71, 69)
    for bar in range(bars):
        for eighth, pitch in enumerate(tune):
            start = bar * 1.5 + eighth * 0.25
            fiddle.notes.append(pretty_midi.Note(90, pitch + (bar % 2) * 2, start, start + 0.25))
    piece.instruments.append(fiddle)
    return write(piece, path)


def five_voices(path: Path, bars: int = 4) -> Path:
    """Five sung voices (choir, program 52) in 4/4 at 100, half notes, named as a motet's are."""
    piece = meter(pretty_midi.PrettyMIDI(initial_tempo=100.0), 4, 4)
    half = 1.2
    for name, root in zip(("Cantus", "Altus", "Tenor", "Quintus", "Bassus"), (72, 67, 64, 60, 48)):
        voice = pretty_midi.Instrument(52, name=name)
        for step in range(2 * bars):
            voice.notes.append(
                pretty_midi.Note(70, root + (2 if step % 2 else 0), step * half, (step + 1) * half)
            )
        piece.instruments.append(voice)
    return write(piece, path)


def motet(path: Path, voices: int, bars: int = 8) -> Path:
    """``voices`` sung voices (program 52) in 4/2 at 100, quarter notes stepping up and down a
    fourth, a fifth apart: the meter and voice counts the bundled palestrina knows (3 to 6)."""
    piece = meter(pretty_midi.PrettyMIDI(initial_tempo=100.0), 4, 2)
    quarter = 0.6
    for number in range(voices):
        voice = pretty_midi.Instrument(52, name=f"voice {number + 1}")
        for beat in range(8 * bars):
            pitch = 48 + 7 * number + (0, 2, 4, 5)[beat % 4]
            voice.notes.append(pretty_midi.Note(80, pitch, beat * quarter, (beat + 1) * quarter))
        piece.instruments.append(voice)
    return write(piece, path)
