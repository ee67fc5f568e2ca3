"""Run configuration: frozen dataclasses loaded from TOML files plus ``section.key=value`` overrides.

Every section has defaults, so an empty file is a valid config. Unknown sections or keys and
values of the wrong type are ``ConfigError``s naming the key. The resolved config is written
into every run folder (``config.toml``) and every checkpoint (as JSON), and rebuilt from there.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    modality: str = "midi"  # "midi", "image", "audio" or "text"
    source: str = "builtin"  # the modality's built-in data ("bach" chorales, "digits", "notes", "folk" tunes), or a folder of the user's files
    limit: int = 0  # use at most this many source files (0: all); for quick trials
    valid_fraction: float = 0.1
    test_fraction: float = 0.0  # held out from training and validation, for `muse eval`
    window_bars: int = 4  # MIDI training windows, in bars; windows start on bar lines
    transpose: int = 6  # MIDI augmentation: random shift of up to ± this many semitones
    common_key: bool = False  # MIDI: move every piece to C major or A minor first (its estimated key); see keys.py
    workers: int = 0  # processes preparing the data: 1 (this one), or n; 0: as many as pay off, one per CPU, at most 8


@dataclass(frozen=True)
class MidiConfig:
    """Piano-roll settings. A beat is a quarter note; time is counted in steps of 1/steps_per_beat."""

    steps_per_beat: int = 4
    beats_per_bar: int = 4  # the model's time signature is beats_per_bar/4
    pitch_low: int = 28  # lowest MIDI pitch in the roll (inclusive)
    pitch_high: int = 96  # highest MIDI pitch in the roll (inclusive)
    track_mapping: str = "keep"  # "keep": one track per part/instrument; "merge": all into one
    track_names: tuple[str, ...] = ("Soprano", "Alto", "Tenor", "Bass")
    programs: tuple[int, ...] = (19, 19, 19, 19)  # General MIDI, 0-based (19: church organ)
    drum_tracks: tuple[int, ...] = ()  # indices of tracks written as drums (MIDI channel 10)
    require_parts: int = 0  # use only pieces with exactly this many parts (0: any)
    quantize: str = "round"  # "round": onsets/offsets to the nearest step; "sample": notes sounding at each step's start
    velocity: int = 80
    tempo: float = 100.0  # quarter notes per minute, when the caller gives none


@dataclass(frozen=True)
class ImageConfig:
    """Pictures as ``(channels, size, size)`` tensors of values from 0 (black) to 1 (white)."""

    size: int = 32  # every image becomes size × size pixels
    color: str = "gray"  # "gray" (1 channel) or "rgb" (3)
    fit: str = "crop"  # "crop": shorter side to size, centre cut; "pad": longer side to size, black borders; "stretch"
    labels: bool = False  # class labels from the names of the folders the images are in (digits: the digit)
    binarize: bool = False  # pixels to 0 or 1 at 0.5: binary data (Bernoulli heads, threshold decoding)
    max_pixels: int = 40_000_000  # larger images are refused before decoding (decompression bombs)
    flip: bool = False  # augmentation: random left-right mirroring
    rotate: float = 0.0  # augmentation: random rotation of up to ± this many degrees
    translate: float = 0.0  # augmentation: random shift of up to ± this share of the size
    scale: float = 0.0  # augmentation: random zoom in or out by up to this share


@dataclass(frozen=True)
class AudioConfig:
    """Sound as log-mel spectrograms: clips of ``frames`` hops, ``mels`` bands, 0 to 1 in value."""

    sample_rate: int = 16000  # Hz; files at other rates are resampled
    n_fft: int = 1024  # STFT window, samples
    hop: int = 256  # samples between frames
    frames: int = 64  # a clip is frames × hop samples (64 × 256 at 16 kHz: 1.02 s)
    mels: int = 64
    fmin: float = 30.0  # Hz
    fmax: float = 8000.0  # Hz
    db_range: float = 80.0  # value 0 is this many dB below full scale, 1 is full scale
    labels: bool = False  # classes from the names of the folders the files are in (notes: the MIDI pitch)
    short: str = "pad"  # a file shorter than a clip: "pad" with silence or "skip" it
    griffin_lim: int = 32  # phase-recovery iterations when turning spectrograms into sound


@dataclass(frozen=True)
class TextConfig:
    """Text as tokens: characters, or ABC notation's notes, durations, bar lines and headers."""

    vocabulary: str = "char"  # "char" or "abc" (folk-rnn-like ABC tokens; keeps only the X/M/L/K headers)
    window: int = 256  # tokens per training window (a multiple of 8)
    max_vocabulary: int = 256  # the most frequent tokens kept; the rest read as unknown


