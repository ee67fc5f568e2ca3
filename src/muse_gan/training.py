"""Setting up a training run: data, adapter, objective and Trainer, fresh, resumed or fine-tuned.

Part of the composition root (with ``assembly``): the Trainer gets its batches from the
adapter's samplers and, for ``train.select_by = "overlap"``, the evaluation's ``SampleOverlap``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import torch

from .assembly import (
    build_adapter,
    build_objective,
    check_config,
    load,
    load_config,
    meta_objective,
    model_settings,
    read_config,
    upgrade,
)
from .core import checkpoint as ckpt
from .core import distributed
from .core.config import Config
from .core.memory import available_bytes, in_words, training_bytes
from .core.store import data_parts, load_pieces, say
from .core.trainer import LATEST, Trainer, computing_threads, pick_device, pick_threads, usable_cpus
from .errors import ConfigError, MuseError
from .files import LOCK_NAME, locked

# Where `muse train --modality M --model F` starts without a config: the sizes, losses and
# optimizer settings of the pair's tuned config in configs/ (not what it reads or how: the
# data, tracks, labels and vocabulary stay the defaults'). Those measured on the project's
# quiet 2-CPU machine train at 2.3-12.4 steps/s; the defaults, sized for the bundled chorale
# RNN (which keeps them), took 20 s a step for a text VAE and 125 s for a text GAN there
# (docs/benchmarks.md).
GAN_OPTIMIZER = ("train.lr=0.0002", "train.grad_clip=0.0", 'train.lr_schedule="constant"')
STARTING_SETTINGS: dict[tuple[str, str], tuple[str, ...]] = {
    ("midi", "gan"): (  # bach-gan.toml
        "model.channels=16",
        'gan.loss="hinge"',
        "gan.critic_steps=2",
        "train.batch_size=16",
        "train.betas=[0.5, 0.9]",
        "train.ema=0.99",
        *GAN_OPTIMIZER,
    ),
    ("midi", "vae"): (  # bach-vae.toml
        "midi.window_bars=2",
        "model.layers=1",
        "model.dropout=0.1",
        "vae.beta=0.5",
        "vae.free_bits=0.25",
    ),
    ("image", "rnn"): ("image.size=16", "model.dropout=0.3", "train.batch_size=64"),  # digits-rnn
    ("image", "gan"): (  # digits-gan.toml
        "image.size=16",
        "model.channels=32",
        'gan.loss="hinge"',
        "gan.critic_steps=1",
        "train.batch_size=64",
        "train.betas=[0.5, 0.999]",
        *GAN_OPTIMIZER,
    ),
    ("image", "vae"): (  # digits-vae.toml
        "image.size=16",
        "model.latent=16",
        "model.channels=32",
        'vae.architecture="conv"',
        "train.batch_size=64",
        "train.lr=0.001",
    ),
    ("audio", "rnn"): ("model.hidden=192", "model.dropout=0.1", "train.batch_size=16"),  # notes-rnn
    ("audio", "gan"): (  # notes-gan.toml
        "model.channels=16",
        'gan.loss="hinge"',
        "gan.critic_steps=1",
        "train.batch_size=16",
        "train.betas=[0.5, 0.999]",
        "train.ema=0.999",
        *GAN_OPTIMIZER,
    ),
    ("audio", "vae"): (  # notes-vae.toml
        "model.latent=32",
        "model.channels=16",
        'vae.architecture="conv"',
        "vae.beta=4.0",
        "train.batch_size=16",
        "train.lr=0.001",
    ),
    ("text", "rnn"): ("text.window=128", "model.dropout=0.1"),  # folk-rnn.toml
    ("text", "gan"): (  # folk-gan.toml
        "text.window=64",
        "text.max_vocabulary=96",
        "model.channels=8",
        'gan.loss="hinge"',
        "gan.critic_steps=2",
    ),
    ("text", "vae"): (  # folk-vae.toml
        "text.window=128",
        "model.layers=1",
        "model.dropout=0.1",
        "model.latent=32",
        "vae.free_bits=0.25",
    ),
}


def starting_config(overrides: list[str]) -> Config:
    """The config `muse train` starts from without ``--config``: the defaults, the starting
    settings (``STARTING_SETTINGS``) of the modality and family ``overrides`` name, then
    ``overrides``."""
    named = load_config(None, overrides)
    starting = STARTING_SETTINGS.get((named.data.modality, named.model.family), ())
    return load_config(None, [*starting, *overrides])


def train(
    config: Config,
    run_dir: Path,
    *,
    resume: bool = False,
    init: str | None = None,
    quiet: bool = False,
    say_folder: bool | None = None,
) -> Trainer:
    """Trains ``config`` into ``run_dir``; with ``resume`` continues the run saved there (pass
    its ``saved_config``, changed at most in train.steps); with ``init`` (a bundled name, run
    folder or checkpoint) starts from that model's weights. ``quiet``: no progress bar or
    report lines; ``say_folder``: "run folder: ..." once the settings passed their checks (by
    default, unless quiet; `muse train -q` says it still)."""
    run_dir = Path(run_dir)
    say_folder = not quiet if say_folder is None else say_folder
    saved = _latest(run_dir) if resume else None
    if config.model.calibration != 1.0:
        raise MuseError(
            f"model.calibration: {config.model.calibration!r}: a run trains at 1; `muse calibrate` "
            "fits it afterwards"
        )
    known = None  # the resumed model's adapter, whose classes its networks are sized by
    if saved:
        previous, known = model_settings(run_dir / LATEST, saved[1])
        config = with_data_settings(config, previous)
        _check_resumable(previous, config, run_dir)
    adapter = build_adapter(config)
    # checked as every loaded model is, before the run's own settings are weighed
    theirs = _init_model(init, adapter, config) if init else None
    _check_before_reading_data(config, adapter)
    # one process of torchrun's, or alone
    group = distributed.join(pick_device(config.train.device).type)
    quiet = quiet or not group.main
    threads = pick_threads(config.train.threads, distributed.launched_local_world())
    if say_folder and group.main:  # after the checks: no folder is named in vain
        say(f"run folder: {run_dir}")
    if not quiet:
        _say_threads(threads, pick_device(config.train.device))
    with (
        locked(run_dir, say) if group.main else nullcontext(),  # one run writes into a folder
        computing_threads(threads),
    ):
        try:
            trainer = _train(config, run_dir, adapter, saved, (init, theirs, known), quiet, group)
        except (OSError, MuseError):  # a file that is gone, or a write that failed for it
            # the lock file goes with the folder (saving on the way out may make it again)
            if not group.main or (run_dir / LOCK_NAME).exists():
                raise
            raise MuseError(
                f"--out {run_dir}: the run folder was removed while the run wrote into it; "
                "it stopped"
            ) from None
    distributed.leave(group)  # after a failure, torchrun stops the other processes instead
    return trainer


def _say_threads(threads: int, device: torch.device) -> None:
    """The CPU threads a run computes on, and a hint when other work already keeps the CPUs
    busy: threads waiting on each other for a CPU slowed such runs many times over."""
    if device.type != "cpu":
        return
    cpus = usable_cpus()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    busy = (
        f"; the machine is busy (load average {load:.1f} on {cpus} CPUs): --threads 1 may train "
        "faster"
        if threads > 1 and load >= cpus
        else ""
    )
    plural = "s" if threads > 1 else ""
    say(f"training on {threads} CPU thread{plural} (--threads, train.threads){busy}")


def _train(
    config: Config, run_dir: Path, adapter, saved, init: tuple, quiet: bool, group
) -> Trainer:
    trainer = build_trainer(config, run_dir, adapter, quiet, group, *init)
    if saved:
        _restore(trainer, run_dir / LATEST, *saved)
    trainer.fit()
    return trainer


def build_trainer(
    config: Config,
    run_dir: Path,
    adapter=None,
    quiet: bool = True,
    group: distributed.Group = distributed.SINGLE,
    init: str | None = None,
    theirs=None,
    known=None,
) -> Trainer:
    """A Trainer for ``config``, its data prepared and its model initialised from the seed (or
    from the model ``init``, loaded already when ``theirs`` is given), ready to ``fit`` (or to
    time ``train_step``s, as benchmarks do). ``known``: the adapter of a model being resumed,
    whose classes stay the model's whatever its data holds now."""
    adapter = adapter or build_adapter(config)
    theirs = theirs or (_init_model(init, adapter, config) if init else None)
    with distributed.main_first(group):  # the others then read what it cached
        pieces = load_pieces(
            adapter, config.data.source, config.data.limit, quiet, config.data.workers
        )
    adapter = _fitted(adapter, pieces, theirs.adapter if theirs else known, init)
    # what the data filled in (a MIDI model's tracks, say) is the run's config from now on
    config = config.with_section(adapter.modality, adapter.settings)
    pieces = data_parts(adapter, config.data, pieces, quiet)
    train_windows, valid_windows = samplers(
        adapter, pieces, config.train.seed, config.train.class_balance
    )
    if not quiet and adapter.fit_summary:
        print(f"from the data: {adapter.fit_summary}", file=sys.stderr)
    if not quiet:
        windows = "" if adapter.spec.length else f" ({len(train_windows)} windows)"
        classes = f" in {len(adapter.classes)} classes" if adapter.classes else ""
        print(
            f"{len(pieces['train'])} {adapter.item_name}s{windows}{classes} for training, "
            f"{len(pieces['valid'])} for validation, {len(pieces['test'])} held out",
            file=sys.stderr,
        )
    # the data may have sized the model further (classes, a vocabulary)
    check_memory(config, adapter, pick_device(distributed.device_for(config.train.device, group)))
    torch.manual_seed(config.train.seed)  # the same seed initialises the same weights
    objective = build_objective(adapter, config)
    if theirs:
        _initialise(objective, theirs, init)
    # only rank 0 validates
    selection = _selection(config, adapter, pieces["valid"], run_dir) if group.main else None
    return Trainer(
        config,
        run_dir,
        adapter,
        objective,
        train_windows,
        valid_windows,
        quiet=quiet,
        group=group,
        selection=selection,
        measures=_piece_nll(config, adapter, pieces["valid"]) if group.main else None,
    )


