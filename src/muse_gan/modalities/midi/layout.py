"""Which tracks a model has, and which track each part of a piece goes to.

A *layout* is what the ``[midi]`` track settings say: ``track_mapping`` (how parts find their
track), ``track_names``, ``programs`` and ``drum_tracks``. Four mappings:

- ``"keep"``: one track per part, matched by name when every part is named after a track, else
  in order (four-voice chorales: Soprano, Alto, Tenor, Bass);
- ``"merge"``: every pitched part in one track (a piano solo, a melody);
- ``"families"``: one track per General MIDI family (``FAMILIES``: drums, bass, piano (keys and organs), guitar,
  strings, lead; MuseGAN's grouping with a lead line added), several parts of one family folded
  into its track;
- ``"voices"``: polyphony whose parts are not named alike (Renaissance motets in four to six
  voices): the parts of a piece ranked by height into voice slots, the highest in the first,
  the lowest in the last, inner voices in between (see ``view.part_tracks``).

With ``track_mapping = "auto"`` (the default) the layout is inferred from the data
(``infer_layout``): one track for single-instrument data, one per part name when the pieces
share their part names (at least three of them), voice slots for polyphony of three or more
parts of one family named otherwise, else one per family the data uses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

MOST_VOICES = 8  # voice slots at most, for "voices" layouts

# General MIDI families, by 0-based program: (first program, last program, track family)
_PROGRAM_FAMILIES = (
    (0, 23, "Piano"),
    (24, 31, "Guitar"),
    (32, 39, "Bass"),
    (40, 55, "Strings"),
    (56, 87, "Lead"),
    (88, 95, "Strings"),
    (104, 111, "Lead"),
)
FAMILIES = ("Drums", "Bass", "Piano", "Guitar", "Strings", "Lead")
FAMILY_PROGRAMS = {"Drums": 0, "Bass": 33, "Piano": 0, "Guitar": 25, "Strings": 48, "Lead": 73}
NAMED_VOICES = 3  # fewer shared part names (a piano's two hands) are one instrument, not voices
SHARED = 0.5  # a part name counts as a voice when at least this share of the pieces have it


@dataclass(frozen=True)
class Part:
    """What layouts know of one part (instrument) of a piece."""

    name: str
    program: int  # General MIDI, 0-based
    drum: bool
    mean_pitch: float = 60.0


@dataclass(frozen=True)
class Layout:
    mapping: str  # "keep", "merge" or "families"
    names: tuple[str, ...]
    programs: tuple[int, ...]
    drums: tuple[int, ...] = ()

    def describe(self) -> str:
        """The layout in one line, as training prints it."""
        how = {
            "keep": "one per part name",
            "merge": "all parts in one",
            "families": "one per instrument family",
            "voices": "parts ranked by height into voice slots",
        }
        tracks = ", ".join(
            f"{name} ({'drums' if number in self.drums else f'program {program}'})"
            for number, (name, program) in enumerate(zip(self.names, self.programs))
        )
        return f"{len(self.names)} track{'s' if len(self.names) != 1 else ''}, {how[self.mapping]}: {tracks}"


def family_of(program: int, drum: bool) -> str | None:
    """The track family of a General MIDI program (``FAMILIES``); None for sound effects."""
    if drum:
        return "Drums"
    return next(
        (family for first, last, family in _PROGRAM_FAMILIES if first <= program <= last), None
    )


def infer_layout(pieces: list[list[Part]]) -> Layout:
    """The layout for pieces given as their parts (empty parts left out)."""
    parts = [part for piece in pieces for part in piece]
    families = {family_of(part.program, part.drum) for part in parts} - {None}
    voices = _shared_names(pieces)
    if len(voices) >= NAMED_VOICES:
        return _voice_layout(voices, parts)
    pitched = [[part for part in piece if not part.drum] for piece in pieces]
    voiced = NAMED_VOICES <= min(map(len, pitched)) and max(map(len, pitched)) <= MOST_VOICES
    if len(families) == 1 and "Drums" not in families and voiced:
        slots = min(max(map(len, pitched)), MOST_VOICES)
        return Layout(
            "voices",
            tuple(f"Voice {number}" for number in range(1, slots + 1)),
            (_most_common_program(parts),) * slots,
        )
    if len(families) <= 1 and "Drums" not in families:
        family = next(iter(families), "Piano")
        return Layout("merge", (_track_name(family, parts),), (_most_common_program(parts),))
    return _family_layout(families, parts)


def track_of(layout: Layout, part: Part, piece_parts: list[Part]) -> int | None:
    """The track ``part`` goes to in ``layout`` (None: it fits none); ``piece_parts`` are all the
    parts of its piece. "keep": by name when the piece's part names are distinct and some are
    track names (a part named otherwise then fits none), else the parts in order."""
    if layout.mapping == "merge":
        return None if part.drum else 0
    if layout.mapping == "families":
        family = family_of(part.program, part.drum)
        return layout.names.index(family) if family in layout.names else None
    names = [other.name for other in piece_parts]
    if len(set(names)) == len(names) and any(name in layout.names for name in names):
        return layout.names.index(part.name) if part.name in layout.names else None
    number = piece_parts.index(part)
    return number if number < len(layout.names) else None


def _shared_names(pieces: list[list[Part]]) -> list[str]:
    """Part names that at least ``SHARED`` of the pieces have, each piece's names distinct."""
    counts = Counter(
        name for piece in pieces for name in {part.name for part in piece if not part.drum}
    )
    return [name for name, count in counts.items() if count >= SHARED * len(pieces)]


def _voice_layout(names: list[str], parts: list[Part]) -> Layout:
    """One track per shared part name, highest voice first."""
    by_name = {name: [part for part in parts if part.name == name] for name in names}
    height = {
        name: sum(part.mean_pitch for part in group) / len(group) for name, group in by_name.items()
    }
    ordered = tuple(sorted(names, key=lambda name: -height[name]))
    return Layout("keep", ordered, tuple(_most_common_program(by_name[name]) for name in ordered))


def _family_layout(families: set[str], parts: list[Part]) -> Layout:
    names = tuple(family for family in FAMILIES if family in families)
    programs = tuple(
        FAMILY_PROGRAMS[family]
        if family == "Drums"
        else _most_common_program(
            [part for part in parts if family_of(part.program, part.drum) == family]
        )
        for family in names
    )
    drums = tuple(number for number, name in enumerate(names) if name == "Drums")
    return Layout("families", names, programs, drums)


def _most_common_program(parts: list[Part]) -> int:
    programs = Counter(part.program for part in parts if not part.drum)
    return programs.most_common(1)[0][0] if programs else 0


def _track_name(family: str, parts: list[Part]) -> str:
    """A single track's name: its parts' own name when they share one (e.g. "Piano"), else the family's."""
    names = Counter(part.name for part in parts if not part.drum)
    name, count = names.most_common(1)[0] if names else (family, 0)
    return name if count * 2 > len(parts) else family
