"""MIDI and notated scores as multi-track piano rolls.

A roll is a ``uint8`` tensor of shape ``(tracks, steps, pitches)``: 1 where a note sounds.
Time is in steps of 1/``steps_per_beat`` quarter note, counted from the first downbeat; pitch
index 0 is MIDI pitch ``pitch_low``. Consecutive sounding steps decode to one held note, so a
repeated note struck again without a gap merges into one (the price of a plain roll).

Items are ``pretty_midi.PrettyMIDI`` objects; what a model makes decodes to a ``Piece``, a
PrettyMIDI that knows its length in steps and its tempo, and writes itself as MIDI (ending on
the bar line), a piano-roll picture or a WAV.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from ...core.adapter import (
    Adapter,
    Clip,
    Composes,
    Constrains,
    PlugsTerms,
    pop_names,
    settings_from,
)
from ...core.objective import NO_TERMS
from ...core.rules import Leanings
from ...core.spec import Spec
from ...errors import ConfigError, DataError, MuseError
from ...files import write_atomically
from ...options import PULLS
from ..registry import ADAPTERS
from .classic import CLASSIC_SUFFIXES, read_published
from .keys import (
    SILENCE_STRENGTH,
    EnsembleSpan,
    EveryBarSounds,
    HeldNotes,
    KeyLeaning,
    RestHold,
    Transposition,
    VoiceSpan,
    common_key_shift,
    fits_shifted,
    shift_nats,
    shift_pitches,
)
from .layout import Layout, Part, infer_layout
from .notes import END, PART, RollShape, bin_velocity, draw_roll, note_table, packed, whole_bars
from .sampler import NoteWindowSampler
from .scores import SCORE_SUFFIXES, bach_chorales, folk_tunes, palestrina_pieces, read_scores
from .settings import TICKS_PER_BEAT, MidiConfig, bar_steps, check, parse_meter
from .view import Dropped, draw, label_of, part_tracks, parts_of, segments

MIDI_SUFFIXES = (".mid", ".midi")
AUTO_CONDITION_SHARE = (
    0.05  # a second meter conditions the model when this share of the data is in it
)


@ADAPTERS.register("midi")
class PianoRollAdapter(Adapter, Composes, Constrains, PlugsTerms):
    """MIDI and scores ⇄ multi-track piano rolls. Before ``fitted`` has seen the data, settings
    left to it ("auto") stand for one track, flat dynamics and no conditions."""

    modality = "midi"
    settings_class = MidiConfig
    item_name = "piece"
    suffixes = MIDI_SUFFIXES + SCORE_SUFFIXES + CLASSIC_SUFFIXES
    formats = (".mid", ".midi", ".png", ".wav")
    sample_formats = (".mid", ".png")
    preview_count = 1
    evaluation_count = 100
    frame_name = "steps"
    has_bars = True

    def __init__(self, settings: MidiConfig = MidiConfig(), classes: tuple[str, ...] = ()):
        check(settings)
        super().__init__(settings)
        self.classes = tuple(classes)
        self.layout = layout_of(settings)
        self.shape = RollShape(
            tracks=len(self.layout.names),
            pitch_low=settings.pitch_low,
            pitches=settings.pitch_high - settings.pitch_low + 1,
            drum_tracks=self.layout.drums,
            velocity_bins=settings.velocity_bins if settings.dynamics == "on" else 0,
            # a velocity needs a note-on; with onsets a repeated note is two notes, not one long
            onsets=settings.onsets or settings.dynamics == "on",
        )
        self.pitches, self.tracks = self.shape.pitches, self.shape.tracks
        self.fit_summary = ""

    @property
    def meter(self) -> str:
        """The meter composed in when none is asked for: the fixed one, else the data's most frequent."""
        if self.settings.meter != "auto":
            return self.settings.meter
        return self.settings.meters[0] if self.settings.meters else "4/4"

    @property
    def steps_per_bar(self) -> int:
        return bar_steps(self.meter, self.settings.steps_per_beat)

    @property
    def corpora(self) -> dict:
        return {"bach": bach_chorales, "folk": folk_tunes, "palestrina": palestrina_pieces}

    @property
    def spec(self) -> Spec:
        periods = (
            tuple(self.bar_of(number)[1] for number in range(len(self.classes)))
            if "meter" in self.conditions
            else ()
        )
        return Spec(
            "binary",
            channels=self.tracks,
            width=self.shape.width,
            steps_per_bar=self.steps_per_bar,
            window=self.settings.window_bars * self.steps_per_bar,
            classes=len(self.classes),
            class_periods=periods,
        )

    @property
    def conditions(self) -> tuple[str, ...]:
        return tuple(condition for condition in self.settings.conditions if condition != "auto")

    def cache_settings(self) -> dict:
        return {key: getattr(self.settings, key) for key in MidiConfig.READING}

    def to_dict(self) -> dict:
        return super().to_dict() | {"classes": list(self.classes)}

    @classmethod
    def from_dict(cls, values: dict, where: str = "checkpoint") -> PianoRollAdapter:
        values = dict(values)
        classes = pop_names(values, "classes", where)
        return cls(settings_from(cls, values, where), classes)

    # files → items → note tables

    def read(self, path: str | Path) -> list[pretty_midi.PrettyMIDI]:
        """The pieces in a MIDI file (one), a score file (an ABC file may hold many) or a
        published data set's pickle (``classic``: every piece of its split)."""
        path = Path(path)
        if path.suffix.lower() in SCORE_SUFFIXES:
            return read_scores(path, default_tempo=self.settings.tempo)
        if path.suffix.lower() in CLASSIC_SUFFIXES:
            return read_published(path, self.settings.tempo)
        if path.suffix.lower() not in MIDI_SUFFIXES:
            raise DataError(
                f"{path}: not a MIDI or score file (expected {', '.join(self.suffixes)})"
            )
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
        if data[:4] == b"MThd" and data[12:14] == b"\x00\x00":
            raise DataError(f"{path}: its header says 0 ticks per beat, so no note has a time")
        if data[:4] == b"MThd" and data[8:10] == b"\x00\x02":
            raise DataError(
                f"{path}: a type-2 MIDI file (independent patterns, not one piece); save it as type 1"
            )
        try:
            with warnings.catch_warnings():
                # a tempo or meter on a track after the first (common in files from DAWs):
                # pretty_midi warns on stderr, among the one-line errors, and reads the first's
                warnings.filterwarnings("ignore", "Tempo, Key or Time signature change events")
                return [pretty_midi.PrettyMIDI(io.BytesIO(data))]
        except Exception as error:  # mido and pretty_midi raise many kinds on bad bytes
            raise DataError(f"{path}: not a readable MIDI file ({_reason(error)})") from None

    def encode(self, piece: pretty_midi.PrettyMIDI) -> torch.Tensor:
        """The piece's notes as the cache stores them (a packed ``notes.note_table``)."""
        return packed(note_table(piece, self.settings.steps_per_beat, self.settings.quantize)[0])

    def piece_info(self, piece: pretty_midi.PrettyMIDI) -> dict:
        """The note table's info; a published data set's piece also its part of the split."""
        info = note_table(piece, self.settings.steps_per_beat, self.settings.quantize)[1]
        return info | ({"part": piece.part} if hasattr(piece, "part") else {})

    # what the data says

    def fitted(self, pieces) -> PianoRollAdapter:
        """The settings left to the data filled in from ``pieces``: the tracks (``layout``), the
        dynamics, the meters and what the model is conditioned on; ``fit_summary`` says so."""
        settings, said = fit_settings(self.settings, pieces)
        view = PianoRollAdapter(settings)
        found, dropped = view.segments(pieces)  # the classes don't change which segments there are
        classes = sorted({label_of(segment, view.conditions) for segment in found})
        fitted = PianoRollAdapter(settings, tuple(classes) if view.conditions else ())
        fitted.check_fitted()
        dropped = dropped.describe()
        fitted.fit_summary = "; ".join(filter(None, [said, dropped and f"left out: {dropped}"]))
        return fitted

    def without_classes(self) -> str:
        return "" if self.settings.conditions else "midi.conditions is empty"

    def check_fitted(self) -> None:
        """A ``ConfigError`` naming ``midi.class_pulls`` when it names a class the data gave
        this model none of (a typo, or a voice count the pieces do not have)."""
        for label in self.settings.class_pulls:
            if label not in self.classes:
                known = ", ".join(self.classes) if self.classes else "none: it is not conditioned"
                raise ConfigError(
                    f"midi.class_pulls: {label!r} is not a class of this model (its classes: {known})"
                )

    def model_view(self, pieces: list) -> list:
        """The pieces' segments as this model sees them (``view``), labelled by its classes;
        those of a class it does not know (a fine-tune's two-voice piece) are left out."""
        return self.viewed(pieces)[0]

    def viewed(self, pieces: list) -> tuple[list, str]:
        """``model_view``, and the stretches and parts it leaves out counted by reason: too few
        or too many parts, other meters, no notes in range, a class the model does not know."""
        found, dropped = self.segments(pieces)
        labelled = []
        for segment in found:
            label = label_of(segment, self.conditions)
            if self.classes and label not in self.classes:
                dropped.add(f"stretches in {label}, which the model does not know")
            else:
                labelled.append(dataclasses.replace(segment, label=label if self.classes else ""))
        return labelled, dropped.describe()

    def segments(self, pieces: list) -> tuple[list, Dropped]:
        dropped = Dropped()
        found = [
            segment
            for piece in pieces
            for segment in segments(piece, self.layout, self.settings, self.shape, dropped)
        ]
        if self.settings.meter == "auto" and self.settings.meters:
            # a model conditioned on meter knows its meters; one that is not, its first alone
            known = self.settings.meters if "meter" in self.conditions else (self.meter,)
            kept = [segment for segment in found if segment.info["meter"] in known]
            if len(kept) < len(found):
                dropped.add(
                    f"stretches in other meters than {', '.join(known)}", len(found) - len(kept)
                )
            found = kept
        return found, dropped

    def tensor_of(self, piece) -> torch.Tensor:
        """A segment's whole roll ``(tracks, steps, width)`` as floats."""
        return torch.from_numpy(draw(piece, self.shape)).float()

    def scored_steps(self, roll: torch.Tensor) -> slice:
        """From a piece's first sounding step to its last: the silence a pickup is padded with
        to its bar line is read (where bars fall), and neither it nor the silence that fills the
        last bar is scored."""
        sounding = torch.nonzero(roll.amax(dim=(0, 2)))[:, 0]
        return slice(int(sounding[0]), int(sounding[-1]) + 1) if len(sounding) else slice(0, 0)

    def view_nats(self, segment) -> float:
        """With ``midi.common_key``, what the key a segment was moved from costs
        (``keys.shift_nats``)."""
        return shift_nats(segment.info["shift"]) if self.settings.common_key else 0.0

    # items ⇄ rolls

    def roll(self, piece: pretty_midi.PrettyMIDI) -> torch.Tensor:
        """A piece's roll ``(tracks, steps, width)`` in this model's tracks, whole bars of its own
        first meter long; parts that fit no track are left out, missing tracks stay silent."""
        table, info = note_table(piece, self.settings.steps_per_beat, self.settings.quantize)
        tracks = part_tracks(self.layout, [Part(*part) for part in info["parts"]], self.tracks)
        mapped = table[tracks[table[:, PART]] >= 0]
        if not len(mapped):
            raise DataError(f"no part fits the model's tracks ({', '.join(self.layout.names)})")
        steps = whole_bars(int(mapped[:, END].max()), self.steps_per_bar)
        roll = draw_roll(table, tracks, 0, steps, self.shape)
        if not roll[:, :, : self.pitches].any():
            raise DataError(
                f"no notes in the pitch range {self.settings.pitch_low}-{self.settings.pitch_high}"
            )
        return torch.from_numpy(roll)

    def decode(self, roll: torch.Tensor) -> Piece:
        """The roll ``(tracks, steps, width)`` as a ``Piece`` at the settings' tempo."""
        return self.piece(roll)

    def file_bytes(self, roll: torch.Tensor, suffix: str) -> bytes:
        """A roll ``(tracks, steps, width)`` as a MIDI file, a piano-roll picture or a WAV."""
        return self.piece(roll).file_bytes(suffix)

    # composing (the Composes capability)

    def piece(
        self,
        roll: torch.Tensor,
        tempo: float | None = None,
        meter: str | None = None,
        velocity: int | None = None,
    ) -> Piece:
        """The roll as a ``Piece`` at ``tempo`` quarter notes per minute (default: the
        settings'), in ``meter`` (default: the model's), every note at ``velocity`` when given."""
        return Piece(self, roll, tempo or self.settings.tempo, meter or self.meter, velocity)

    def read_clip(self, clip, option: str) -> Clip:
        """A user's clip (a path or a PrettyMIDI) as a roll in this model's settings, with its tempo and meter."""
        name = "clip" if isinstance(clip, pretty_midi.PrettyMIDI) else str(clip)
        try:
            piece = clip if name == "clip" else self.read(clip)[0]  # a score file's first piece
            roll = self.roll(piece)
        except DataError as error:
            reason = str(error).removeprefix(f"{name}: ")
            raise MuseError(f"{option} {name}: {reason}") from None
        meters = note_table(piece, self.settings.steps_per_beat, self.settings.quantize)[1][
            "meters"
        ]
        return Clip(roll, first_tempo(piece), meters[0][1])

    def into_model_key(self, rolls: list[torch.Tensor]) -> list[int]:
        """With ``midi.common_key``, the semitones that move each clip to C major or A minor."""
        if not self.settings.common_key:
            return [0] * len(rolls)
        return [
            common_key_shift(roll[:, :, : self.pitches], self.settings.pitch_low) for roll in rolls
        ]

    def shifted(self, roll: torch.Tensor, semitones: int, option: str = "") -> torch.Tensor:
        """``roll`` moved ``semitones`` (each pitch plane); with ``option``, refused where a note
        would leave the pitch range."""
        if option and not fits_shifted(roll[..., : self.pitches], semitones):
            low, high = self.settings.pitch_low, self.settings.pitch_high
            raise MuseError(
                f"{option} {semitones}: moves notes of this piece past the model's pitch range "
                f"(MIDI {low}-{high}); try a smaller shift"
            )
        planes = [
            roll[..., plane * self.pitches : (plane + 1) * self.pitches]
            for plane in range(self.shape.planes)
        ]
        rest = roll[..., self.shape.planes * self.pitches :]
        return torch.cat([shift_pitches(plane, semitones) for plane in planes] + [rest], dim=-1)

    def cell_rules(self, asked: dict, steps: int, meter: str, cells: int = 0, voices=None):
        """The rules of ``constraints.Constraints.parse(**asked)`` for this model's rolls; with
        ``voices`` (a model conditioned on the voice count), the slots those leave empty kept
        silent."""
        from .constraints import Constraints

        constraints = Constraints.parse(**asked)
        constraints = dataclasses.replace(constraints, silent=self.empty_slots(voices))
        return constraints.rules(self, steps, meter, cells) if constraints else None

    def leaning(self, frames: bool = True, bar: int = 0, label: int | None = None, **asked):
        """A ``keys.KeyLeaning`` of ``key_hold`` over the pitched tracks and, for a family that
        draws ``frames`` one by one, ``keys.HeldNotes`` of ``note_hold``, ``keys.VoiceSpan`` of
        ``voice_span``, ``keys.EnsembleSpan`` of ``ensemble_span`` and ``keys.RestHold`` of
        ``rest_hold`` (each of ``asked`` None or absent: the model's own for class ``label``,
        ``own_pulls``), and ``keys.EveryBarSounds`` in bars of ``bar`` steps (0: none); several
        at once as ``core.rules.Leanings``; None when there are none, or with drums only."""
        pulls = self.own_pulls(label) | {
            name: strength for name, strength in asked.items() if strength is not None
        }
        pitched = [track for track in range(self.tracks) if track not in self.layout.drums]
        if not pitched:
            return None
        shape = {
            "tracks": self.tracks,
            "width": self.spec.width,
            "pitches": self.pitches,
            "pitched": pitched,
        }
        made = []
        if pulls["key_hold"]:
            low, strength = self.settings.pitch_low, pulls["key_hold"]
            made.append(functools.partial(KeyLeaning, **shape, pitch_low=low, strength=strength))
        if not frames:  # a Gibbs draft has no frame before
            return Leanings.made_by(made)
        for name, pull in (("note_hold", HeldNotes), ("rest_hold", RestHold)):
            if pulls[name]:
                made.append(functools.partial(pull, **shape, strength=pulls[name]))
        for name, pull in (("voice_span", VoiceSpan), ("ensemble_span", EnsembleSpan)):
            if pulls[name]:
                made.append(functools.partial(pull, **shape, span=pulls[name]))
        if bar:
            made.append(
                functools.partial(EveryBarSounds, **shape, bar=bar, strength=SILENCE_STRENGTH)
            )
        return Leanings.made_by(made)

    def own_pulls(self, label: int | None = None) -> dict:
        """The pulls this model composes pieces of class ``label`` with when none are asked: its
        ``midi`` settings of those names, with its ``midi.class_pulls`` for that class over them
        (tuned on the class's own pieces: palestrina's 6 voices rest differently from its 4)."""
        pulls = {name: getattr(self.settings, name) for name in PULLS}
        own = self.settings.class_pulls.get(self.classes[label], {}) if label is not None else {}
        for name, strength in own.items():
            pulls[name] = int(strength) if PULLS[name].whole else strength
        return pulls

    def empty_slots(self, voices: int | None) -> tuple[int, ...]:
        """The tracks a piece for ``voices`` voices leaves silent in a "voices" layout: the
        voices fill the top slots and the last (the bass), as training data was mapped."""
        if not voices or self.layout.mapping != "voices" or "voices" not in self.conditions:
            return ()
        sung = set(range(voices - 1)) | {self.tracks - 1 if voices > 1 else 0}
        return tuple(track for track in range(self.tracks) if track not in sung)

    def key_shift(self, asked: dict) -> int:
        """With ``midi.common_key``, the semitones from C major / A minor to the key asked."""
        from .constraints import Constraints, shift_from_white_keys

        scale = Constraints.parse(**asked).scale
        return shift_from_white_keys(scale) if self.settings.common_key and scale else 0

    def label_for(self, meter: str | None = None, voices: int | None = None) -> int | None:
        """The class index of a piece in ``meter`` for ``voices`` voices (None: the model has no
        classes); a ``MuseError`` naming the option when the model does not know it."""
        if meter is not None and "meter" not in self.conditions and meter != self.meter:
            raise MuseError(f"--meter {meter}: this model composes in {self.meter} only")
        if voices is not None and "voices" not in self.conditions:
            raise MuseError(
                f"--voices {voices}: this model has {self.tracks} tracks and no voice count to choose"
            )
        if not self.classes:
            return None
        said = []
        if "meter" in self.conditions:
            said.append(meter or self.meter)
        if "voices" in self.conditions:  # unless asked, as many voices as the model knows
            said.append(f"{voices if voices is not None else max(self._voice_counts())} voices")
        label = " ".join(said)
        if label not in self.classes:
            option, value = (
                ("--voices", voices) if meter is None and voices is not None else ("--meter", meter)
            )
            raise MuseError(f"{option} {value}: the model knows {', '.join(self.classes)}")
        return self.classes.index(label)

    def asked_of(self, label: str) -> dict:
        """The ``compose`` arguments that ask for the class named ``label`` ("6/8", "5 voices",
        "6/8 5 voices"): ``label_for`` the other way round."""
        asked = {"meter": _meter_in(label)} if "meter" in self.conditions else {}
        return asked | ({"voices": _voices_in(label)} if "voices" in self.conditions else {})

    def _voice_counts(self) -> list[int]:
        """The voice counts among the classes ("6/8 5 voices" → 5)."""
        return [_voices_in(label) for label in self.classes if label.endswith(" voices")]

    def bar_of(self, label: int | None) -> tuple[str, int]:
        """The meter of the class number ``label`` (None: the model's) and the steps in its bar."""
        meter = (
            _meter_in(self.classes[label])
            if label is not None and "meter" in self.conditions
            else self.meter
        )
        return meter, bar_steps(meter, self.settings.steps_per_beat)

    # training

    def sampler(self, pieces: list, seed: int, training: bool):
        """Windows of ``midi.window_bars`` bars of the model's meter, starting on the bar lines of
        each segment; training windows transposed at random by up to ``midi.transpose`` semitones."""
        transposing = training and self.settings.transpose
        variation = (
            Transposition(self.settings.transpose, self.pitches, self.shape.planes)
            if transposing
            else None
        )
        return NoteWindowSampler(pieces, self, self.spec.window, seed, variation)

    def preview_steps(self, sample_bars: int) -> int:
        return sample_bars * self.steps_per_bar

    def family_terms(self, family: str):
        """The ``[midi.gan]`` terms, for GANs."""
        if family != "gan":
            return NO_TERMS
        from .gan_terms import domain_terms

        return domain_terms(self.settings.gan, self.steps_per_bar)

    def judge(self, options):
        from .judge import MidiJudge

        return MidiJudge(self, options)

    def instrument(self, track: int) -> pretty_midi.Instrument:
        layout = self.layout
        return pretty_midi.Instrument(
            layout.programs[track], is_drum=track in layout.drums, name=layout.names[track]
        )


