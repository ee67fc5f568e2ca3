"""Run configuration: frozen dataclasses, one per section, loaded from TOML plus ``section.key=value`` overrides.

The core owns three sections, ``[data]``, ``[model]`` and ``[train]``. Every other section
belongs to a modality (``[midi]``, ``[image]``, ...) or a model family (``[gan]``, ``[vae]``),
which registers its dataclass in ``SECTIONS`` when its package is imported, so the core never
names them. A section may hold a nested dataclass, written as a sub-table (``[midi.gan]``), and may read
the keys of its own older versions through a static ``legacy(values) -> values``.

Every section has defaults, so an empty file is a valid config. Unknown sections or keys and
values of the wrong type are ``ConfigError``s naming the key. A key that moved to another
section (``MOVED``, declared by the section it moved to) is still read under its old name, so
config files and checkpoints written before the move keep working. The resolved config is
written into every run folder (``config.toml``) and every checkpoint (as JSON).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..registry import Registry

SPLIT_BY = ("file", "piece")


@dataclass(frozen=True)
class DataConfig:
    modality: str = "midi"  # a registered modality: "midi", "image", "audio", "text"
    source: str = "builtin"  # the modality's built-in data (see `muse train --help`), or a folder of the user's files
    limit: int = 0  # use at most this many source files (0: all); for quick trials
    valid_fraction: float = 0.1
    # a folder (or file) of validation pieces of one's own; the source then gives training and
    # test pieces alone (valid_fraction unused)
    valid_source: str = ""
    test_fraction: float = 0.0  # held out from training and validation, for `muse eval`
    # which parts go to training, validation and test whole: "file" (a file's pieces stay
    # together) or "piece" (each piece of a many-piece file on its own: the tunes of an ABC book)
    split_by: str = "file"
    workers: int = 0  # processes preparing the data: 1 (this one), or n; 0: as many as pay off, one per CPU, at most 8


@dataclass(frozen=True)
class ModelConfig:
    family: str = "rnn"
    cell: str = "lstm"  # "lstm", "gru", or (the rnn family) "transformer": causal self-attention
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.2
    # LSTM/GRU: DropConnect on the recurrent (hidden-to-hidden) weights while training, one mask
    # per window (Merity et al. 2018's weight-dropped LSTM); 0: off
    weight_drop: float = 0.0
    # binary frames: "pitchwise" (a frame's cells one by one, low to high), "voicewise" (the same,
    # with a stop for each voice) or "bernoulli" (independent); continuous frames (image rows, mel
    # frames): "gaussian"; tokens: "softmax"; "auto": by the data
    head: str = "auto"
    head_hidden: int = 256
    latent: int = 64  # GAN noise / VAE code size
    channels: int = 64  # width of the convolutional GAN layers
    # an RNN head's logits are divided by it: the temperature that fits its validation pieces
    # best, found after training by `muse calibrate` (a trained net is often too sure); 1: none
    calibration: float = 1.0
    # an RNN is told which bar of the piece each step is in: the first N bars each by number,
    # later ones by their place in a cycle of N (a phrase's length); 0: only where in its bar
    bar_numbers: int = 0


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
    # which validated weights become the model: "auto" (the lowest validation loss; a GAN's
    # last), "overlap" (the samples most like the validation data's) or a scalar the run
    # measures, lowest best ("piece_nll": a MIDI RNN's NLL of whole validation pieces)
    select_by: str = "auto"
    log_every: int = 10
    eval_every: int = 250
    checkpoint_every: int = 250
    sample_every: int = 500
    # length of the samples written during training, for modalities measured in bars
    sample_bars: int = 8
    seed: int = 0
    # how evenly training draws the classes of labelled data (a model's meters or voice counts):
    # 0 as the data holds them; 1 each class equally often; between, a class of n windows is
    # drawn in proportion to n ** (1 - class_balance) (0.5: a class 9 times rarer, 3 times)
    class_balance: float = 0.0
    device: str = "auto"  # "auto": CUDA when present, else CPU
    precision: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 on CPU; or "bf16", "fp32"
    # stop after this many steps in a row skipped for a non-finite loss or gradients
    skip_limit: int = 10
    compile: bool = False  # torch.compile the model's parts (worth it on GPUs, for long runs)
    # CPU threads torch computes with; 0: $OMP_NUM_THREADS when set, else the CPUs this process
    # may use, shared out among the processes of a parallel run on this machine
    threads: int = 0


CORE_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
SECTIONS: Registry[type] = Registry("config section")  # the sections of modalities and families
SECTION_CHECKS: dict[str, Callable] = {}  # section name → its range checks (see register_section)

# Network sizes past any machine's memory; the composition root's memory estimate refuses most
# runs long before (core.memory), these keep absurd numbers out of the arithmetic.
MAX_WIDTH = 2**20
MAX_LAYERS = 64
MAX_FILES = 10**9


def register_section(name: str, check: Callable | None = None):
    """Class decorator: ``name`` becomes a config section holding that dataclass; ``check``,
    when given, raises a ``ConfigError`` naming the key for settings out of range (run by
    ``check_sections`` on configs from files, ``--set`` and checkpoints alike)."""
    if check is not None:
        SECTION_CHECKS[name] = check
    return SECTIONS.register(name)


def check_ranges(section: str, settings, ranges: dict[str, tuple]) -> None:
    """Each key of ``ranges`` within its ``(low, high)``, both included; the first that is not
    is a ``ConfigError`` naming ``section.key``."""
    for key, (low, high) in ranges.items():
        value = getattr(settings, key)
        if not low <= value <= high:
            raise ConfigError(f"{section}.{key}: {value!r} must be from {low} to {high}")


def check_data(settings: DataConfig) -> None:
    check_ranges(
        "data",
        settings,
        {
            "limit": (0, MAX_FILES),
            "workers": (0, 256),
            "valid_fraction": (0, 1),
            "test_fraction": (0, 1),
        },
    )
    if settings.split_by not in SPLIT_BY:
        raise ConfigError(
            f"data.split_by: {settings.split_by!r} is not one of {', '.join(map(repr, SPLIT_BY))}"
        )
    if settings.valid_fraction + settings.test_fraction > 1:
        raise ConfigError(
            f"data.test_fraction: {settings.test_fraction!r} and data.valid_fraction "
            f"{settings.valid_fraction!r} add up to more than 1"
        )


MIN_CALIBRATION, MAX_CALIBRATION = 0.25, 4.0  # logits divided by at most 4 either way
MAX_BAR_NUMBERS = 256  # bars numbered one by one before they cycle: longer than a phrase


def check_model(settings: ModelConfig) -> None:
    sizes = ("hidden", "head_hidden", "latent", "channels")
    check_ranges(
        "model",
        settings,
        {"layers": (1, MAX_LAYERS), "bar_numbers": (0, MAX_BAR_NUMBERS)}
        | dict.fromkeys(sizes, (1, MAX_WIDTH)),
    )
    for rate in ("dropout", "weight_drop"):
        if not 0 <= getattr(settings, rate) < 1:
            raise ConfigError(
                f"model.{rate}: {getattr(settings, rate)!r} must be from 0 to below 1"
            )
    if not MIN_CALIBRATION <= settings.calibration <= MAX_CALIBRATION:
        raise ConfigError(
            f"model.calibration: {settings.calibration!r} must be from {MIN_CALIBRATION} to "
            f"{MAX_CALIBRATION}"
        )
    if settings.bar_numbers and settings.family != "rnn":
        raise ConfigError(
            f"model.bar_numbers: tells an RNN where its bars fall, not a {settings.family} "
            "(leave it 0)"
        )
    if settings.calibration != 1.0 and settings.family != "rnn":
        raise ConfigError(
            f"model.calibration: tempers an RNN's likelihood, not a {settings.family}'s (leave it 1)"
        )
    if settings.weight_drop and settings.cell == "transformer":
        raise ConfigError(
            "model.weight_drop: drops an LSTM's or GRU's recurrent weights, not a Transformer's"
        )
    if settings.cell == "transformer" and settings.family != "rnn":
        raise ConfigError(
            f'model.cell: "transformer" is a backbone of the rnn family, not of {settings.family!r} '
            '(use "lstm" or "gru")'
        )


def check_sections(config: Config) -> None:
    """The range checks of ``[data]``, ``[model]`` and every section that registered one (the
    composition root adds ``[train]``'s and each modality's, which its adapter runs)."""
    check_data(config.data)
    check_model(config.model)
    for name, check in SECTION_CHECKS.items():
        check(config.section(name))


def section_classes() -> dict[str, type]:
    """Every known section: the core's first, then the others by name (whatever order their
    packages were imported in)."""
    return CORE_SECTIONS | dict(sorted(SECTIONS.items()))


class Config:
    """One frozen dataclass per section, read as attributes: ``config.train.steps``, ``config.midi``."""

    __slots__ = ("_sections",)

    def __init__(self, **sections):
        classes = section_classes()
        unknown = sorted(set(sections) - set(classes))
        if unknown:
            raise ConfigError(f"unknown section '{unknown[0]}' (known: {', '.join(classes)})")
        object.__setattr__(
            self,
            "_sections",
            {name: sections.get(name) or kind() for name, kind in classes.items()},
        )

    def __getattr__(self, name: str):
        sections = object.__getattribute__(self, "_sections")
        if name in sections:
            return sections[name]
        raise AttributeError(f"the config has no section '{name}'")

    def __setattr__(self, name, value):
        raise dataclasses.FrozenInstanceError(f"cannot assign to config section '{name}'")

    def __eq__(self, other) -> bool:
        return isinstance(other, Config) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Config({self.to_dict()!r})"

    def __getstate__(self):
        return self.to_dict()

    def __setstate__(self, state):
        object.__setattr__(self, "_sections", Config.from_dict(state)._sections)

    def section(self, name: str):
        """The section ``name``; an unknown one is a ``ConfigError`` listing the known ones."""
        if name not in self._sections:
            raise ConfigError(f"unknown section '{name}' (known: {', '.join(self._sections)})")
        return self._sections[name]

    def with_section(self, name: str, values) -> Config:
        """A copy with the section ``name`` replaced by ``values`` (its dataclass)."""
        self.section(name)
        return Config(**self._sections | {name: values})

    def replace(self, section: str, **changes) -> Config:
        """A copy with ``changes`` made to one section."""
        return Config(
            **self._sections | {section: dataclasses.replace(self.section(section), **changes)}
        )

    def to_dict(self) -> dict:
        return {name: dataclasses.asdict(values) for name, values in self._sections.items()}

    @classmethod
    def from_dict(cls, sections: dict, where: str = "config") -> Config:
        if not isinstance(sections, dict):
            raise ConfigError(f"{where}: the config must be a table, got {sections!r}")
        sections = _under_new_names(sections)
        classes = section_classes()
        unknown = sorted(set(sections) - set(classes))
        if unknown:
            raise ConfigError(
                f"{where}: unknown section '{unknown[0]}' (known: {', '.join(classes)})"
            )
        return cls(
            **{
                name: build(classes[name], values, where, f"{name}.")
                for name, values in sections.items()
            }
        )

    def override(self, assignments: list[str]) -> Config:
        """Apply ``section.key=value`` strings (``section.table.key=value`` for a sub-table);
        values use TOML syntax, bare words are strings."""
        sections = self.to_dict()
        for assignment in assignments:
            path, value = _parse_assignment(assignment)
            path = moved_keys().get(".".join(path), ".".join(path)).split(".")
            if path[0] not in sections:
                raise ConfigError(
                    f"--set {assignment}: unknown section '{path[0]}' (known: {', '.join(sections)})"
                )
            table = sections[path[0]]
            for key in path[1:-1]:
                table.setdefault(key, {})  # a new entry of a named table: checked when built
                if not isinstance(table[key], dict):
                    raise ConfigError(f"--set {assignment}: '{key}' is not a table in [{path[0]}]")
                table = table[key]
            table[path[-1]] = value
        return Config.from_dict(sections, "--set")


def moved_keys() -> dict[str, str]:
    """Old dotted name → new dotted name of every key that moved to a registered section (built
    when asked: sections register as their packages are imported). A section declares the keys
    it took over as ``MOVED = {"data.window_bars": "window_bars"}``."""
    return {
        old: f"{name}.{new}"
        for name, kind in SECTIONS.items()
        for old, new in getattr(kind, "MOVED", {}).items()
    }


def _under_new_names(sections: dict) -> dict:
    """``sections`` with keys given under their old names put where they live now. Where both
    are given, the new name wins."""
    sections = {
        name: dict(values) if isinstance(values, dict) else values
        for name, values in sections.items()
    }
    for old, new in moved_keys().items():
        old_section, old_key = old.split(".", 1)
        if not isinstance(sections.get(old_section), dict) or old_key not in sections[old_section]:
            continue
        value = sections[old_section].pop(old_key)
        *tables, key = new.split(".")
        target = sections
        for table in tables:
            target = target.setdefault(table, {})
            if not isinstance(target, dict):
                break
        else:
            target.setdefault(key, value)
    return sections


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
            raise ConfigError(
                f"{path}: cannot read the config file ({error.strerror or error})"
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML ({error})") from None
        config = Config.from_dict(sections, str(path))
    return config.override(list(overrides))


def to_toml(config: Config) -> str:
    """The config as a TOML file that ``load_config`` reads back to an equal config."""
    lines = []
    for section, values in config.to_dict().items():
        lines += _toml_table(section, values)
    return "\n".join(lines)


def _toml_table(name: str, values: dict) -> list[str]:
    """``[name]`` with its keys, then its sub-tables as ``[name.key]``."""
    lines = [f"[{name}]"] + [
        f"{toml_key(key)} = {toml_value(value)}"
        for key, value in values.items()
        if not isinstance(value, dict)
    ]
    lines.append("")
    for key, value in values.items():
        if isinstance(value, dict):
            lines += _toml_table(f"{name}.{toml_key(key)}", value)
    return lines


def toml_key(key: str) -> str:
    """``key`` as TOML writes it: bare when it can be, else quoted ("6 voices", "6/8")."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        # TOML basic strings take JSON's escapes; DEL is the one control character JSON leaves raw.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return repr(value)


