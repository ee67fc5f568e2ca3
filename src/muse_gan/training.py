"""Setting up a training run: data, adapter, objective and Trainer, fresh or resumed."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .adapters import build_adapter
from .config import Config
from .data import load_pieces, samplers, split
from .errors import MuseError
from .objectives import build_objective
from .trainer import LATEST, Trainer


def train(config: Config, run_dir: Path, *, resume: bool = False, init: str | None = None,
          quiet: bool = False) -> Trainer:
    """Trains ``config`` into ``run_dir``; with ``resume`` continues the run saved there (pass
    its ``saved_config``, changed at most in train.steps); with ``init`` (a bundled name, run
    folder or checkpoint) starts from that model's weights."""
    run_dir = Path(run_dir)
    saved = _latest(run_dir) if resume else None
    if saved:
        _check_resumable(Config.from_dict(saved[1]["config"], str(run_dir / LATEST)), config, run_dir)
    adapter = build_adapter(config)
    _check_before_reading_data(config, adapter)
    pieces = load_pieces(adapter, config.data.source, config.data.limit, quiet)
    adapter = adapter.fitted(pieces)  # class names, a vocabulary: what only the data can say
    pieces = split(pieces, config.data.valid_fraction, config.data.test_fraction)
    train_windows, valid_windows = samplers(adapter, pieces, config)
    if not quiet:
        windows = "" if adapter.spec.length else f" ({len(train_windows)} windows)"
        classes = f" in {len(adapter.classes)} classes" if adapter.classes else ""
        print(f"{len(pieces['train'])} {adapter.item_name}s{windows}{classes} for training, "
              f"{len(pieces['valid'])} for validation, {len(pieces['test'])} held out", file=sys.stderr)
    torch.manual_seed(config.train.seed)  # the same seed initialises the same weights
    objective = build_objective(adapter.spec, config)
    if init:
        _initialise(objective, init, adapter, config)
    trainer = Trainer(config, run_dir, adapter, objective, train_windows, valid_windows, quiet=quiet)
    if saved:
        trainer.restore(*saved)
    trainer.fit()
    return trainer


def _check_before_reading_data(config: Config, adapter) -> None:
    """Settings mistakes surface at once, not after minutes of preparing data: the objective
    is built once from the adapter's settings alone (its sizes don't depend on the data)."""
    from .trainer import check_settings, pick_device

    check_settings(config.train)
    pick_device(config.train.device)
    build_objective(adapter.spec, config)


def saved_config(run_dir: Path) -> Config:
    """The config of the run saved in ``run_dir``, to resume it."""
    path = Path(run_dir) / LATEST
    if not path.exists():
        raise MuseError(f"--resume {run_dir}: no checkpoint at {path}")
    return ckpt.read_config(path)


RESUMABLE_CHANGES = ("steps", "device")


def _check_resumable(saved: Config, config: Config, run_dir: Path) -> None:
    """A resumed run is the same run: only how far it goes and where it runs may change."""
    before, after = saved.to_dict(), config.to_dict()
    for section in before:
        for key, value in before[section].items():
            if after[section][key] != value and not (section == "train" and key in RESUMABLE_CHANGES):
                raise MuseError(f"--resume {run_dir}: {section}.{key} differs from the saved run's "
                                f"({value!r}); only train.steps and train.device can change")


def _latest(run_dir: Path):
    path = run_dir / LATEST
    if not path.exists():
        raise MuseError(f"--resume {run_dir}: no checkpoint at {path}")
    return ckpt.load_checkpoint(path)


def _initialise(objective, init: str, adapter, config: Config) -> None:
    from .api import resolve_model

    path = resolve_model(init)
    tensors, info = ckpt.load_checkpoint(path)
    theirs = Config.from_dict(info["config"], str(path))  # keys added since then take defaults
    modality = adapter.modality
    if getattr(theirs, modality) != getattr(config, modality) or theirs.model != config.model:
        raise MuseError(f"--init {init}: its [{modality}] or [model] settings differ from this run's "
                        f"(leave them out, so the run takes them from the model)")
    objective.load_state_dict(ckpt.unprefixed("model.", tensors))