PIECE_NLL = "piece_nll"


def _measured_names(config: Config, adapter) -> tuple[str, ...]:
    """The scalars ``_piece_nll`` measures for this run (``train.select_by`` may name one)."""
    return (PIECE_NLL,) if adapter.modality == "midi" and config.model.family == "rnn" else ()


def _piece_nll(config: Config, adapter, valid_pieces: list):
    """For a MIDI RNN, what its log shows besides the loss of validation windows (padded with
    silence past a piece's end): ``piece_nll``, the NLL of the whole validation pieces as
    `muse eval` measures it (``evaluation.frame_nll``). None for other models, and when no
    validation piece is one the model reads; a run chosen by it then refuses (it would
    otherwise be chosen by the loss without a word)."""
    if not _measured_names(config, adapter):
        return None
    view, why = adapter.viewed(valid_pieces) if valid_pieces else ([], "")
    if not view and config.train.select_by == PIECE_NLL:
        missing = (
            f"the model reads none of this run's {len(valid_pieces)}: "
            f"{why or 'too short'} (data.valid_source, "
            "data.valid_fraction)"
            if valid_pieces
            else "this run has none (data.valid_fraction, data.valid_source)"
        )
        raise MuseError(
            f'train.select_by = "{PIECE_NLL}" is measured on whole validation pieces, and {missing}'
        )
    if not view:
        return None
    from .evaluation import frame_nll

    return lambda model: {PIECE_NLL: frame_nll(model, view, adapter)[0]}


