"""MIDI and notated scores as multi-track piano rolls.

A roll is a ``uint8`` tensor of shape ``(tracks, steps, pitches)``: 1 where a note sounds.
Time is in steps of 1/``steps_per_beat`` quarter note, counted from the first downbeat; pitch
index 0 is MIDI pitch ``pitch_low``. Consecutive sounding steps decode to one held note, so a
repeated note struck again without a gap merges into one (the price of a plain roll).
"""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from ..config import MidiConfig
from ..errors import ConfigError, DataError
from ..scores import SCORE_SUFFIXES, read_scores
from . import ADAPTERS
from .base import Spec

MIDI_SUFFIXES = (".mid", ".midi")
TICKS_PER_BEAT = 480  # divisible by 2, 3, 4, 8, 12 and 16 steps per beat: note times land on exact ticks
MAX_BEATS = 20_000  # about 3 hours at 100 per minute: a piece longer than this is a corrupt or absurd file,
# and its roll (tracks x steps x pitches bytes) would take gigabytes


@ADAPTERS.register("midi")
class PianoRollAdapter:
    modality = "midi"
    sample_formats = (".mid", ".png")  # what a training run's samples are written as
    preview_count = 1  # items in a training run's samples
    item_name = "piece"
    suffixes = MIDI_SUFFIXES + SCORE_SUFFIXES

    def __init__(self, settings: MidiConfig = MidiConfig()):
        _check(settings)
        self.settings = settings
        self.steps_per_bar = settings.steps_per_beat * settings.beats_per_bar
        self.pitches = settings.pitch_high - settings.pitch_low + 1
        self.tracks = 1 if settings.track_mapping == "merge" else len(settings.track_names)

    classes = ()  # pieces carry no class labels

    @property
    def corpora(self) -> dict:
        from ..scores import bach_chorales

        return {"bach": bach_chorales}

    @property
    def spec(self) -> Spec:
        return Spec("binary", channels=self.tracks, width=self.pitches, steps_per_bar=self.steps_per_bar)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self.settings)

    @classmethod
    def from_dict(cls, values: dict, where: str = "checkpoint") -> "PianoRollAdapter":
        from ..config import _build

        return cls(_build(MidiConfig, values, where, "midi."))

    # files → items

    def label_of(self, path: Path) -> str:
        return ""

    def fitted(self, pieces) -> "PianoRollAdapter":
        """Nothing to learn from the data: the settings say it all."""
        return self

    def read(self, path: str | Path) -> list[pretty_midi.PrettyMIDI]:
        """The pieces in a MIDI file (one) or a score file (an ABC file may hold many)."""
        path = Path(path)
        if path.suffix.lower() in SCORE_SUFFIXES:
            return read_scores(path, default_tempo=self.settings.tempo)
        if path.suffix.lower() not in MIDI_SUFFIXES:
            raise DataError(f"{path}: not a MIDI or score file (expected {', '.join(self.suffixes)})")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
        if data[:4] == b"MThd" and data[12:14] == b"\x00\x00":
            raise DataError(f"{path}: its header says 0 ticks per beat, so no note has a time")
        try:
            return [pretty_midi.PrettyMIDI(io.BytesIO(data))]
        except Exception as error:  # mido and pretty_midi raise many kinds on bad bytes
            raise DataError(f"{path}: not a readable MIDI file ({_reason(error)})") from None

    # items ⇄ rolls

    def encode(self, piece: pretty_midi.PrettyMIDI, strict: bool = True) -> torch.Tensor:
        """The piece's roll, ``(tracks, steps, pitches)``, a whole number of bars long.

        Notes outside the pitch range are left out. With ``strict``, a piece whose part count
        differs from the model's tracks is refused; otherwise missing tracks stay silent.
        """
        parts = self._parts(piece, strict)
        notes = [(track, note) for track, part in enumerate(parts) for note in part.notes]
        if not notes:
            raise DataError("no notes")
        spans = [self._quantize(piece, note) for _, note in notes]
        bars = max(1, math.ceil(max(end for _, end in spans) / self.steps_per_bar))
        if bars * self.settings.beats_per_bar > MAX_BEATS:
            raise DataError(f"lasts {bars} bars, over the {MAX_BEATS} beats a piece may have (a corrupt file?)")
        roll = np.zeros((self.tracks, bars * self.steps_per_bar, self.pitches), dtype=np.uint8)
        for (track, note), (start, end) in zip(notes, spans):
            pitch = note.pitch - self.settings.pitch_low
            if 0 <= pitch < self.pitches and end > start:
                roll[track, start:end, pitch] = 1
        if not roll.any():
            raise DataError(f"no notes in the pitch range {self.settings.pitch_low}-{self.settings.pitch_high}")
        return torch.from_numpy(roll)

    def values(self, rolls: torch.Tensor) -> torch.Tensor:
        """Stored ``uint8`` rolls → the 0/1 floats models see."""
        return rolls.float()

    def decode(self, roll: torch.Tensor, tempo: float | None = None) -> pretty_midi.PrettyMIDI:
        """A PrettyMIDI with one instrument per track; each run of sounding steps is one note."""
        roll = np.asarray(roll.detach().cpu() if isinstance(roll, torch.Tensor) else roll) > 0.5
        tempo = tempo or self.settings.tempo
        piece = pretty_midi.PrettyMIDI(resolution=TICKS_PER_BEAT, initial_tempo=tempo)
        piece.time_signature_changes.append(pretty_midi.TimeSignature(self.settings.beats_per_bar, 4, 0.0))
        seconds_per_step = 60.0 / tempo / self.settings.steps_per_beat
        for track, lane in enumerate(roll):
            instrument = self._instrument(track)
            for pitch, start, end in _runs(lane):
                instrument.notes.append(pretty_midi.Note(
                    velocity=self.settings.velocity, pitch=int(pitch) + self.settings.pitch_low,
                    start=start * seconds_per_step, end=end * seconds_per_step))
            piece.instruments.append(instrument)
        return piece

    def file_bytes(self, roll: torch.Tensor, suffix: str, tempo: float | None = None) -> bytes:
        """A roll ``(tracks, steps, pitches)`` as a MIDI file, a piano-roll picture or a WAV (rendered
        with FluidSynth when it and a General MIDI SoundFont are installed, else the built-in synthesizer)."""
        suffix = suffix.lower()
        if suffix in MIDI_SUFFIXES:
            return self.midi_bytes(self.decode(roll, tempo), steps=roll.shape[1])
        if suffix == ".wav":
            from ..render import SAMPLE_RATE, render, wav_bytes

            return wav_bytes(render(self.decode(roll, tempo)), SAMPLE_RATE)
        if suffix == ".png":
            from ..pianoroll_png import write_pianoroll_png

            picture = io.BytesIO()
            names = None if self.settings.track_mapping == "merge" else list(self.settings.track_names)
            write_pianoroll_png(roll, picture, pitch_low=self.settings.pitch_low,
                                steps_per_bar=self.steps_per_bar, track_names=names)
            return picture.getvalue()
        raise DataError(f"cannot write '{suffix}' files from a MIDI model (known: .mid, .midi, .png, .wav)")

    def midi_bytes(self, piece: pretty_midi.PrettyMIDI, steps: int | None = None) -> bytes:
        """The piece as a standard MIDI file; with ``steps``, every track ends exactly there, so
        players and DAWs see the whole last bar even when it ends in a rest."""
        import mido

        raw = io.BytesIO()
        piece.write(raw)
        if steps is None:
            return raw.getvalue()
        midi = mido.MidiFile(file=io.BytesIO(raw.getvalue()))
        end_tick = round(steps * midi.ticks_per_beat / self.settings.steps_per_beat)  # the piece's own resolution
        for track in midi.tracks:
            track_ticks = sum(message.time for message in track[:-1])
            track[-1].time = max(0, end_tick - track_ticks)
        out = io.BytesIO()
        midi.save(file=out)
        return out.getvalue()

    # helpers

    def _parts(self, piece, strict: bool) -> list[pretty_midi.Instrument]:
        """The piece's parts in track order: by name when every part is named after a track
        (so a silent voice keeps its place), else in file order."""
        parts = [part for part in piece.instruments if part.notes]
        required = self.settings.require_parts
        if required and len(parts) != required:
            raise DataError(f"has {len(parts)} parts, midi.require_parts is {required}")
        if self.settings.track_mapping == "merge":
            merged = pretty_midi.Instrument(0)
            merged.notes = [note for part in parts if not part.is_drum for note in part.notes]
            return [merged]
        if len(parts) > self.tracks or (strict and len(parts) != self.tracks):
            raise DataError(f"has {len(parts)} parts, the model has {self.tracks} tracks "
                            f"(midi.track_mapping = \"merge\" puts all parts in one)")
        names = list(self.settings.track_names)
        if len({part.name for part in parts}) == len(parts) and all(part.name in names for part in parts):
            by_name = {part.name: part for part in parts}
            return [by_name.get(name, pretty_midi.Instrument(0)) for name in names]
        return parts

    def _quantize(self, piece, note) -> tuple[int, int]:
        """Start and end step of a note, from its ticks (so tempo changes don't shift the grid)."""
        per_step = piece.resolution / self.settings.steps_per_beat
        start = piece.time_to_tick(note.start) / per_step
        end = piece.time_to_tick(note.end) / per_step
        if self.settings.quantize == "sample":  # sounding at a step's start; short notes may vanish
            return math.ceil(start - 1e-6), math.ceil(end - 1e-6)
        start = math.floor(start + 0.5)
        return start, max(math.floor(end + 0.5), start + 1)

    def _instrument(self, track: int) -> pretty_midi.Instrument:
        settings = self.settings
        if settings.track_mapping == "merge":
            return pretty_midi.Instrument(settings.programs[0], name=settings.track_names[0])
        return pretty_midi.Instrument(settings.programs[track], is_drum=track in settings.drum_tracks,
                                      name=settings.track_names[track])


