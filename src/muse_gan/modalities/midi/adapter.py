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
import io
import math
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from ...core.adapter import Adapter, Composes, PlugsTerms
from ...core.objective import NO_TERMS
from ...core.spec import Spec
from ...errors import DataError, MuseError
from ...files import write_atomically
from ..registry import ADAPTERS
from .keys import Transposition, common_key_shift, fits_shifted, in_common_key, shift_pitches
from .scores import SCORE_SUFFIXES, bach_chorales, read_scores
from .settings import TICKS_PER_BEAT, MidiConfig, check

MIDI_SUFFIXES = (".mid", ".midi")
# about 3 hours at 100 per minute: a piece longer than this is a corrupt or absurd file,
MAX_BEATS = 20_000
# and its roll (tracks x steps x pitches bytes) would take gigabytes


@ADAPTERS.register("midi")
class PianoRollAdapter(Adapter, Composes, PlugsTerms):
    modality = "midi"
    settings_class = MidiConfig
    item_name = "piece"
    suffixes = MIDI_SUFFIXES + SCORE_SUFFIXES
    formats = (".mid", ".midi", ".png", ".wav")
    sample_formats = (".mid", ".png")
    preview_count = 1
    evaluation_count = 100
    frame_name = "steps"

    def __init__(self, settings: MidiConfig = MidiConfig()):
        check(settings)
        super().__init__(settings)
        self.pitches = settings.pitch_high - settings.pitch_low + 1
        self.tracks = 1 if settings.track_mapping == "merge" else len(settings.track_names)

    @property
    def steps_per_bar(self) -> int:
        return self.settings.steps_per_beat * self.settings.beats_per_bar

    @property
    def corpora(self) -> dict:
        return {"bach": bach_chorales}

    @property
    def spec(self) -> Spec:
        return Spec(
            "binary",
            channels=self.tracks,
            width=self.pitches,
            steps_per_bar=self.steps_per_bar,
            window=self.settings.window_bars * self.steps_per_bar,
        )

    def cache_settings(self) -> dict:
        settings = dataclasses.asdict(self.settings)
        return {
            key: value for key, value in settings.items() if key not in MidiConfig.TRAINING_ONLY
        }

    # files → items

    def read(self, path: str | Path) -> list[pretty_midi.PrettyMIDI]:
        """The pieces in a MIDI file (one) or a score file (an ABC file may hold many)."""
        path = Path(path)
        if path.suffix.lower() in SCORE_SUFFIXES:
            return read_scores(path, default_tempo=self.settings.tempo)
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
        try:
            return [pretty_midi.PrettyMIDI(io.BytesIO(data))]
        except Exception as error:  # mido and pretty_midi raise many kinds on bad bytes
            raise DataError(f"{path}: not a readable MIDI file ({_reason(error)})") from None

    # items ⇄ rolls

    def encode(self, piece: pretty_midi.PrettyMIDI) -> torch.Tensor:
        """The piece's roll, ``(tracks, steps, pitches)``, a whole number of bars long; a piece
        whose part count differs from the model's tracks is refused (see ``roll``)."""
        return self.roll(piece, strict=True)

    def roll(self, piece: pretty_midi.PrettyMIDI, strict: bool = False) -> torch.Tensor:
        """The piece's roll, ``(tracks, steps, pitches)``, a whole number of bars long.

        Notes outside the pitch range are left out. With ``strict`` (training data), a piece
        whose part count differs from the model's tracks is refused; otherwise (a user's clip)
        missing tracks stay silent.
        """
        parts = self._parts(piece, strict)
        notes = [(track, note) for track, part in enumerate(parts) for note in part.notes]
        if not notes:
            raise DataError("no notes")
        spans = [self._quantize(piece, note) for _, note in notes]
        bars = max(1, math.ceil(max(end for _, end in spans) / self.steps_per_bar))
        if bars * self.settings.beats_per_bar > MAX_BEATS:
            raise DataError(
                f"lasts {bars} bars, over the {MAX_BEATS} beats a piece may have (a corrupt file?)"
            )
        roll = np.zeros((self.tracks, bars * self.steps_per_bar, self.pitches), dtype=np.uint8)
        for (track, note), (start, end) in zip(notes, spans):
            pitch = note.pitch - self.settings.pitch_low
            if 0 <= pitch < self.pitches and end > start:
                roll[track, start:end, pitch] = 1
        if not roll.any():
            raise DataError(
                f"no notes in the pitch range {self.settings.pitch_low}-{self.settings.pitch_high}"
            )
        return torch.from_numpy(roll)

    def decode(self, roll: torch.Tensor) -> Piece:
        """The roll ``(tracks, steps, pitches)`` as a ``Piece`` at the settings' tempo."""
        return self.piece(roll)

    def file_bytes(self, roll: torch.Tensor, suffix: str) -> bytes:
        """A roll ``(tracks, steps, pitches)`` as a MIDI file, a piano-roll picture or a WAV."""
        return self.piece(roll).file_bytes(suffix)

    # composing (the Composes capability)

    def piece(self, roll: torch.Tensor, tempo: float | None = None) -> Piece:
        """The roll as a ``Piece``, at ``tempo`` quarter notes per minute (default: the settings')."""
        return Piece(self, roll, tempo or self.settings.tempo)

    def read_clip(self, clip, option: str) -> tuple[torch.Tensor, float | None]:
        """A user's clip (a path or a PrettyMIDI) as a roll in this model's settings, and its tempo."""
        name = "clip" if isinstance(clip, pretty_midi.PrettyMIDI) else str(clip)
        try:
            piece = clip if name == "clip" else self.read(clip)[0]  # a score file's first piece
            roll = self.roll(piece)
        except DataError as error:
            reason = str(error).removeprefix(f"{name}: ")
            raise MuseError(f"{option} {name}: {reason}") from None
        return roll, first_tempo(piece)

    def into_model_key(self, rolls: list[torch.Tensor]) -> list[int]:
        """With ``midi.common_key``, the semitones that move each clip to C major or A minor."""
        if not self.settings.common_key:
            return [0] * len(rolls)
        return [common_key_shift(roll, self.settings.pitch_low) for roll in rolls]

    def shifted(self, roll: torch.Tensor, semitones: int, option: str = "") -> torch.Tensor:
        """``roll`` moved ``semitones``; with ``option``, refused where a note would leave the pitch range."""
        if option and not fits_shifted(roll, semitones):
            low, high = self.settings.pitch_low, self.settings.pitch_high
            raise MuseError(
                f"{option} {semitones}: moves notes of this piece past the model's pitch range "
                f"(MIDI {low}-{high}); try a smaller shift"
            )
        return shift_pitches(roll, semitones)

    # training

    def sampler(self, pieces: list, seed: int, training: bool):
        """Windows of ``midi.window_bars`` bars starting on bar lines; training windows transposed
        at random by up to ``midi.transpose`` semitones."""
        from ...core.samplers import WindowSampler

        variation = (
            Transposition(self.settings.transpose) if training and self.settings.transpose else None
        )
        return WindowSampler(pieces, self.spec.window, self.steps_per_bar, seed, variation)

    def model_view(self, pieces: list) -> list:
        """With ``midi.common_key``, the pieces moved to C major or A minor (copies)."""
        return (
            in_common_key(pieces, self.settings.pitch_low) if self.settings.common_key else pieces
        )

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
            raise DataError(
                f"has {len(parts)} parts, the model has {self.tracks} tracks "
                f'(midi.track_mapping = "merge" puts all parts in one)'
            )
        names = list(self.settings.track_names)
        if len({part.name for part in parts}) == len(parts) and all(
            part.name in names for part in parts
        ):
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

    def instrument(self, track: int) -> pretty_midi.Instrument:
        settings = self.settings
        if settings.track_mapping == "merge":
            return pretty_midi.Instrument(settings.programs[0], name=settings.track_names[0])
        return pretty_midi.Instrument(
            settings.programs[track],
            is_drum=track in settings.drum_tracks,
            name=settings.track_names[track],
        )