def samplers(adapter, pieces: dict[str, list], seed: int, class_balance: float = 0.0) -> tuple:
    """The training batches (random, varied, their classes drawn as ``train.class_balance``
    says) and validation batches (in order, every window once; None without validation pieces),
    of the pieces as the model sees them (``adapter.model_view``). A model that sees no training
    window of them is one clear line saying why."""
    view, why = adapter.viewed(pieces["train"])
    train = adapter.sampler(view, seed, training=True)
    if not len(train):
        raise MuseError(
            f"none of the {len(pieces['train'])} training pieces fits this model "
            f"({why or 'they are too short for one training window'})"
        )
    if class_balance:
        if train.labels is None:  # the data decided: one meter, say
            _no_classes(class_balance, "the data gives this model no classes")
        train.balance(class_balance)
    valid = (
        adapter.sampler(adapter.model_view(pieces["valid"]), 0, training=False)
        if pieces["valid"]
        else None
    )
    return train, valid if valid is None or len(valid) else None


def _selection(config: Config, adapter, valid_pieces: list, run_dir: Path):
    """What ranks the run's weights for ``train.select_by = "overlap"``; None for the others."""
    if config.train.select_by != "overlap":
        return None
    if not valid_pieces:
        raise MuseError(
            'train.select_by = "overlap" compares samples with the validation pieces, and this '
            "run has none (data.valid_fraction)"
        )
    from .evaluation.overlap import SampleOverlap

    return SampleOverlap(adapter, config, valid_pieces, run_dir)