def _parse_assignment(assignment: str) -> tuple[list[str], object]:
    name, sep, text = assignment.partition("=")
    path = _dotted(name)
    if not sep or len(path) < 2 or not all(path):
        raise ConfigError(f"--set {assignment}: expected section.key=value, e.g. train.steps=500")
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word such as gru or a folder path
    return path, value


def _dotted(name: str) -> list[str]:
    """The parts of a dotted key as TOML reads them (``midi.class_pulls."6 voices".rest_hold``,
    as errors name it), else split at each dot (``midi.class_pulls.6 voices.rest_hold``)."""
    try:
        table, path = tomllib.loads(f"{name} = 0"), []
        while isinstance(table, dict) and len(table) == 1:
            key, table = next(iter(table.items()))
            path.append(key)
        return path
    except tomllib.TOMLDecodeError:
        return [part.strip() for part in name.split(".")]


def _known(fields, unknown: str, prefix: str) -> str:
    """The key meant, when one is close (a typo), else every key the section knows."""
    close = difflib.get_close_matches(unknown, fields, n=1)
    return f"did you mean '{prefix}{close[0]}'?" if close else f"known: {', '.join(fields)}"


def build(cls, values: dict, where: str, prefix: str = ""):
    """The dataclass ``cls`` from a dict of its fields (nested dataclasses from nested dicts),
    each value checked against the field's type; errors name ``where`` and the dotted key."""
    if not isinstance(values, dict):
        raise ConfigError(
            f"{where}: {prefix.rstrip('.') or 'config'} must be a table, got {values!r}"
        )
    legacy = getattr(cls, "legacy", None)  # a section reading the keys of its older versions
    values = legacy(values) if legacy else values
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key '{prefix}{unknown[0]}' ({_known(fields, unknown[0], prefix)})"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            kwargs[name] = build(kind, value, where, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, kind, f"{where}: {prefix}{name}")
    return cls(**kwargs)


def _coerce(value, kind, where: str):
    """Checks ``value`` against the field's type; ints are accepted where floats are expected."""
    if typing.get_origin(kind) is dict:  # a table whose keys the user names (a class: "6 voices")
        key_kind, item_kind = typing.get_args(kind)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__} {value!r}")
        return {
            _coerce(key, key_kind, where): _coerce(item, item_kind, f"{where}.{toml_key(key)}")
            for key, item in value.items()
        }
    if typing.get_origin(kind) is tuple:
        item_kind = typing.get_args(kind)[0]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_coerce(item, item_kind, where) for item in value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not kind:
        raise ConfigError(
            f"{where}: expected {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    if kind is float and not math.isfinite(value):  # TOML allows nan and inf; no setting means them
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return value