@dataclass(frozen=True)
class ModelConfig:
    family: str = "rnn"
    cell: str = "lstm"  # "lstm" or "gru"
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.2
    head: str = "auto"  # binary frames: "pitchwise" (a frame's notes one by one, low to high) or "bernoulli"
    # (independent); continuous frames (image rows, mel frames): "gaussian"; tokens: "softmax"; "auto": by the data
    head_hidden: int = 256
    latent: int = 64  # GAN noise / VAE code size
    channels: int = 64  # width of the convolutional GAN layers


@dataclass(frozen=True)
class GanConfig:
    loss: str = "wgan-gp"  # "wgan-gp" (gradient penalty) or "hinge" (with spectral norm in the critic)
    critic_steps: int = 5  # critic updates per generator update
    gradient_penalty: float = 10.0
    decode: str = "threshold"  # "threshold" (p > 0.5) or "bernoulli" (sample each cell)
    condition_track: int = -1  # a track given to the generator (e.g. 0: accompany a melody); -1: none
    condition_dropout: float = 0.5  # share of training batches without the condition, so it stays optional
    activity_weight: float = 0.0  # piano rolls: weight of matching each track's share of sounding steps to the data's
    critic_chroma: bool = False  # piano rolls: the critic also reads every track's pitch classes (MuseGAN's chroma stream)
    harmony_weight: float = 0.0  # piano rolls: weight of matching each pair of tracks' tonal distance per bar to the data's
    rhythm_weight: float = 0.0  # piano rolls: weight of matching how often each track starts a note at each step of the bar
    voice_ranges: bool = False  # piano rolls: each track sounds only pitches it has in the training data


@dataclass(frozen=True)
class VaeConfig:
    beta: float = 1.0  # weight of the KL term once annealed
    beta_anneal_steps: int = 1000  # beta rises linearly from 0 over these steps
    free_bits: float = 0.0  # nats per latent dimension the KL term does not charge for
    architecture: str = "auto"  # "recurrent" (MusicVAE-style, any length), "conv" (fixed size); auto: conv for images
    likelihood: str = "bernoulli"  # conv VAE: "bernoulli" (cross-entropy) or "gaussian" (learned variance)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 2e-3
    betas: tuple[float, ...] = (0.9, 0.999)  # Adam's; GANs usually train with (0.5, 0.9)
    lr_schedule: str = "cosine"  # "cosine" (to 10% of lr) or "constant"
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema: float = 0.0  # decay of the weights' moving average used for sampling; 0 turns it off
    select_by: str = "auto"  # which validated weights become the model: "auto" (the lowest validation loss;
                             # a GAN's last) or "overlap" (the samples most like the validation data's)
    log_every: int = 10
    eval_every: int = 250
    checkpoint_every: int = 250
    sample_every: int = 500
    sample_bars: int = 8
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when present, else CPU
    precision: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 on CPU; or "bf16", "fp32"
    skip_limit: int = 10  # stop after this many steps in a row skipped for a non-finite loss or gradients
    compile: bool = False  # torch.compile the model's parts (worth it on GPUs, for long runs)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    vae: VaeConfig = field(default_factory=VaeConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, sections: dict, where: str = "config") -> "Config":
        return _build(cls, sections, where)

    def override(self, assignments: list[str]) -> "Config":
        """Apply ``section.key=value`` strings; values use TOML syntax, bare words are strings."""
        sections = self.to_dict()
        for assignment in assignments:
            section, key, value = _parse_assignment(assignment)
            if section not in sections:
                raise ConfigError(f"--set {assignment}: unknown section '{section}' (known: {', '.join(sections)})")
            sections[section][key] = value
        return _build(Config, sections, "--set")


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """The defaults, updated by the TOML file at ``path`` and then by ``overrides``."""
    config = Config()
    if path is not None:
        path = Path(path)
        try:
            sections = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except OSError as error:  # a folder, no permission, ...
            raise ConfigError(f"{path}: cannot read the config file ({error.strerror or error})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML ({error})") from None
        config = _build(Config, sections, str(path))
    return config.override(list(overrides))


def to_toml(config: Config) -> str:
    """The config as a TOML file that ``load_config`` reads back to an equal config."""
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        # TOML basic strings take JSON's escapes; DEL is the one control character JSON leaves raw.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return repr(value)


def _parse_assignment(assignment: str) -> tuple[str, str, object]:
    name, sep, text = assignment.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(f"--set {assignment}: expected section.key=value, e.g. train.steps=500")
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word such as gru or a folder path
    return section, key.strip(), value


def _build(cls, values: dict, where: str, prefix: str = ""):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'config'} must be a table, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{prefix}{unknown[0]}' (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, value, where, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, kind, f"{where}: {prefix}{name}")
    return cls(**kwargs)


def _coerce(value, kind, where: str):
    """Checks ``value`` against the field's type; ints are accepted where floats are expected."""
    if typing.get_origin(kind) is tuple:
        item_kind = typing.get_args(kind)[0]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_coerce(item, item_kind, where) for item in value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not kind:
        raise ConfigError(f"{where}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    if kind is float and not math.isfinite(value):  # TOML allows nan and inf; no setting means them
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return value