def layout_of(settings: MidiConfig) -> Layout:
    """The settings' tracks as a ``Layout`` ("merge": one track; "auto" before the data is seen:
    one provisional track)."""
    if settings.track_mapping == "auto" or not settings.track_names:
        return Layout(
            "merge", settings.track_names[:1] or ("Piano",), settings.programs[:1] or (0,)
        )
    programs = settings.programs or (0,) * len(settings.track_names)
    if settings.track_mapping == "merge":  # one track, named "Piano" unless named
        return Layout("merge", settings.track_names[:1] or ("Piano",), programs[:1] or (0,))
    return Layout(settings.track_mapping, settings.track_names, programs, settings.drum_tracks)


def fit_settings(settings: MidiConfig, pieces: list) -> tuple[MidiConfig, str]:
    """``settings`` with what was left to the data filled in, and the one line saying what."""
    said, changes = [], {}
    if settings.track_mapping == "auto":
        layout = infer_layout([parts_of(piece) for piece in pieces])
        changes |= {
            "track_mapping": layout.mapping,
            "track_names": layout.names,
            "programs": layout.programs,
            "drum_tracks": layout.drums,
        }
        said.append(f"tracks: {layout.describe()}")
    velocities = {velocity for piece in pieces for velocity in piece.info["velocities"]}
    if settings.dynamics == "auto":
        varied = len(velocities) > 1
        changes["dynamics"] = "on" if varied else "off"
        if not varied and velocities:
            changes["velocity"] = min(max(next(iter(velocities)), 1), 127)
        said.append(
            f"velocities modelled in {settings.velocity_bins} bins"
            if varied
            else f"every note at velocity {changes.get('velocity', settings.velocity)}, as in the data"
        )
    meters = _meter_shares(pieces, settings)
    if settings.meter == "auto" and not settings.meters:
        changes["meters"] = tuple(meters)
    if settings.conditions == ("auto",):
        several = [meter for meter, share in meters.items() if share >= AUTO_CONDITION_SHARE]
        changes["conditions"] = ("meter",) if settings.meter == "auto" and len(several) > 1 else ()
        if len(several) > 1 and settings.meter == "auto":
            changes["meters"] = tuple(several)
    fitted = dataclasses.replace(settings, **changes)
    conditions = [condition for condition in fitted.conditions if condition != "auto"]
    said.append(
        f"meters: {', '.join(fitted.meters or [fitted.meter])}"
        + (f" (the model is conditioned on {' and '.join(conditions)})" if conditions else "")
    )
    return fitted, "; ".join(said)


