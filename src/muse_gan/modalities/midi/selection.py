"""What a composer selects inside a piece: bars and tracks to fill again, a melody to harmonize.

Rolls are ``(tracks, steps, width)`` as the adapter reads them; a selection is a bool mask
``(tracks, steps)``, true where a track's notes at a step are to be drawn anew. Bars are
counted from 1, as a score and a DAW count them, and a range includes both ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi
import torch

from ...errors import DataError, MuseError
from .adapter import first_tempo
from .notes import END, PART, PITCH, START, note_table, whole_bars


def parse_bars(text: str) -> tuple[int, int]:
    """``"5-8"`` → (5, 8); ``"5"`` → (5, 5); a ``MuseError`` naming ``--bars`` otherwise."""
    first, _, last = str(text).partition("-")
    try:
        bars = int(first), int(last or first)
    except ValueError:
        raise MuseError(f"--bars {text}: expected a bar or a range of bars, e.g. 5-8") from None
    if not 1 <= bars[0] <= bars[1]:
        raise MuseError(f"--bars {text}: bars count from 1, the first no later than the last")
    return bars


def selection(adapter, roll: torch.Tensor, bars: tuple[int, int], tracks=None) -> torch.Tensor:
    """The mask ``(tracks, steps)`` of ``bars`` (first, last; from 1) in the named ``tracks``
    (default: all) of ``roll``; a ``MuseError`` for bars outside the clip, an unknown track or
    a selection with nothing in it."""
    first, last = bars
    bar = adapter.steps_per_bar
    length = roll.shape[1] // bar
    if not 1 <= first <= last <= length:
        raise MuseError(
            f"--bars {first}-{last}: the clip has {length} bar{'s' * (length != 1)} (1-{length})"
        )
    mask = torch.zeros(roll.shape[:2], dtype=torch.bool)
    mask[track_numbers(adapter, tracks), (first - 1) * bar : last * bar] = True
    return mask


def track_numbers(adapter, tracks) -> list[int]:
    """The model's track numbers of ``tracks`` (names, any case, or a comma-separated string;
    None: all)."""
    names = list(adapter.layout.names)
    if tracks is None:
        return list(range(len(names)))
    asked = tracks.split(",") if isinstance(tracks, str) else list(tracks)
    asked = [str(name).strip() for name in asked if str(name).strip()]
    if not asked:
        raise MuseError("--tracks: no track named (the model's: " + ", ".join(names) + ")")
    lower = [name.lower() for name in names]
    for name in asked:
        if name.lower() not in lower:
            raise MuseError(f"--tracks {name}: the model has no such track ({', '.join(names)})")
    return sorted({lower.index(name.lower()) for name in asked})


@dataclass(frozen=True)
class Melody:
    """A melody as a model's track reads it: ``roll`` ``(steps, width)``, whole bars long; whether
    the file had ``chords`` the top line left out; its first ``meter`` and ``tempo`` (None where
    it gives none)."""

    roll: torch.Tensor
    chords: bool
    meter: str | None
    tempo: float | None


def melody_of(adapter, piece: pretty_midi.PrettyMIDI) -> Melody:
    """The top line of every pitched note of ``piece`` (all its parts), in whole bars of the
    model's meter; a ``DataError`` for notes outside the model's pitch range."""
    settings = adapter.settings
    table, info = note_table(piece, settings.steps_per_beat, settings.quantize)
    drums = [number for number, part in enumerate(info["parts"]) if part[2]]
    table = table[~np.isin(table[:, PART], drums)]
    if not len(table):
        raise DataError("no pitched notes (only drums)")
    low, high = int(table[:, PITCH].min()), int(table[:, PITCH].max())
    if low < settings.pitch_low or high > settings.pitch_high:
        raise DataError(
            f"its notes span MIDI {low}-{high}, outside the model's {settings.pitch_low}-"
            f"{settings.pitch_high}"
        )
    steps = whole_bars(int(table[:, END].max()), adapter.steps_per_bar)
    cells = np.zeros((steps, adapter.pitches), dtype=bool)
    for start, end, pitch in table[:, [START, END, PITCH]]:
        cells[start:end, pitch - settings.pitch_low] = True
    top = adapter.pitches - 1 - np.argmax(cells[:, ::-1], axis=1)
    line = np.zeros((steps, adapter.shape.width), dtype=np.uint8)
    sounding = np.nonzero(cells.any(axis=1))[0]
    line[sounding, top[sounding]] = 1
    chords = bool((cells.sum(axis=1) > 1).any())
    return Melody(torch.from_numpy(line), chords, info["meters"][0][1], first_tempo(piece))