def _check_before_reading_data(config: Config, adapter) -> None:
    """Settings mistakes surface at once, not after minutes of preparing data: every section's
    range checks, then the objective built from the adapter's settings alone on the meta device
    and its memory weighed against the device's."""
    check_config(config)
    select_by = config.train.select_by
    choices = ("auto", "overlap", *_measured_names(config, adapter))
    if select_by not in choices:
        raise ConfigError(
            f"train.select_by: {select_by!r}: this run chooses its weights by "
            + " or ".join(repr(choice) for choice in choices)
        )
    if select_by != "auto" and config.data.valid_fraction == 0 and not config.data.valid_source:
        raise MuseError(
            f'train.select_by = "{select_by}" is measured on the validation pieces, and '
            "data.valid_fraction = 0 leaves none"
        )
    balance, why = config.train.class_balance, adapter.without_classes()
    if balance and why:
        _no_classes(balance, why)
    distributed.check_batch(config.train.batch_size, distributed.launched_world())
    check_memory(config, adapter, pick_device(config.train.device))


def _no_classes(balance: float, why: str):
    raise ConfigError(f"train.class_balance: {balance!r}: {why}: nothing to balance (leave it 0)")


def check_memory(config: Config, adapter, device: torch.device) -> None:
    """Refuses, before anything is allocated, a run whose model, optimizer state, batch and
    samples alone need more memory than ``device`` has free (``core.memory``), in one line
    naming the setting that weighs most, the estimate and the memory available."""
    needed = _estimate(config, adapter)
    available = available_bytes(device)
    if available is None or needed.total <= available:
        return
    raise MuseError(
        f"{_heaviest_setting(config, adapter, needed.total)}: training needs at least "
        f"{in_words(needed.total)} (model, gradients and optimizer state {in_words(needed.model)}; "
        f"a batch and the samples {in_words(needed.data)}), and {in_words(available)} of "
        f"memory is available ({device})"
    )


def _estimate(config: Config, adapter):
    return training_bytes(meta_objective(adapter, config), adapter, config.train)


def _heaviest_setting(config: Config, adapter, total: int) -> str:
    """``section.key = value`` of the setting whose default would take the most off the
    estimate ``total``, among [model], [train] and the modality's section."""
    heaviest, saving = "the model and batch sizes", 0
    for section in ("model", "train", adapter.modality):
        values = config.section(section)
        defaults = type(values)()
        for key in (field.name for field in dataclasses.fields(values)):
            value, default = getattr(values, key), getattr(defaults, key)
            if type(value) not in (int, float) or value == default:
                continue
            try:
                smaller = config.replace(section, **{key: default})
                if section == adapter.modality:
                    lighter = type(adapter).from_dict(adapter.to_dict() | {key: default})
                else:
                    lighter = adapter
                estimate = _estimate(smaller, lighter).total
            except MuseError:  # the default does not fit with the other settings
                continue
            if total - estimate > saving:
                heaviest, saving = f"{section}.{key} = {value!r}", total - estimate
    return heaviest


def saved_config(run_dir: Path) -> Config:
    """The config of the run saved in ``run_dir``, to resume it."""
    path = Path(run_dir) / LATEST
    if not path.exists():
        raise MuseError(f"--resume {run_dir}: no checkpoint at {path}")
    return read_config(path)


# how far a run goes and where and how fast it runs; not what it computes
RESUMABLE_CHANGES = (
    "train.steps",
    "train.device",
    "train.compile",
    "train.threads",
    "data.workers",
)


def with_data_settings(config: Config, model: Config) -> Config:
    """``config`` with the settings it leaves to the data (a MIDI model's tracks, dynamics,
    meters: its modality section's ``FROM_DATA`` keys still at their defaults) taken from
    ``model``'s config, which the data filled in: resuming or fine-tuning that model, the run
    reads its data as the model did."""
    modality = config.data.modality
    section, theirs = config.section(modality), model.section(modality)
    defaults = type(section)()
    left = {
        key: getattr(theirs, key)
        for key in getattr(type(section), "FROM_DATA", ())
        if getattr(section, key) == getattr(defaults, key)
    }
    return config.replace(modality, **left) if left else config