def _meter_shares(pieces: list, settings: MidiConfig) -> dict[str, float]:
    """Each meter's share of the pieces' steps, most frequent first (a fixed meter: it alone)."""
    if settings.meter != "auto":
        return {settings.meter: 1.0}
    steps = Counter()
    for piece in pieces:
        changes = piece.info["meters"]
        ends = [step for step, _ in changes[1:]] + [piece.info["steps"]]
        for (first, meter), end in zip(changes, ends):
            steps[meter] += max(0, end - first)
    total = sum(steps.values()) or 1
    return {meter: count / total for meter, count in steps.most_common()}


class Piece(pretty_midi.PrettyMIDI):
    """A piece a model made: a ``pretty_midi.PrettyMIDI`` (one named instrument per track, each
    run of sounding steps one note, each struck drum cell one hit on channel 10) that also knows
    its roll ``(tracks, steps, width)``, its ``tempo`` and its ``meter``, and writes itself:
    ``piece.write("song.mid")`` (or ``.png``, ``.wav``) gives the same bytes as ``muse compose -o
    song.mid``, every track ending on the last bar line.

        >>> song = muse_gan.load().compose(bars=16, seed=1)
        >>> song.write("chorale.mid"); song.instruments[0].name
        'Soprano'
    """

    def __init__(
        self,
        adapter: PianoRollAdapter,
        roll: torch.Tensor,
        tempo: float,
        meter: str,
        velocity: int | None = None,
    ):
        super().__init__(resolution=TICKS_PER_BEAT, initial_tempo=tempo)
        self.roll = (
            (roll.detach().cpu() > 0.5).to(torch.uint8) if roll.is_floating_point() else roll.cpu()
        )
        self.tempo, self.meter, self.adapter = tempo, meter, adapter
        self.time_signature_changes.append(pretty_midi.TimeSignature(*parse_meter(meter), 0.0))
        seconds_per_step = 60.0 / tempo / adapter.settings.steps_per_beat
        cells, pitches = self.roll.numpy() > 0, adapter.pitches
        columns = adapter.shape.planes * pitches  # the pitch planes; the velocity columns follow
        for track in range(adapter.tracks):
            instrument = adapter.instrument(track)
            sounding, onsets = cells[track, :, :pitches], cells[track, :, pitches:columns]
            # a velocity asked for replaces what the model chose
            marks = cells[track, :, columns:] if velocity is None else cells[track, :, :0]
            loudness = _step_velocities(marks, velocity or adapter.settings.velocity)
            notes = _hits(sounding) if instrument.is_drum else _runs(sounding, onsets)
            instrument.notes = [
                pretty_midi.Note(
                    velocity=int(loudness[start]),
                    pitch=int(pitch) + adapter.settings.pitch_low,
                    start=start * seconds_per_step,
                    end=end * seconds_per_step,
                )
                for pitch, start, end in notes
            ]
            self.instruments.append(instrument)

    @property
    def bars(self) -> int:
        return self.roll.shape[1] // bar_steps(self.meter, self.adapter.settings.steps_per_beat)

    def write(self, path) -> None:
        """Writes the piece to ``path`` in the format its suffix names (.mid, .midi, .png, .wav),
        atomically; a file object gets MIDI."""
        if hasattr(path, "write"):  # pretty_midi's own contract: a file object gets the MIDI bytes
            path.write(self.file_bytes(".mid"))
            return
        write_atomically(Path(path), self.file_bytes(Path(path).suffix))

    def file_bytes(self, suffix: str = ".mid") -> bytes:
        """The piece as a MIDI file, a piano-roll picture or a WAV (rendered with FluidSynth when
        it and a General MIDI SoundFont are installed, else the built-in synthesizer)."""
        suffix = suffix.lower()
        if suffix in MIDI_SUFFIXES:
            return self._midi_bytes()
        if suffix == ".wav":
            from .render import SAMPLE_RATE, render, wav_bytes

            return wav_bytes(render(self), SAMPLE_RATE)
        if suffix == ".png":
            from .png import write_pianoroll_png

            settings, picture = self.adapter.settings, io.BytesIO()
            names = (
                None if self.adapter.layout.mapping == "merge" else list(self.adapter.layout.names)
            )
            write_pianoroll_png(
                self.roll[:, :, : self.adapter.pitches],
                picture,
                pitch_low=settings.pitch_low,
                steps_per_bar=bar_steps(self.meter, settings.steps_per_beat),
                track_names=names,
            )
            return picture.getvalue()
        raise DataError(
            f"cannot write '{suffix}' files from a MIDI model (known: {', '.join(PianoRollAdapter.formats)})"
        )

    def _midi_bytes(self) -> bytes:
        """A standard MIDI file in which every track ends exactly at the piece's last step, so
        players and DAWs see the whole last bar even when it ends in a rest."""
        import mido

        raw = io.BytesIO()
        pretty_midi.PrettyMIDI.write(self, raw)
        midi = mido.MidiFile(file=io.BytesIO(raw.getvalue()))
        end_tick = round(
            self.roll.shape[1] * midi.ticks_per_beat / self.adapter.settings.steps_per_beat
        )
        for track in midi.tracks:
            track_ticks = sum(message.time for message in track[:-1])
            track[-1].time = max(0, end_tick - track_ticks)
        out = io.BytesIO()
        midi.save(file=out)
        return out.getvalue()


