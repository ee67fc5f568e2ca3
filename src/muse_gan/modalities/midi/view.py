"""Prepared pieces as a model sees them: parts mapped to its tracks, cut where the meter changes,
labelled by what the model is conditioned on, moved to its key.

The cache holds each piece as a note table with its parts and time signatures (``notes``);
which tracks, meters and pitch range a model has is decided later, by its settings. A *segment*
is a stretch of one piece in one meter, as a ``core.store.Piece`` whose ``info`` says where it
lies in the piece's table (``first``, ``steps``), its bar length, its meter, the track of each
part and the key shift; its ``label`` is its class (``"6/8"``, ``"5 voices"``, ``"4/2 5 voices"``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import torch

from .keys import common_key_shift
from .layout import Layout, Part, track_of
from .notes import END, PART, PITCH, START, RollShape, draw_roll, unpacked, whole_bars
from .settings import bar_steps


@dataclasses.dataclass
class Dropped:
    """What a view left out, counted by reason, for the one-line summary."""

    reasons: Counter = dataclasses.field(default_factory=Counter)
    parts: int = 0

    def add(self, reason: str, count: int = 1) -> None:
        self.reasons[reason] += count

    def describe(self, most: int = 3) -> str:
        """The ``most`` commonest reasons, and the parts dropped, in words."""
        said = [counted(count, reason) for reason, count in self.reasons.most_common(most)]
        if self.parts:
            said.append(counted(self.parts, "parts that fit no track dropped"))
        return "; ".join(said)


SINGULAR = {"stretches": "stretch", "pieces": "piece", "parts": "part"}


def counted(count: int, reason: str) -> str:
    """``count`` things for ``reason`` ("stretches in 2 voices"), one of them in the singular."""
    if count != 1:
        return f"{count} {reason}"
    things, _, rest = reason.partition(" ")
    return f"1 {SINGULAR.get(things, things)} {rest.replace('that fit ', 'that fits ', 1)}"


def parts_of(piece) -> list[Part]:
    return [
        Part(name, program, drum, mean_pitch)
        for name, program, drum, mean_pitch in piece.info["parts"]
    ]


def part_tracks(layout: Layout, parts: list[Part], voices: int) -> np.ndarray:
    """The track of each part (-1: none); "voices" layouts rank the parts by height into the
    ``voices`` slots, the highest first and the lowest last, inner voices in between."""
    if layout.mapping == "voices":
        return _voice_slots(parts, voices)
    return np.array(
        [-1 if (track := track_of(layout, part, parts)) is None else track for part in parts]
        or [-1]
    )


def _voice_slots(parts: list[Part], slots: int) -> np.ndarray:
    order = sorted(range(len(parts)), key=lambda number: -parts[number].mean_pitch)
    pitched = [number for number in order if not parts[number].drum]
    if len(pitched) > slots:  # more voices than slots: the inner ones give way, never the bass
        pitched = pitched[: slots - 1] + pitched[-1:]
    tracks = np.full(max(1, len(parts)), -1)
    for rank, number in enumerate(pitched):
        tracks[number] = rank if rank < len(pitched) - 1 or len(pitched) == 1 else slots - 1
    return tracks


def segments(piece, layout: Layout, settings, shape: RollShape, dropped: Dropped) -> list:
    """The piece's segments as the model sees it (see the module docstring); none when it does
    not fit the model (counted in ``dropped``)."""
    parts = parts_of(piece)
    required = settings.require_parts
    if required and len(parts) != required:
        dropped.add(f"pieces without exactly {required} parts (midi.require_parts)")
        return []
    tracks = part_tracks(layout, parts, len(layout.names))
    dropped.parts += int((tracks[: len(parts)] < 0).sum())
    table = unpacked(piece.tensor)
    mapped = table[tracks[table[:, PART]] >= 0]
    if not len(mapped):
        dropped.add("pieces with no part that fits a track")
        return []
    found = []
    for first, steps, meter in _stretches(piece, mapped, settings):
        info = {
            "table": table,
            "part_tracks": tracks,
            "first": first,
            "steps": steps,
            "bar": bar_steps(meter, settings.steps_per_beat),
            "meter": meter,
            "shift": 0,
            "voices": len({int(track) for track in tracks[table[:, PART]] if track >= 0}),
        }
        segment = dataclasses.replace(piece, info=info)
        roll = draw(segment, shape)
        if not roll[:, :, : shape.pitches].any():
            dropped.add(
                f"stretches with no notes in the pitch range {settings.pitch_low}-{settings.pitch_high}"
            )
            continue
        if settings.common_key:
            info["shift"] = common_key_shift(
                torch.from_numpy(roll[:, :, : shape.pitches]), settings.pitch_low
            )
        found.append(segment)
    return found


def _stretches(piece, mapped: np.ndarray, settings) -> list[tuple[int, int, str]]:
    """``(first step, steps, meter)`` of each stretch of one meter, whole bars long and starting
    at its first bar that sounds; one stretch in the settings' meter when it is fixed. A
    piece's length is its mapped notes' last end."""
    end = int(mapped[:, END].max())
    if settings.meter != "auto":
        bar = bar_steps(settings.meter, settings.steps_per_beat)
        return [(*_from_first_sound(0, whole_bars(end, bar), bar, mapped), settings.meter)]
    changes = [(step, meter) for step, meter in piece.info["meters"] if step < end] or [(0, "4/4")]
    stretches = []
    for (first, meter), (following, _) in zip(changes, [*changes[1:], (end, None)]):
        try:
            bar = bar_steps(meter, settings.steps_per_beat)
        except ValueError:
            continue  # a meter the grid cannot hold (3/8 at one step per quarter): left out
        stretches.append(
            (*_from_first_sound(first, whole_bars(following - first, bar), bar, mapped), meter)
        )
    return stretches


def _from_first_sound(first: int, steps: int, bar: int, mapped: np.ndarray) -> tuple[int, int]:
    """The stretch ``first``, ``steps`` without the whole bars of silence it starts with. A piece
    opens on its first note, or on the bar line before it: a silent bar before that is no part
    of the music to learn (a count-in; a pickup that music21 pads against bars written longer
    than the time signature it reads, as in some Essen songs), and a model that learns a piece
    may open with one composes silence."""
    sounding = mapped[(mapped[:, END] > first) & (mapped[:, START] < first + steps)]
    if not len(sounding):
        return first, steps
    silent = (max(int(sounding[:, START].min()), first) - first) // bar * bar
    return first + silent, steps - silent


def draw(segment, shape: RollShape, first: int = 0, steps: int | None = None) -> np.ndarray:
    """The roll of ``steps`` steps of a segment from its step ``first`` (default: all of it)."""
    info = segment.info
    steps = info["steps"] - first if steps is None else steps
    return draw_roll(
        info["table"], info["part_tracks"], info["first"] + first, steps, shape, info["shift"]
    )


def label_of(segment, conditions: tuple[str, ...]) -> str:
    """A segment's class: its meter and/or voice count, as the model is conditioned."""
    said = []
    if "meter" in conditions:
        said.append(segment.info["meter"])
    if "voices" in conditions:
        said.append(f"{segment.info['voices']} voices")
    return " ".join(said)


def used_pitches(piece) -> np.ndarray:
    """The MIDI pitches a prepared piece sounds (for reading a folder's range)."""
    return unpacked(piece.tensor)[:, PITCH]