def _check_resumable(saved: Config, config: Config, run_dir: Path) -> None:
    """A resumed run is the same run: only ``RESUMABLE_CHANGES`` may differ."""
    before, after = saved.to_dict(), config.to_dict()
    for section in before:
        for key, value in before[section].items():
            if after[section][key] != value and f"{section}.{key}" not in RESUMABLE_CHANGES:
                raise MuseError(
                    f"--resume {run_dir}: {section}.{key} differs from the saved run's "
                    f"({value!r}); only {', '.join(RESUMABLE_CHANGES)} can change"
                )


def _restore(trainer: Trainer, path: Path, tensors: dict, info: dict) -> None:
    """The trainer as the checkpoint left it; a file that lacks some of that state (a model
    file copied in, a doctored header) is one line naming it."""
    try:
        trainer.restore(tensors, info)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise MuseError(
            f"{path}: cannot resume from it ({type(error).__name__}: {str(error)[:100]})"
        ) from None


def _latest(run_dir: Path):
    path = run_dir / LATEST
    if not path.exists():
        raise MuseError(f"--resume {run_dir}: no checkpoint at {path}")
    return upgrade(path, *ckpt.load_checkpoint(path))


def _init_model(init: str, adapter, config: Config):
    """The model ``init`` to fine-tune, checked before any data is read: the same modality and
    [modality] and [model] settings as this run."""
    theirs = load(init)  # checked like any model file: format, modality, weights that fit
    modality = adapter.modality
    if theirs.adapter.modality != modality:
        raise MuseError(f"--init {init}: a model of {theirs.adapter.modality} data, not {modality}")
    config = with_data_settings(config, theirs.config)
    ours = config.section(modality)
    tunable = getattr(type(ours), "FINE_TUNABLE", ())
    kept = dataclasses.replace(
        ours, **{key: getattr(theirs.config.section(modality), key) for key in tunable}
    )
    # a calibration tempers the trained weights' outputs: the fine-tune trains at 1
    their_model = dataclasses.replace(theirs.config.model, calibration=config.model.calibration)
    if theirs.config.section(modality) != kept or their_model != config.model:
        free = f" ({', '.join(tunable)} may differ)" if tunable else ""
        raise MuseError(
            f"--init {init}: its [{modality}] or [model] settings differ from this run's{free} "
            f"(leave them out, so the run takes them from the model)"
        )
    if tunable:  # the run's own values of those, in the model's adapter it trains on
        theirs.adapter.settings = dataclasses.replace(
            theirs.adapter.settings, **{key: getattr(ours, key) for key in tunable}
        )
        theirs.adapter.check_fitted()  # against the model's classes, before any data is read
    return theirs


def _fitted(adapter, pieces, model_adapter, init: str | None):
    """The adapter with what only data can say (class names, a text vocabulary): from
    ``pieces``, or when fine-tuning or resuming a model (``model_adapter``) the model's own,
    since its networks are sized by it. Text outside a model's vocabulary then reads as the
    unknown token; classes it does not know have no place in its networks: a view that leaves
    them out says so (``viewed``), and data with no other way to drop them is refused."""
    if model_adapter is None:
        return adapter.fitted(pieces)
    model_adapter.check_fitted()  # a resumed run's settings (a fine-tune's were checked before)
    view, left_out = model_adapter.viewed(pieces)
    model_adapter.fit_summary = left_out and f"left out: {left_out}"
    known = model_adapter.classes
    labels = {piece.label for piece in view}  # as the model sees them
    strangers = sorted(labels - set(known)) if known else []
    if strangers:
        raise MuseError(
            f"{f'--init {init}' if init else '--resume'}: the data's classes "
            f"{', '.join(strangers[:5])} are not among the "
            f"model's ({', '.join(known[:12])}{', ...' if len(known) > 12 else ''})"
        )
    return model_adapter


def _initialise(objective, theirs, init: str) -> None:
    weights = theirs.objective.state_dict()
    shapes = {name: value.shape for name, value in objective.state_dict().items()}
    misfit = ckpt.misfit(shapes, weights, "this run's")
    if misfit:  # a setting outside [model] that shapes the networks, such as gan.condition_track
        raise MuseError(f"--init {init}: its weights do not fit this run's networks ({misfit})")
    objective.load_state_dict(weights)