def first_tempo(piece: pretty_midi.PrettyMIDI) -> float | None:
    """The tempo a piece starts at, in quarter notes per minute; None when it gives none."""
    _, tempi = piece.get_tempo_changes()
    return float(tempi[0]) if len(tempi) else None


def _step_velocities(columns: np.ndarray, default: int) -> np.ndarray:
    """The velocity of notes starting at each step ``(steps,)``: the highest bin marked in the
    velocity columns ``(steps, bins)`` there, else ``default`` (also where there are no columns)."""
    velocities = np.full(len(columns), default)
    if columns.shape[1]:
        marked = columns.any(axis=1)
        highest = columns.shape[1] - 1 - np.argmax(columns[:, ::-1], axis=1)
        velocities[marked] = [bin_velocity(number, columns.shape[1]) for number in highest[marked]]
    return velocities


def _hits(lane: np.ndarray):
    """(pitch, step, step + 1) of every struck cell of a drum lane, in order of step, then pitch."""
    steps, pitches = np.nonzero(lane)
    return [(pitch, step, step + 1) for step, pitch in zip(steps, pitches)]


def _runs(lane: np.ndarray, onsets: np.ndarray | None = None):
    """(pitch, start step, end step) of every note of a (steps, pitches) lane, in order of start,
    then pitch: each run of sounding steps, split where an onset plane (of the same shape, when
    given) marks the note struck again."""
    before = np.vstack([np.zeros((1, lane.shape[1]), dtype=bool), lane[:-1]])
    starts = lane & ~before
    if onsets is not None and onsets.shape == lane.shape:
        starts |= lane & onsets
    runs = []
    for pitch in np.nonzero(lane.any(axis=0))[0]:
        begins = np.nonzero(starts[:, pitch])[0]
        silent = np.nonzero(~lane[:, pitch])[0]
        for begin, following in zip(begins, [*begins[1:], len(lane)]):
            stop = (
                silent[np.searchsorted(silent, begin)]
                if begin < silent[-1:].max(initial=-1)
                else len(lane)
            )
            runs.append((pitch, begin, min(following, stop)))
    return sorted(runs, key=lambda run: (run[1], run[0]))


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _meter_in(label: str) -> str:
    """The meter a class of a meter-conditioned model names ("6/8 5 voices" → "6/8")."""
    return label.split(" ", 1)[0]


def _voices_in(label: str) -> int:
    """The voice count a class names, as ``label_for`` writes it ("6/8 5 voices" → 5)."""
    return int(label.split()[-2])
