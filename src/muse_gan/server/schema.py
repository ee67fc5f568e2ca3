"""What a request to `muse serve` holds, as pydantic models (they make the OpenAPI schema too).

Clips come as a standard MIDI file (base64) or as a list of notes timed in beats (quarter
notes) from the clip's start. Answers are MIDI, notes as JSON or WAV (``format``).

Compose-like requests accept controls beyond the ones declared here: a control the model's
``compose`` takes (a meter or key once the library has them) passes through by its name, and
``GET /models`` lists it; one the model does not take is refused by name. So a control the
library gains needs no change here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_SEED = 2**63 - 1
Format = Literal["midi", "notes", "wav"]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pitch: int = Field(ge=0, le=127, description="MIDI pitch")
    start: float = Field(ge=0, description="beats (quarter notes) from the clip's start")
    end: float = Field(gt=0, description="beats from the clip's start; after start")
    velocity: int = Field(100, ge=1, le=127)
    voice: int = Field(0, ge=0, le=15, description="the track: 0 is the model's first voice")

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class ClipIn(BaseModel):
    """A clip: ``midi`` (a standard MIDI file, base64) or ``notes`` (with ``tempo``), not both."""

    model_config = ConfigDict(extra="forbid")

    midi: str | None = Field(None, description="a standard MIDI file, base64-encoded")
    notes: list[NoteIn] | None = None
    tempo: float | None = Field(
        None, ge=10, le=400, description="quarter notes per minute of a notes clip"
    )

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.midi is None) == (self.notes is None):
            raise ValueError("give either midi (base64) or notes, not both and not neither")
        return self


class Answered(BaseModel):
    format: Format = Field("midi", description="midi, notes (JSON) or wav")


class ComposeRequest(Answered):
    """``POST /compose``: a new piece. Controls a model's ``compose`` takes besides these
    (see ``GET /models``) may be given by name."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="a served model (default: the first one)")
    bars: int = Field(16, description="length of the piece in bars")
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="same seed and request, same answer (default: random)"
    )
    temperature: float = Field(1.0, gt=0, le=10)
    tempo: float | None = Field(None, ge=10, le=400, description="quarter notes per minute")
    transpose: int = Field(0, ge=-24, le=24, description="semitones")
    decode: Literal["threshold", "bernoulli"] | None = Field(None, description="GAN models")


class ContinueRequest(ComposeRequest):
    """``POST /continue``: a piece that starts with ``primer`` (for a model that accompanies a
    melody, such as bach-gan: the melody, kept) and is ``bars`` long."""

    primer: ClipIn


class InterpolateRequest(Answered):
    """``POST /interpolate``: ``steps`` clips from ``start`` to ``end`` through a VAE's latent
    space, one after another."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    start: ClipIn
    end: ClipIn
    steps: int = Field(5, ge=2, le=64)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    temperature: float = Field(0.5, gt=0, le=10)
    tempo: float | None = Field(None, ge=10, le=400)


class InfillRequest(Answered):
    """``POST /infill``: ``clip`` with ``bars`` of ``tracks`` composed anew given the rest, every
    other note kept (models that fill masks: ``GET /models`` lists "infill"). The hard
    constraints compose takes (``key``, ``scale``, ``passing``, ``ranges``, ``density``,
    ``chords``, ``polyphony``), listed under the endpoint, may be given by name; any other
    name is refused."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    clip: ClipIn
    bars: str = Field(description='the bars to compose anew, counted from 1: "5-8", or "5"')
    tracks: str | None = Field(None, description='only these tracks, "alto,tenor" (default: all)')
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    temperature: float = Field(1.0, gt=0, le=10)
    tempo: float | None = Field(None, ge=10, le=400)


class HarmonizeRequest(Answered):
    """``POST /harmonize``: the other voices under ``melody``'s top line, the melody kept.
    Constraints by name as for ``InfillRequest``, where ``GET /models`` lists them under
    "harmonize" (models that fill masks; a GAN accompanying its melody keeps none)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    melody: ClipIn
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    temperature: float = Field(1.0, gt=0, le=10)
    tempo: float | None = Field(None, ge=10, le=400)


class RenderRequest(BaseModel):
    """``POST /render``: a clip played into a WAV."""

    model_config = ConfigDict(extra="forbid")

    clip: ClipIn
    synth: Literal["auto", "fluidsynth", "builtin"] = "auto"
    sample_rate: int = Field(22050, ge=8000, le=96000)
