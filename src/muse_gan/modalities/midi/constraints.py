"""Hard constraints on a composed piece: a key or scale, voice ranges, chords, density, polyphony.

A composer's words (``key="D minor"``, ``ranges="soprano=60-81"``, ``chords="Dm | G7 | C | C"``)
are parsed once into ``Constraints``; ``Constraints.rules(adapter, steps, meter)`` turns them into
the ``core.rules.CellRules`` a family keeps while it draws: the cells of the roll ``(tracks,
steps, width)`` that may sound, the most notes each track may sound at once, and the notes each
track starts in each bar. Nothing is removed after drawing: what is not allowed is never drawn.

- **key / scale**: only the scale's pitch classes (a minor key: its natural minor and the
  leading tone, as Bach's chorales use it); with ``passing``, any pitch class on the steps
  between beats, as chromatic passing notes.
- **ranges**: per track, the lowest and highest MIDI pitch.
- **chords**: one or more chord symbols per bar (``|`` between bars; the list repeats when the
  piece is longer). On strong beats (the bar's first beat, and its middle beat in a bar of 4, 6
  or more beats) and where a chord begins, every track sounds only chord tones, and the bass
  (the track named Bass, else the lowest of several) the chord's root where it begins.
- **density**: notes started per bar per track, a number or ``low``/``medium``/``high`` (0.4,
  0.8, 1.6 notes per beat: medium is about the chorale voices' own rate).
- **polyphony**: the most notes a track sounds at once.

Drum tracks take density and polyphony only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pretty_midi
import torch

from ...core.rules import NO_LIMIT, CellRules
from ...errors import MuseError
from .settings import bar_steps, parse_meter

PITCH_CLASSES = 12
NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
SCALES = {  # semitones above the tonic
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10, 11),  # a key: natural minor plus the leading tone
    "natural-minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic-minor": (0, 2, 3, 5, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
CHORDS = {  # chord symbol suffix → semitones above the root
    "": (0, 4, 7),
    "maj": (0, 4, 7),
    "m": (0, 3, 7),
    "min": (0, 3, 7),
    "-": (0, 3, 7),
    "dim": (0, 3, 6),
    "°": (0, 3, 6),
    "aug": (0, 4, 8),
    "+": (0, 4, 8),
    "5": (0, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "M7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "min7": (0, 3, 7, 10),
    "-7": (0, 3, 7, 10),
    "dim7": (0, 3, 6, 9),
    "°7": (0, 3, 6, 9),
    "m7b5": (0, 3, 6, 10),
    "ø": (0, 3, 6, 10),
    "ø7": (0, 3, 6, 10),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "sus": (0, 5, 7),
    "add9": (0, 2, 4, 7),
    "9": (0, 2, 4, 7, 10),
    "m9": (0, 2, 3, 7, 10),
}
# notes started per beat: medium is the chorale voices' own rate (data/my_midi's eight chorales
# start 3.1, 3.0, 3.0 and 4.1 notes a 4/4 bar, soprano to bass), low half of it, high twice
DENSITY_LEVELS = {"low": 0.4, "medium": 0.8, "high": 1.6}
NOTE_PATTERN = re.compile(r"([A-Ga-g])([#♯b♭]?)")


class ConstraintError(MuseError, ValueError):
    """A constraint that cannot be read or kept; exits the command line with status 2."""

    exit_code = 2


@dataclass(frozen=True)
class Chord:
    symbol: str
    root: int  # pitch class
    tones: frozenset[int]
    bass: int  # the pitch class the bass sounds where the chord begins (root, or after "/")


@dataclass(frozen=True)
class Constraints:
    """What a piece must keep; build it with ``Constraints.parse`` from a composer's words.

    ``scale`` is a set of pitch classes (None: any); ``ranges``, ``density`` and ``polyphony``
    map a track name (lower case; None: every track) to (low, high) MIDI pitches, notes per
    bar (or a level name) and most notes at once; ``chords`` holds each bar's chords.

        >>> Constraints.parse(key="D minor", ranges="soprano=60-81", chords="Dm | G7 | C | C")
    """

    scale: frozenset[int] | None = None
    scale_name: str = ""
    passing: bool = False
    ranges: tuple[tuple[str, int, int], ...] = ()
    density: tuple[tuple[str | None, float | str], ...] = ()
    chords: tuple[tuple[Chord, ...], ...] = ()
    polyphony: tuple[tuple[str | None, int], ...] = ()
    # track indices that stay silent: the voice slots a piece for fewer voices leaves empty
    silent: tuple[int, ...] = ()

    @classmethod
    def parse(
        cls,
        key: str | None = None,
        scale: str | None = None,
        passing: bool = False,
        ranges: str | None = None,
        density: str | float | None = None,
        chords: str | None = None,
        polyphony: str | int | None = None,
    ) -> Constraints:
        """The constraints these words ask for; a ``ConstraintError`` naming the option and the
        reason for any that cannot be read."""
        if key is not None and scale is not None:
            raise ConstraintError(f"--key {key} / --scale {scale}: give one of them, not both")
        pitch_classes, name = _scale_of(key, "--key") if key is not None else (None, "")
        if scale is not None:
            pitch_classes, name = _scale_of(scale, "--scale")
        if passing and pitch_classes is None:
            raise ConstraintError("--passing: chromatic passing notes need a --key or --scale")
        return cls(
            pitch_classes,
            name,
            passing,
            tuple(_parse_range(item) for item in _items(ranges)),
            tuple(_parse_density(item) for item in _items(density)),
            _parse_chords(chords) if chords is not None else (),
            tuple(_parse_polyphony(item) for item in _items(polyphony)),
        )

    def __bool__(self) -> bool:
        return bool(
            self.scale is not None
            or self.ranges
            or self.density
            or self.chords
            or self.polyphony
            or self.silent
        )

    def rules(self, adapter, steps: int, meter: str, semitones: int = 0) -> CellRules:
        """The ``CellRules`` of a piece of ``steps`` steps in ``meter`` for the piano-roll
        ``adapter``'s model; ``semitones`` moves the allowed cells by that much (into the key a
        common-key model composes in, when the piece is moved out of it afterwards)."""
        tracks = adapter.layout.names
        self._check_tracks(tracks)
        meter_steps = MeterSteps(meter, adapter.settings.steps_per_beat)
        pitches = self.allowed_pitches(adapter, steps, meter_steps)
        planes = [pitches.to(torch.uint8)] * adapter.shape.planes
        rest = torch.ones(
            len(tracks),
            steps,
            adapter.shape.width - adapter.shape.planes * adapter.pitches,
            dtype=torch.uint8,
        )
        allowed = adapter.shifted(torch.cat(planes + [rest], dim=-1), semitones) > 0
        return CellRules(
            allowed,
            torch.tensor([self._per_track(self.polyphony, name, 0) for name in tracks]),
            self.starts(tracks, steps, meter_steps),
            meter_steps.bar,
            adapter.pitches,
        )

    def allowed_pitches(self, adapter, steps: int, meter: MeterSteps) -> torch.Tensor:
        """``(tracks, steps, pitches)`` bool: the cells of the model's roll that may sound."""
        tracks, low = adapter.layout.names, adapter.settings.pitch_low
        midi = low + torch.arange(adapter.pitches)
        classes = midi % PITCH_CLASSES
        allowed = torch.ones(len(tracks), steps, adapter.pitches, dtype=torch.bool)
        if self.scale is not None:
            in_scale = _among(classes, self.scale)
            free = meter.off_beat(steps) if self.passing else torch.zeros(steps, dtype=torch.bool)
            allowed &= in_scale[None, None] | free[None, :, None]
        for name, lowest, highest in self.ranges:
            allowed[tracks_named(tracks, name)] &= (midi >= lowest) & (midi <= highest)
        if self.chords:
            self._chord_tones(allowed, classes, _bass_track(tracks), meter)
        self._check_possible(allowed, adapter, meter)
        allowed[list(adapter.layout.drums)] = True
        allowed[list(self.silent)] = False
        return allowed

    def _chord_tones(self, allowed, classes, bass: int | None, meter: MeterSteps) -> None:
        """Strong steps sound only chord tones (the bass its chord's root where it begins)."""
        steps = allowed.shape[1]
        for step, chord, begins in self.chord_steps(steps, meter):
            tones = chord.tones & self._scale_or_all()
            if not tones:
                raise ConstraintError(
                    f"--chords {chord.symbol}: none of its tones is in {self.scale_name}"
                )
            allowed[:, step] &= _among(classes, tones)
            if begins and bass is not None and chord.bass in self._scale_or_all():
                allowed[bass, step] &= classes == chord.bass

    def chord_steps(self, steps: int, meter: MeterSteps):
        """``(step, chord, begins)`` for every step a chord is kept on: the strong beats and
        where each chord begins; the chord list repeats over a longer piece."""
        if not self.chords:
            return
        strong = set(meter.strong_steps())
        for start in range(0, steps, meter.bar):
            bar = self.chords[(start // meter.bar) % len(self.chords)]
            span = meter.bar / len(bar)
            begins = {round(index * span): chord for index, chord in enumerate(bar)}
            for offset in sorted(strong | set(begins)):
                if start + offset < steps:
                    chord = bar[min(int(offset // span), len(bar) - 1)]
                    yield start + offset, chord, offset in begins

    def _scale_or_all(self) -> frozenset[int]:
        return self.scale if self.scale is not None else frozenset(range(PITCH_CLASSES))

    def starts(self, tracks, steps: int, meter: MeterSteps) -> torch.Tensor:
        """``(tracks, bars)`` notes each track starts in each bar (``NO_LIMIT``: any): a
        fractional density spread so that every stretch of bars has its share."""
        bars = -(-steps // meter.bar)
        starts = torch.full((len(tracks), bars), NO_LIMIT)
        for track, name in enumerate(tracks):
            per_bar = self._per_track(self.density, name, None)
            if per_bar is None:
                continue
            if isinstance(per_bar, str):
                per_bar = DENSITY_LEVELS[per_bar] * meter.beats
            cumulative = torch.tensor([round(per_bar * bar) for bar in range(bars + 1)])
            starts[track] = cumulative[1:] - cumulative[:-1]
        return starts

    @staticmethod
    def _per_track(values, name: str, default):
        """The value given for track ``name``, else the one for every track, else ``default``."""
        found = dict(values)
        return found.get(name.lower(), found.get(None, default))

    def _check_tracks(self, tracks) -> None:
        names = {name.lower() for name in tracks}
        for option, values in (
            ("--range", self.ranges),
            ("--density", self.density),
            ("--polyphony", self.polyphony),
        ):
            for value in values:
                if value[0] is not None and value[0] not in names:
                    raise ConstraintError(
                        f"{option} {value[0]}=...: the model has no track of that name "
                        f"(its tracks: {', '.join(name.lower() for name in tracks)})"
                    )

    def _check_possible(self, allowed, adapter, meter: MeterSteps) -> None:
        """A ``ConstraintError`` where a range leaves a track no note to sound at all, or none
        of a chord's tones on its strong beats."""
        tracks, low = adapter.layout.names, adapter.settings.pitch_low
        for name, lowest, highest in self.ranges:
            track = tracks_named(tracks, name)
            if lowest < low or highest > adapter.settings.pitch_high:
                raise ConstraintError(
                    f"--range {name}={lowest}-{highest}: outside the model's pitch range "
                    f"(MIDI {low}-{adapter.settings.pitch_high})"
                )
            if self.scale is not None and not allowed[track].any():
                raise ConstraintError(
                    f"--range {name}={lowest}-{highest}: holds no note of {self.scale_name}"
                )
            for step, chord, _begins in self.chord_steps(allowed.shape[1], meter):
                if not allowed[track, step].any():
                    raise ConstraintError(
                        f"--range {name}={lowest}-{highest}: holds no tone of the chord "
                        f"{chord.symbol} that {self.scale_name or 'it'} allows"
                    )


class MeterSteps:
    """Where the beats of ``meter`` fall, in steps of 1/``steps_per_beat`` quarter note."""

    def __init__(self, meter: str, steps_per_beat: int):
        numerator, denominator = parse_meter(meter)
        self.bar = bar_steps(meter, steps_per_beat)
        compound = denominator >= 8 and numerator % 3 == 0 and numerator > 3
        self.beats = numerator // 3 if compound else numerator
        self.beat = self.bar // self.beats

    def strong_steps(self) -> list[int]:
        """Steps of a bar on its strong beats: the first, and the middle one of an even
        number of at least four beats."""
        middle = [self.beats // 2 * self.beat] if self.beats % 2 == 0 and self.beats >= 4 else []
        return [0, *middle]

    def off_beat(self, steps: int) -> torch.Tensor:
        """``(steps,)`` bool: the steps between beats."""
        return torch.arange(steps) % self.bar % self.beat != 0


def shift_from_white_keys(scale: frozenset[int]) -> int:
    """The semitones (-6 to 5) that move C major's pitch classes (A minor's) onto most of
    ``scale``'s, the smallest such shift on ties: a common-key model composes there."""
    white = SCALES["major"]
    return max(
        range(-6, 6),
        key=lambda shift: (
            len({(step + shift) % PITCH_CLASSES for step in white} & scale),
            -abs(shift),
        ),
    )


def tracks_named(tracks, name: str) -> int:
    """The index of the track called ``name`` (any case)."""
    return [track.lower() for track in tracks].index(name)


def _bass_track(tracks) -> int | None:
    """The track that takes a chord's root: one named Bass, else the last of several."""
    names = [track.lower() for track in tracks]
    if "bass" in names:
        return names.index("bass")
    return len(tracks) - 1 if len(tracks) > 1 else None


def _among(classes: torch.Tensor, chosen) -> torch.Tensor:
    return torch.isin(classes, torch.tensor(sorted(chosen), dtype=classes.dtype))


def _items(text) -> list[str]:
    """``"a=1, b=2"`` → ``["a=1", "b=2"]``; a number alone is one item."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):  # ["soprano=60-81", "bass=40-60"], as JSON gives it
        text = ",".join(str(item) for item in text)
    return [item.strip() for item in str(text).split(",") if item.strip()]


def _pitch_class(name: str, option: str, whole: str) -> tuple[int, str]:
    """The pitch class a note name starts with (``F#``, ``Bb``), and the rest of the text."""
    found = NOTE_PATTERN.match(name)
    if not found:
        raise ConstraintError(
            f"{option} {whole}: '{name}' does not start with a note name (C, F#, Bb)"
        )
    letter, accidental = found.groups()
    pitch_class = (NOTE_NAMES[letter.upper()] + ACCIDENTALS[accidental]) % PITCH_CLASSES
    return pitch_class, name[found.end() :]


def _scale_of(text: str, option: str) -> tuple[frozenset[int], str]:
    """A key or scale's pitch classes and its name: ``"D minor"``, ``"Eb"`` (major), ``"Am"``,
    ``"A dorian"``, or (``--scale``) the pitch classes themselves, ``"C D E G A"``."""
    words = text.split()
    if option == "--scale" and len(words) > 1 and all(map(NOTE_PATTERN.fullmatch, words)):
        return frozenset(_pitch_class(word, option, text)[0] for word in words), text
    if not 1 <= len(words) <= 2:
        raise ConstraintError(f"{option} {text!r}: write a key like 'D minor', 'F# major' or 'Bb'")
    tonic, rest = _pitch_class(words[0], option, text)
    mode = (
        words[1].lower() if len(words) == 2 and not rest else {"": "major", "m": "minor"}.get(rest)
    )
    known = ("major", "minor") if option == "--key" else tuple(SCALES)
    if mode not in known:
        more = "; other modes: --scale" if option == "--key" else ""
        raise ConstraintError(
            f"{option} {text}: unknown key or mode (known: {', '.join(known)}{more})"
        )
    return frozenset(
        (tonic + step) % PITCH_CLASSES for step in SCALES[mode]
    ), f"{words[0][: len(words[0]) - len(rest)]} {mode}"


def _parse_range(item: str) -> tuple[str, int, int]:
    name, equals, span = item.partition("=")
    low, dash, high = span.strip().partition("-")
    if not (equals and dash and name.strip()):
        raise ConstraintError(
            f"--range {item}: write TRACK=LOW-HIGH, e.g. soprano=60-81 or soprano=C4-A5"
        )
    lowest, highest = (_midi_pitch(value.strip(), item) for value in (low, high))
    if lowest > highest:
        raise ConstraintError(f"--range {item}: the lowest pitch is above the highest")
    return name.strip().lower(), lowest, highest


def _midi_pitch(value: str, item: str) -> int:
    if value.isdigit() and int(value) <= 127:
        return int(value)
    try:
        return pretty_midi.note_name_to_number(value)
    except Exception:
        raise ConstraintError(
            f"--range {item}: '{value}' is neither a MIDI pitch (0-127) nor a note name (C4, F#3)"
        ) from None


def _named_value(item: str, option: str) -> tuple[str | None, str]:
    """``"soprano=4"`` → ("soprano", "4"); ``"4"`` → (None, "4"): every track."""
    name, equals, value = item.rpartition("=")
    if equals and not name.strip():
        raise ConstraintError(f"{option} {item}: write VALUE or TRACK=VALUE")
    return (name.strip().lower() if equals else None), value.strip()


def _parse_density(item: str) -> tuple[str | None, float | str]:
    name, value = _named_value(item, "--density")
    if value.lower() in DENSITY_LEVELS:
        return name, value.lower()
    try:
        per_bar = float(value)
    except ValueError:
        per_bar = -1.0
    if not 0 <= per_bar <= 64:
        raise ConstraintError(f"--density {item}: notes per bar from 0 to 64, or low, medium, high")
    return name, per_bar


def _parse_polyphony(item: str) -> tuple[str | None, int]:
    name, value = _named_value(item, "--polyphony")
    if not value.isdigit() or not 1 <= int(value) <= 128:
        raise ConstraintError(f"--polyphony {item}: notes at once, a whole number from 1 to 128")
    return name, int(value)


def _parse_chords(text: str) -> tuple[tuple[Chord, ...], ...]:
    """``"Dm | G7 | C C/E"`` → each bar's chords."""
    bars = tuple(tuple(_chord(symbol, text) for symbol in bar.split()) for bar in text.split("|"))
    if not bars or not all(bars):
        raise ConstraintError(
            f"--chords {text}: give one or more chord symbols per bar, bars between |"
        )
    return bars


def _chord(symbol: str, text: str) -> Chord:
    name, slash, bass_name = symbol.partition("/")
    root, suffix = _pitch_class(name, "--chords", text)
    if suffix not in CHORDS:
        raise ConstraintError(
            f"--chords {text}: unknown chord symbol '{symbol}' (known kinds: C, Cm, C7, Cmaj7, "
            f"Cm7, Cdim, Cdim7, Cm7b5, Caug, Csus2, Csus4, C6, Cm6, C9, Cadd9, C5, and C/E)"
        )
    tones = frozenset((root + step) % PITCH_CLASSES for step in CHORDS[suffix])
    bass = root
    if slash:
        bass, rest = _pitch_class(bass_name, "--chords", text)
        if rest:
            raise ConstraintError(f"--chords {text}: '{symbol}' has more than a note after /")
        tones |= {bass}
    return Chord(symbol, root, tones, bass)