def _runs(lane: np.ndarray):
    """(pitch, start step, end step) of every run of sounding steps in a (steps, pitches) lane,
    in order of start, then pitch."""
    padded = np.zeros((lane.shape[0] + 2, lane.shape[1]), dtype=np.int8)
    padded[1:-1] = lane
    change = np.diff(padded, axis=0)
    starts = np.argwhere(change.T == 1)
    ends = np.argwhere(change.T == -1)
    runs = [(pitch, start, end) for (pitch, start), (_, end) in zip(starts, ends)]
    return sorted(runs, key=lambda run: (run[1], run[0]))


def _check(settings: MidiConfig) -> None:
    def fail(key, reason):
        raise ConfigError(f"midi.{key}: {reason}")

    if not 0 <= settings.pitch_low <= settings.pitch_high <= 127:
        fail("pitch_low", "need 0 <= pitch_low <= pitch_high <= 127")
    if settings.steps_per_beat < 1 or TICKS_PER_BEAT % settings.steps_per_beat:
        fail("steps_per_beat", f"must divide {TICKS_PER_BEAT}")
    if settings.beats_per_bar < 1:
        fail("beats_per_bar", "must be at least 1")
    if settings.track_mapping not in ("keep", "merge"):
        fail("track_mapping", "must be \"keep\" or \"merge\"")
    if settings.quantize not in ("round", "sample"):
        fail("quantize", "must be \"round\" or \"sample\"")
    if len(settings.programs) != len(settings.track_names) or not settings.track_names:
        fail("programs", "need one program per track name")
    if not all(0 <= program <= 127 for program in settings.programs):
        fail("programs", "General MIDI programs are 0-127")
    if not 1 <= settings.velocity <= 127:
        fail("velocity", "must be 1-127")
    if not settings.tempo > 0:
        fail("tempo", "must be a positive number of quarter notes per minute")
    if not all(0 <= track < len(settings.track_names) for track in settings.drum_tracks):
        fail("drum_tracks", "must be track indices")


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
