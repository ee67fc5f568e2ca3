"""A piece as a table of notes, as the prepared cache keeps it, and piano rolls drawn from it.

A note table is an ``int32`` array ``(notes, 5)``: part, start step, end step, MIDI pitch (all
128) and velocity, one row per note, times in steps of 1/``steps_per_beat`` quarter note counted
from the piece's start and read in ticks (so tempo changes do not move notes off the grid). A
drum note lasts one step: drums are onsets. Beside it, a piece's ``info`` notes its parts (name,
program, drums or not, mean pitch), its time signatures (from which step, which meter), its
length and the velocities it uses.

Nothing in a table depends on which tracks a model has, its pitch range or its meter: one
prepared cache serves every layout, and training draws its windows of rolls from the tables a
batch at a time (``draw_roll``), which keeps a large collection small in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pretty_midi
import torch

from ...errors import DataError
from .settings import parse_meter

PART, START, END, PITCH, VELOCITY = range(5)
MAX_BEATS = 20_000  # about 3 hours at 100 per minute: a longer piece is a corrupt or absurd file


@dataclass(frozen=True)
class RollShape:
    """What a roll drawn from a table looks like: ``(tracks, steps, width)``, the width being the
    pitches where notes sound; with ``onsets``, the pitches again, where notes start (so a note
    struck again without a gap is two notes); then ``velocity_bins`` columns marking the bin of
    the loudest note starting in each step."""

    tracks: int
    pitch_low: int
    pitches: int
    drum_tracks: tuple[int, ...] = ()
    velocity_bins: int = 0
    onsets: bool = False

    @property
    def planes(self) -> int:
        """Pitch planes: where notes sound, and (with ``onsets``) where they start."""
        return 2 if self.onsets else 1

    @property
    def width(self) -> int:
        return self.planes * self.pitches + self.velocity_bins


def note_table(
    piece: pretty_midi.PrettyMIDI, steps_per_beat: int, quantize: str
) -> tuple[np.ndarray, dict]:
    """The piece's notes ``(notes, 5)`` and its info; ``DataError`` for a piece without notes or
    one too long to be music."""
    parts = [part for part in piece.instruments if part.notes]
    rows = [
        (
            number,
            *_steps(piece, note, steps_per_beat, quantize, part.is_drum),
            note.pitch,
            note.velocity,
        )
        for number, part in enumerate(parts)
        for note in part.notes
    ]
    if not rows:
        raise DataError("no notes")
    # a note "sample" quantizing leaves no step stays in the table (its end still counts for the
    # piece's length), and draws nothing
    table = np.array(rows, dtype=np.int32).reshape(-1, 5)
    steps = int(table[:, END].max())
    if steps > MAX_BEATS * steps_per_beat:
        raise DataError(
            f"lasts {steps // steps_per_beat} beats, over the {MAX_BEATS} a piece may have (a corrupt file?)"
        )
    return table, {
        "parts": [_part_info(part) for part in parts],
        "meters": _meters(piece, steps_per_beat),
        "steps": steps,
        "velocities": sorted({int(v) for v in table[:, VELOCITY]}),
    }


def packed(table: np.ndarray) -> torch.Tensor:
    """A note table as the ``uint8`` bytes the cache stores."""
    return torch.frombuffer(
        bytearray(np.ascontiguousarray(table, dtype=np.int32).tobytes()), dtype=torch.uint8
    )


def unpacked(stored: torch.Tensor) -> np.ndarray:
    """The note table ``(notes, 5)`` of stored bytes (a copy: the cache's bytes stay as they are)."""
    return np.frombuffer(stored.numpy().tobytes(), dtype=np.int32).reshape(-1, 5)


def draw_roll(
    table: np.ndarray,
    part_tracks: np.ndarray,
    first: int,
    steps: int,
    shape: RollShape,
    shift: int = 0,
) -> np.ndarray:
    """The roll ``(tracks, steps, width)`` of the steps ``first`` to ``first + steps`` of a piece:
    1 where a note sounds (a drum: where it is struck); each part goes to the track
    ``part_tracks[part]`` (-1: none); pitches moved by ``shift`` semitones; notes outside the
    pitch range left out. With an onset plane, each note's first step and pitch is marked there
    too; with velocity columns, the step where notes start in a track marks the bin of the
    loudest of them."""
    roll = np.zeros((shape.tracks, steps, shape.width), dtype=np.uint8)
    tracks = part_tracks[table[:, PART]]
    pitches = table[:, PITCH] + shift - shape.pitch_low
    inside = (tracks >= 0) & (pitches >= 0) & (pitches < shape.pitches)
    inside &= (table[:, END] > first) & (table[:, START] < first + steps)
    drums = np.isin(tracks, shape.drum_tracks)
    for track, pitch, start, end, drum in zip(
        tracks[inside], pitches[inside], table[inside, START], table[inside, END], drums[inside]
    ):
        begins = start >= first and (drum or end > start)  # a note "sample" quantizing left no step
        if drum and begins:
            roll[track, start - first, pitch] = 1  # a drum note is its onset
        elif not drum:
            roll[track, max(start, first) - first : min(end, first + steps) - first, pitch] = 1
        if shape.onsets and begins:
            roll[track, start - first, shape.pitches + pitch] = 1
    if shape.velocity_bins:
        _mark_velocities(roll, table[inside], tracks[inside], first, shape)
    return roll


def _mark_velocities(
    roll: np.ndarray, notes: np.ndarray, tracks: np.ndarray, first: int, shape: RollShape
) -> None:
    starting = notes[:, START] >= first
    loudest = np.zeros(roll.shape[:2], dtype=np.int32)  # (tracks, steps)
    np.maximum.at(
        loudest, (tracks[starting], notes[starting, START] - first), notes[starting, VELOCITY]
    )
    track, step = np.nonzero(loudest)
    bins = velocity_bin(loudest[track, step], shape.velocity_bins)
    roll[track, step, shape.planes * shape.pitches + bins] = 1


def velocity_bin(velocity, bins: int):
    """The bin (0 to bins - 1) of a MIDI velocity (1-127), bins of equal width."""
    return (np.clip(velocity, 1, 127) - 1) * bins // 127


def bin_velocity(number: int, bins: int) -> int:
    """The velocity written for a bin: the middle of its range."""
    low, high = math.ceil(number * 127 / bins) + 1, math.ceil((number + 1) * 127 / bins)
    return (low + high) // 2


def whole_bars(steps: int, bar: int) -> int:
    """``steps`` rounded up to a whole number of bars of ``bar`` steps (at least one bar)."""
    return max(1, math.ceil(steps / bar)) * bar


def _steps(piece, note, steps_per_beat: int, quantize: str, drum: bool) -> tuple[int, int]:
    """Start and end step of a note, from its ticks (so tempo changes don't shift the grid);
    a drum note is its onset: one step."""
    per_step = piece.resolution / steps_per_beat
    start = piece.time_to_tick(note.start) / per_step
    end = piece.time_to_tick(note.end) / per_step
    if quantize == "sample":  # sounding at a step's start; short notes may vanish
        start, end = math.ceil(start - 1e-6), math.ceil(end - 1e-6)
    else:
        start = math.floor(start + 0.5)
        end = max(math.floor(end + 0.5), start + 1)
    return (start, start + 1) if drum else (start, end)


def _part_info(part: pretty_midi.Instrument) -> list:
    return [
        part.name,
        int(part.program),
        bool(part.is_drum),
        float(np.mean([note.pitch for note in part.notes])),
    ]


def _meters(piece: pretty_midi.PrettyMIDI, steps_per_beat: int) -> list[list]:
    """``[first step, "N/D"]`` of each time signature the piece sets, from step 0 (4/4 until the
    first, as MIDI has it); signatures at the same step keep the last, repeats are dropped."""
    meters = {0: "4/4"}
    for signature in sorted(piece.time_signature_changes, key=lambda change: change.time):
        meter = f"{signature.numerator}/{signature.denominator}"
        try:
            parse_meter(meter)
        except ValueError:
            continue  # a signature no bar can be made of, as if it were not there
        step = round(piece.time_to_tick(signature.time) * steps_per_beat / piece.resolution)
        meters[step] = meter
    changes = []
    for step, meter in sorted(meters.items()):
        if not changes or changes[-1][1] != meter:
            changes.append([step, meter])
    return changes