class Piece(pretty_midi.PrettyMIDI):
    """A piece a model made: a ``pretty_midi.PrettyMIDI`` (one named instrument per track, each
    run of sounding steps one note) that also knows its roll ``(tracks, steps, pitches)`` and
    its ``tempo``, and writes itself: ``piece.write("song.mid")`` (or ``.png``, ``.wav``) gives
    the same bytes as ``muse compose -o song.mid``, every track ending on the last bar line.

        >>> song = muse_gan.load().compose(bars=16, seed=1)
        >>> song.write("chorale.mid"); song.instruments[0].name
        'Soprano'
    """

    def __init__(self, adapter: PianoRollAdapter, roll: torch.Tensor, tempo: float):
        super().__init__(resolution=TICKS_PER_BEAT, initial_tempo=tempo)
        self.roll = (
            (roll.detach().cpu() > 0.5).to(torch.uint8) if roll.is_floating_point() else roll.cpu()
        )
        self.tempo, self.adapter = tempo, adapter
        settings = adapter.settings
        self.time_signature_changes.append(
            pretty_midi.TimeSignature(settings.beats_per_bar, 4, 0.0)
        )
        seconds_per_step = 60.0 / tempo / settings.steps_per_beat
        for track, lane in enumerate(self.roll.numpy() > 0):
            instrument = adapter.instrument(track)
            for pitch, start, end in _runs(lane):
                instrument.notes.append(
                    pretty_midi.Note(
                        velocity=settings.velocity,
                        pitch=int(pitch) + settings.pitch_low,
                        start=start * seconds_per_step,
                        end=end * seconds_per_step,
                    )
                )
            self.instruments.append(instrument)

    @property
    def bars(self) -> int:
        return self.roll.shape[1] // self.adapter.steps_per_bar

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
            names = None if settings.track_mapping == "merge" else list(settings.track_names)
            write_pianoroll_png(
                self.roll,
                picture,
                pitch_low=settings.pitch_low,
                steps_per_bar=self.adapter.steps_per_bar,
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


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
