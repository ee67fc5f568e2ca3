"""The composition root: where a modality, a model family and the training core meet.

Everything that turns a config (or a checkpoint's header) into working objects is here: the
config with every modality's and family's section registered (``load_config``), the adapter
(``build_adapter``), the objective with the terms its modality plugs in (``build_objective``),
and a loaded model (``load``), checkpoints of older formats included (``upgrade``). The layers
below never import this; ``training``, ``api`` and ``cli`` build on it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from . import modalities, objectives  # noqa: F401  (registers every modality, family and config section)
from .core import checkpoint as ckpt
from .core.adapter import PlugsTerms
from .core.config import Config, check_sections
from .core.config import load_config as _load_config
from .core.objective import NO_TERMS
from .core.trainer import MAX_STEPS, check_settings
from .errors import ConfigError, MuseError
from .modalities import ADAPTERS, build_adapter
from .model import MuseModel
from .objectives import OBJECTIVES
from .objectives import build_objective as _build_objective
from .pretrained import DEFAULT, DESCRIPTIONS, FOLDER, bundled_path

__all__ = [
    "Config",
    "build_adapter",
    "build_objective",
    "load",
    "load_config",
    "read_config",
    "resolve_model",
]


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """The defaults, updated by the TOML file at ``path`` and then by ``overrides`` (every
    modality's and family's section known)."""
    return _load_config(path, overrides)


def build_objective(adapter, config: Config):
    """The objective of ``config.model.family`` for ``adapter``'s data, with the terms the
    modality plugs into that family (see ``core.objective.DomainTerms``)."""
    terms = (
        adapter.family_terms(config.model.family) if isinstance(adapter, PlugsTerms) else NO_TERMS
    )
    return _build_objective(adapter.spec, config, terms)


# models from files


def resolve_model(model: str | Path | None) -> Path:
    """A bundled model's name, a run folder or a checkpoint file → the checkpoint's path."""
    model = DEFAULT if model is None else model
    bundled = bundled_path(str(model))
    if bundled is not None:
        return bundled
    path = Path(model).expanduser()
    if path.is_dir():
        for candidate in (path / "model.safetensors", path / "checkpoints" / "latest.safetensors"):
            if candidate.exists():
                return candidate
        raise MuseError(f"--model {model}: the folder has no model.safetensors (not a run folder?)")
    if path.is_file():
        return path
    raise MuseError(
        f"--model {model}: not a bundled model (known: {', '.join(DESCRIPTIONS)}), run folder or checkpoint"
    )


def load(model: str | Path | None = None) -> MuseModel:
    """A model ready to compose: a bundled name (default: the Bach chorale model), a run folder
    or a checkpoint file. Everything is rebuilt from the file alone; no code in it runs."""
    path = resolve_model(model)
    return model_from(path, *upgrade(path, *ckpt.load_checkpoint(path)))


def model_from(path: Path, tensors: dict, header: dict) -> MuseModel:
    """The model of a checkpoint already read (and upgraded) from ``path``."""
    config, adapter = model_settings(path, header)
    # a training checkpoint holds the live weights and, with train.ema, their moving average: the
    # average is what the run's model.safetensors samples with, so a checkpoint composes the same way
    weights = ckpt.unprefixed("ema.", tensors) or ckpt.unprefixed("model.", tensors)
    objective = _objective_with_weights(path, config, adapter, weights)
    return MuseModel(objective.eval(), adapter, config, path)


def read_config(path: Path) -> Config:
    """The ``Config`` a checkpoint was made with, from its header alone (no tensors are read)."""
    header = ckpt.read_header(path)
    if not isinstance(header.get("config"), dict):
        raise MuseError(f"{path}: not a muse_gan checkpoint (its header has no config)")
    return _config_of(path, header)


def model_settings(path: Path, header: dict):
    """The ``Config`` and adapter a model checkpoint's header describes. A header that lacks
    them, or holds wrong types or unknown names (a doctored or foreign file), is a
    ``MuseError`` naming the file."""
    for key, kind in (("config", dict), ("modality", str), ("adapter", dict)):
        if not isinstance(header.get(key), kind):
            raise MuseError(f"{path}: not a muse_gan model (its header has no {key})")
    _check_counts(path, header)
    config = _config_of(path, header)
    try:
        adapter_class = ADAPTERS.get(header["modality"])
        return config, adapter_class.from_dict(header["adapter"], str(path))
    except ConfigError as error:
        raise MuseError(_naming(path, error)) from None


def check_config(config: Config) -> None:
    """Every section's range checks, which configs from files and ``--set`` and the configs in
    checkpoints' headers all get: ``[train]``'s, those of ``[data]``, ``[model]`` and the
    families (``core.config.check_sections``), and each modality's, which its adapter runs as
    it is made. A ``ConfigError`` naming the key."""
    check_sections(config)
    check_settings(config.train)
    for name, adapter_class in ADAPTERS.items():
        adapter_class(config.section(name))
    modality = config.data.modality
    known = modality in ADAPTERS  # an unknown modality is refused where the data is read
    if config.model.bar_numbers and known and not ADAPTERS.get(modality).has_bars:
        raise ConfigError(f"model.bar_numbers: {modality} data has no bars to number (MIDI has)")


def _config_of(path: Path, header: dict) -> Config:
    try:
        config = Config.from_dict(header["config"], str(path))
        check_config(config)
    except ConfigError as error:
        raise MuseError(_naming(path, error)) from None
    return config


def _check_counts(path: Path, header: dict) -> None:
    """The header's own numbers: the step reached and steps skipped (whole numbers in range),
    the validation losses (finite, or None before the first validation)."""
    for key in ("step", "skipped"):
        value = header.get(key, 0)
        if type(value) is not int or not 0 <= value <= MAX_STEPS:
            raise MuseError(
                f"{path}: its header's {key} ({value!r}) must be a whole number from 0 to {MAX_STEPS}"
            )
    for key in ("valid_loss", "best_valid"):
        value = header.get(key)
        if value is not None and (type(value) not in (int, float) or not math.isfinite(value)):
            raise MuseError(f"{path}: its header's {key} ({value!r}) must be a finite number")


def _naming(path: Path, error: Exception) -> str:
    message = str(error)
    return message if message.startswith(str(path)) else f"{path}: {message}"


def upgrade(
    path: Path, tensors: dict[str, torch.Tensor], header: dict
) -> tuple[dict[str, torch.Tensor], dict]:
    """A checkpoint of an older format as the current format would hold it.

    Format 1 (before modalities owned their settings): the modality's settings in the header's
    adapter lacked the keys that then lived in other sections (``data.window_bars``,
    ``gan.harmony_weight``, ...; the config reads them under their old names) and some weights
    had other names (``renamed_weights`` of the family).
    """
    if header.get("format") != 1 or not isinstance(header.get("config"), dict):
        return tensors, header
    header = dict(header)
    config = _config_of(path, header)
    modality = header.get("modality")
    if isinstance(header.get("adapter"), dict) and modality in ADAPTERS:
        section = config.section(ADAPTERS.get(modality).modality)
        header["adapter"] = {**dataclasses.asdict(section), **header["adapter"]}
    header["config"], header["format"] = config.to_dict(), ckpt.FORMAT
    family = header.get("family")
    renamed = getattr(OBJECTIVES.get(family), "renamed_weights", {}) if family in OBJECTIVES else {}
    return {_renamed(name, renamed): tensor for name, tensor in tensors.items()}, header


def _renamed(name: str, renamed: dict[str, str]) -> str:
    """``name`` (perhaps behind a ``model.``/``ema.``/``optimizer``-style prefix) under its new name."""
    for old, new in renamed.items():
        prefix, found, rest = name.partition(old)
        if found and (not rest or rest.startswith(".")) and (not prefix or prefix.endswith(".")):
            return prefix + new + rest
    return name


def _objective_with_weights(path: Path, config: Config, adapter, weights: dict[str, torch.Tensor]):
    """The objective ``config`` describes, holding ``weights``. A file from elsewhere is first
    built on the meta device (no memory) and its shapes compared with the file's, so a doctored
    header that describes a huge or odd model fails with one line instead of allocating it. The
    package's own models skip that: they are as trusted as its code, and the meta device's first
    use imports torch._dynamo (a second at start-up, where `muse compose` should be quick)."""
    if path.parent != FOLDER:
        _check_shapes(path, config, adapter, weights)
    objective = build_objective(adapter, config)
    objective.load_state_dict(weights)
    return objective


def _check_shapes(path: Path, config: Config, adapter, weights: dict[str, torch.Tensor]) -> None:
    try:
        shapes = {
            name: value.shape
            for name, value in meta_objective(adapter, config, "its config").state_dict().items()
        }
    except MuseError as error:
        raise MuseError(_naming(path, error)) from None
    misfit = ckpt.misfit(shapes, weights, "the described model's")
    if misfit:
        raise MuseError(f"{path}: its weights do not fit the model its config describes ({misfit})")


def meta_objective(adapter, config: Config, described_by: str = "the settings"):
    """The objective ``config`` describes, built on the meta device: every shape and no
    storage, so a model of any size is measured (or refused) without allocating it. A failure
    to build is a ``MuseError``: the config's own one-line reason, else one saying which
    ``described_by`` (e.g. "its config") describes no buildable model."""
    try:
        with torch.device("meta"):
            return build_objective(adapter, config)
    except MuseError:
        raise
    except Exception as error:
        raise MuseError(
            f"{described_by} describes no model that can be built ({type(error).__name__})"
        ) from None
