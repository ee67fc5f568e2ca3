"""The one training loop, for every objective and every adapter.

The Trainer owns device placement, autocast, backward, gradient clipping, optimizer and
learning-rate stepping, the weights' moving average, validation, checkpoints, samples,
scalars and the progress bar. Objectives only say which losses to step (``phases``).

A run folder holds::

    config.toml              the resolved config (reusable with --config)
    checkpoints/latest.safetensors   everything needed to --resume
    model.safetensors        the weights with the best validation loss (train.select_by), for sampling
    scalars.csv, tensorboard/, loss_curve.png
    samples/step_000500.mid, .png   (images: a grid, .png; audio: .wav, .png)
"""

from __future__ import annotations

import copy
import math
import os
import signal
import sys
import threading
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

from ..errors import ConfigError, DataError, Interrupted, MuseError
from ..files import remove_temporaries, write_atomically
from ..options import MAX_BARS
from . import checkpoint as ckpt
from . import distributed
from .config import Config, to_toml
from .scalars import ScalarLog, write_loss_curve_png
from .store import say

LATEST = Path("checkpoints") / "latest.safetensors"
MODEL = "model.safetensors"


def pick_threads(setting: int = 0, processes: int = 1) -> int:
    """The CPU threads torch computes with: ``train.threads`` when set (not 0); else
    ``$OMP_NUM_THREADS`` when set, as torch itself reads it; else the CPUs this process may
    use, shared out among the ``processes`` training on this machine. More threads than CPUs
    free does not just share them: each step waits on the slowest thread, so a busy machine
    slowed training many times over (docs/benchmarks.md)."""
    if setting:
        return setting
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, usable_cpus() // processes)


def usable_cpus() -> int:
    """The CPUs this process may run on (as taskset or a container limits them)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def computing_threads(count: int):
    """torch computing on ``count`` CPU threads for the block's duration, then as before."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"train.device: '{name}' is not a device (cpu, cuda, cuda:1, mps, ...)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: '{name}' asked for, but this machine has no CUDA device")
    return device


# [train]'s upper bounds: past them a number is a typo, not a plan (a batch's memory is
# weighed against the machine's by the composition root, core.memory)
MAX_STEPS = 10**9
UPPER_BOUNDS = {
    "steps": MAX_STEPS,
    "batch_size": 1_000_000,
    "log_every": MAX_STEPS,
    "eval_every": MAX_STEPS,
    "checkpoint_every": MAX_STEPS,
    "sample_every": MAX_STEPS,
    "sample_bars": MAX_BARS,
    "skip_limit": MAX_STEPS,
    "seed": 2**63 - 1,
    "threads": 1024,
    "weight_decay": 100.0,
    "grad_clip": 1e9,
}


def check_settings(settings) -> None:
    """Train settings that the dataclass types alone don't rule out."""

    def fail(key, reason):
        raise ConfigError(f"train.{key}: {getattr(settings, key)!r} {reason}")

    for key in (
        "batch_size",
        "log_every",
        "eval_every",
        "checkpoint_every",
        "sample_bars",
        "skip_limit",
    ):
        if getattr(settings, key) < 1:
            fail(key, "must be at least 1")
    for key in ("steps", "sample_every", "seed", "threads", "weight_decay", "grad_clip"):
        if getattr(settings, key) < 0:
            fail(key, "must not be negative")
    for key, highest in UPPER_BOUNDS.items():
        if getattr(settings, key) > highest:
            fail(key, f"must be at most {highest}")
    if not settings.lr > 0:
        fail("lr", "must be above 0")
    if len(settings.betas) != 2 or not all(0 <= beta < 1 for beta in settings.betas):
        fail("betas", "must be two numbers from 0 to below 1")
    # Adam's first step is lr / (1 - beta1) in size; past a float32's range torch fails mid-step.
    if settings.lr / (1 - settings.betas[0]) > torch.finfo(torch.float32).max:
        fail("lr", "is too large: Adam's first step would overflow a float32")
    if settings.lr_schedule not in ("cosine", "constant"):
        fail("lr_schedule", 'must be "cosine" or "constant"')
    if settings.precision not in ("auto", "bf16", "fp32"):
        fail("precision", 'must be "auto", "bf16" or "fp32"')
    if not 0 <= settings.class_balance <= 1:
        fail("class_balance", "must be from 0 (as the data holds the classes) to 1 (evenly)")
    if not 0 <= settings.ema < 1:
        fail("ema", "must be from 0 (off) to below 1")
    if not settings.select_by:
        fail("select_by", 'must be "auto", "overlap" or a scalar the run measures')


class Trainer:
    """Trains ``objective`` on batches of ``train_windows`` into ``run_dir``.

    ``selection``, when given, scores the sampling model at every validation (from 0 to 1,
    higher is better; logged as ``valid/<selection.name>``) and decides which weights become the
    run's model file instead of the validation loss; the composition root passes one for
    ``train.select_by = "overlap"``. ``measures``, when given, maps the sampling model (on the
    CPU, in eval mode) to more scalars logged at every validation as ``valid/<name>`` (a MIDI
    RNN's NLL of whole validation pieces); ``train.select_by`` naming one of them (lower is
    better) chooses the model file by it. Only the main process (rank 0) calls either.
    """

    def __init__(
        self,
        config: Config,
        run_dir: Path,
        adapter,
        objective,
        train_windows,
        valid_windows=None,
        quiet: bool = False,
        group: distributed.Group = distributed.SINGLE,
        selection=None,
        measures=None,
    ):
        check_settings(config.train)
        self.selection = selection if group.main else None
        self.measures = measures if group.main else None
        distributed.check_batch(config.train.batch_size, group.world)
        self.config, self.settings, self.group = config, config.train, group
        self.run_dir = Path(run_dir)
        self.adapter, self.train_windows, self.valid_windows = adapter, train_windows, valid_windows
        self.device = pick_device(distributed.device_for(self.settings.device, group))
        self.objective = _placed(objective, self.device)
        distributed.broadcast_state(self.objective, group)
        # one kernel for the whole update instead of several per tensor
        fused = self.device.type == "cuda"
        self.optimizers = {
            name: torch.optim.AdamW(
                params,
                lr=self.settings.lr,
                betas=tuple(self.settings.betas),
                weight_decay=self.settings.weight_decay,
                fused=fused,
            )
            for name, params in objective.parameter_groups().items()
        }
        self.schedules = {
            name: torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor)
            for name, optimizer in self.optimizers.items()
        }
        self.ema = copy.deepcopy(objective).requires_grad_(False) if self.settings.ema else None
        self._averaged = (
            _averaged_tensors(self.objective, self.ema) if self.ema is not None else None
        )
        if self.settings.compile:
            _compile(self.objective)  # after the copy: the moving average samples uncompiled
        self.step, self.best_valid, self.quiet = 0, math.inf, quiet or not group.main
        self.progress = None  # the progress bar, while fit runs
        # steps skipped for a non-finite loss or gradient
        self.skipped, self.skipped_in_a_row = (
            0,
            0,
        )

    # the loop

    def fit(self) -> None:
        """Trains to ``train.steps``. In a parallel run every process steps; only the main one
        (rank 0) writes files, validates, samples and shows progress."""
        main = self.group.main
        distributed.seed_process(self.settings.seed, self.step, self.group)
        if main:
            self._remove_half_written_files()
            write_atomically(self.run_dir / "config.toml", to_toml(self.config).encode())
        with (
            ScalarLog(self.run_dir, from_step=self.step) if main else nullcontext() as scalars,
            _terminate_as_interrupt(),
        ):
            self.scalars = scalars
            self.progress, interrupted = self._progress_bar(), None
            try:
                while self.step < self.settings.steps:
                    windows = self.train_windows.batch(self.settings.batch_size)
                    metrics = self.train_step(*distributed.shard(self.group, *windows))
                    self.step += 1
                    self.progress.update(1)
                    self.progress.set_postfix(loss=f"{metrics['loss']:.3f}", refresh=False)
                    self._check_skipped()
                    self._periodic(metrics)
            except KeyboardInterrupt as stop:
                interrupted = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
            finally:
                self.progress.close()
                self.progress = None
                if main:
                    self.save()
                    self._write_loss_curve()
        if interrupted:
            raise Interrupted(
                f"interrupted at step {self.step}{self._model_so_far() if main else ''}; "
                f"continue with: muse train --resume {self.run_dir}",
                interrupted,
            )

    def _model_so_far(self) -> str:
        """Stopped before the first validation chose a model file: this step's weights become it
        (the next validation replaces them), or why there is none yet, in words."""
        if (self.run_dir / MODEL).exists():
            return ""
        if self.step and self.weights_trusted:
            self._save_model()
            return f", before the first validation: {MODEL} holds the weights of this step"
        return f", before any weights worth keeping: no {MODEL} yet"

    def train_step(
        self,
        batch: torch.Tensor,
        labels: torch.Tensor | None = None,
        spans: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """One step of every phase of the objective. A phase whose loss or gradients are not
        finite is not applied, and the step's later phases are skipped with it; the step is
        counted in ``skipped`` (and ``skipped_in_a_row``) and the weights stay as they were."""
        self.objective.train()
        batch, labels, spans = _to(self.device, batch, labels, spans)
        metrics, finite = {}, True
        for phase in self.objective.phases(batch, labels, spans):
            optimizer = self.optimizers[phase.optimizer]
            optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                loss, scalars = phase.loss()
            metrics.update(scalars)
            finite = self._backward_finite(loss, optimizer)
            if not finite:
                optimizer.zero_grad(set_to_none=True)
                break
            optimizer.step()
        self.skipped += not finite
        self.skipped_in_a_row = 0 if finite else self.skipped_in_a_row + 1
        with warnings.catch_warnings():
            # a skipped step skips optimizer.step(), which torch's schedulers take for a mistake
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler")
            for schedule in self.schedules.values():
                schedule.step()
        self._update_ema()
        return metrics

    def _backward_finite(self, loss: torch.Tensor, optimizer) -> bool:
        """Backpropagates ``loss``, averages the gradients over the processes of a parallel
        run, clips them to ``train.grad_clip`` (when set) and says whether the loss and the
        gradients are all finite, in every process alike (so all skip the same steps)."""
        loss.backward()
        parameters = [
            p for group in optimizer.param_groups for p in group["params"] if p.grad is not None
        ]
        loss = distributed.average_gradients(parameters, self.group, loss.detach())
        norm = torch.nn.utils.clip_grad_norm_(parameters, self.settings.grad_clip or math.inf)
        return bool(torch.isfinite(norm) & torch.isfinite(loss))

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Every scalar the objective's ``evaluate`` reports, averaged over all validation windows."""
        model = self.sampling_model().eval()
        totals, count = {}, 0
        for batch, labels, spans in self.valid_windows.in_order(self.settings.batch_size):
            self._doing(f"validating {count}/{len(self.valid_windows)}")
            with self._autocast():
                scalars = model.evaluate(*_to(self.device, batch, labels, spans))
            for name, value in scalars.items():
                totals[name] = totals.get(name, 0.0) + value * len(batch)
            count += len(batch)
        self._doing("training")
        return {name: total / count for name, total in totals.items()}

    def sampling_model(self):
        """The moving average when there is one (its unaveraged parts brought up to date)."""
        if self.ema is None:
            return self.objective
        names = self.objective.sampling_modules
        for name, module in self.objective.named_children():
            if names is not None and name not in names:  # e.g. a GAN's critic, for validation
                getattr(self.ema, name).load_state_dict(module.state_dict())
        return self.ema

    # periodic work

    def _check_skipped(self) -> None:
        """Says when a step was skipped; stops the run after ``train.skip_limit`` in a row,
        leaving the last checkpoint written before them."""
        if not self.skipped_in_a_row:
            return
        say(
            f"step {self.step} skipped: its loss or gradients are not finite ({self.skipped_in_a_row} in a row)"
        )
        if self.skipped_in_a_row >= self.settings.skip_limit:
            latest = self.run_dir / LATEST
            kept = (
                f"the last good checkpoint, {latest}, is kept"
                if latest.exists()
                else "no checkpoint was written"
            )
            raise MuseError(
                f"stopped at step {self.step}: {self.skipped_in_a_row} steps in a row had a non-finite "
                f"loss or gradients (train.skip_limit); {kept}. Try a lower train.lr"
            )

    def _periodic(self, metrics: dict[str, float]) -> None:
        settings, step = self.settings, self.step
        logging = step % settings.log_every == 0 or step == settings.steps
        if logging:
            # the whole global batch's numbers
            metrics = distributed.average_scalars(metrics, self.group)
        if not self.group.main:
            return
        if logging:
            lr = self.optimizers[next(iter(self.optimizers))].param_groups[0]["lr"]
            self.scalars.log(
                step,
                {f"train/{name}": value for name, value in metrics.items()}
                | {"train/lr": lr, "train/skipped_steps": self.skipped},
            )
        if self.valid_windows is not None and (
            step % settings.eval_every == 0 or step == settings.steps
        ):
            self._record_validation()
        elif self.valid_windows is None and step == settings.steps:
            self._save_model()  # nothing to choose by: the final weights are the model
        if step % settings.checkpoint_every == 0:
            self.save()
        if settings.sample_every and step % settings.sample_every == 0:
            self.write_sample()

    def _record_validation(self) -> None:
        scalars = self.validate()
        sampling = (
            self._sampling_model_on_cpu()
            if self.selection is not None or self.measures is not None
            else None
        )  # one copy for both
        if self.selection is not None:
            scalars[self.selection.name] = self.selection(sampling)
        if self.measures is not None:
            self._doing("measuring whole validation pieces")
            scalars |= self.measures(sampling)
            self._doing("training")
        self.scalars.log(self.step, {f"valid/{name}": value for name, value in scalars.items()})
        distance = self._selection_distance(scalars)
        if distance is None:
            self._save_model()  # nothing to choose by: the latest weights are the model
        elif distance < self.best_valid:
            self.best_valid = distance
            self._save_model()
        self._write_loss_curve()

    def _selection_distance(self, scalars: dict[str, float]) -> float | None:
        """What the model file's weights are chosen by, lower being better: 1 - the selection's
        score, or the validation loss; None for a GAN's loss, which ranks no generators."""
        if self.selection is not None:
            return 1 - scalars[self.selection.name]
        if self.settings.select_by in scalars:  # a measured scalar (no pieces to measure: loss)
            return scalars[self.settings.select_by]
        return scalars["loss"] if self.objective.selects_by_validation else None

    def _sampling_model_on_cpu(self):
        """The sampling model in eval mode on the CPU, where muse_gan.load's models compose: on
        another device a copy, since moving the model itself there and back would replace its
        buffers under the moving average's references to them."""
        model = self.sampling_model().eval()
        return model if self.device.type == "cpu" else copy.deepcopy(model).to("cpu")

    def write_sample(self) -> None:
        """``adapter.preview_count`` samples (a piece of ``train.sample_bars`` bars, a grid of
        pictures, sounds or texts one after another) in each of ``adapter.sample_formats``;
        for a class-conditional model, the classes in order from the first to the last."""
        generator = torch.Generator().manual_seed(self.settings.seed)
        spec, count = self.adapter.spec, self.adapter.preview_count
        labels = torch.arange(count) * spec.classes // count if spec.classes else None
        steps = self.adapter.preview_steps(self.settings.sample_bars)
        self._doing(f"sampling {count}")
        samples = self._sampling_model_on_cpu().sample(count, steps, 1.0, generator, labels=labels)
        self._doing("training")
        for suffix in self.adapter.sample_formats:
            path = self.run_dir / "samples" / f"step_{self.step:06d}{suffix}"
            try:
                write_atomically(
                    path, self.adapter.file_bytes(samples if count > 1 else samples[0], suffix)
                )
            except DataError as error:
                raise MuseError(str(error)) from None

    # checkpoints

    def info(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "modality": self.adapter.modality,
            "adapter": self.adapter.to_dict(),
            "family": self.objective.family,
            "step": self.step,
            "valid_loss": _finite(self.best_valid),
        }

    @property
    def weights_trusted(self) -> bool:
        """False right after a skipped step: a non-finite loss can mean spoilt weights, so no
        checkpoint or model file is written over the last good one until a step succeeds."""
        return self.skipped_in_a_row == 0

    def _save_model(self) -> None:
        if not self.weights_trusted:
            return
        weights = ckpt.prefixed("model.", self.sampling_model().state_dict())
        ckpt.save_checkpoint(self.run_dir / MODEL, weights, self.info())

    def save(self) -> None:
        """Everything to resume: weights, moving average, optimizers, schedules, data order."""
        if not self.weights_trusted:
            return
        tensors = ckpt.prefixed("model.", self.objective.state_dict())
        if self.ema is not None:
            tensors |= ckpt.prefixed("ema.", self.sampling_model().state_dict())
        optimizers = {}
        for name, optimizer in self.optimizers.items():
            state, optimizers[name] = ckpt.optimizer_tensors(optimizer)
            tensors |= ckpt.prefixed(f"optimizer.{name}.", state)
        tensors["data.generator"] = self.train_windows.state()
        tensors["rng.torch"] = torch.get_rng_state()  # dropout and noise draw from these
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        info = self.info() | {
            "optimizers": optimizers,
            "best_valid": _finite(self.best_valid),
            "skipped": self.skipped,
        }
        ckpt.save_checkpoint(self.run_dir / LATEST, tensors, info)

    def restore(self, tensors: dict, info: dict) -> None:
        self.objective.load_state_dict(ckpt.unprefixed("model.", tensors))
        if self.ema is not None:
            self.ema.load_state_dict(ckpt.unprefixed("ema.", tensors))
        self.step = info["step"]
        for name, optimizer in self.optimizers.items():
            # the settings are the config's, checked as every config is: the header's copy of
            # them (lr, betas, weight decay) is not read
            settings = [_hyperparameters(group) for group in optimizer.param_groups]
            ckpt.restore_optimizer(
                optimizer, ckpt.unprefixed(f"optimizer.{name}.", tensors), info["optimizers"][name]
            )
            for group, own in zip(optimizer.param_groups, settings, strict=True):
                # the lr the schedule gave this step, computed as LambdaLR computes it
                group.update(own, lr=own["initial_lr"] * self._lr_factor(self.step))
        for schedule in self.schedules.values():
            schedule.last_epoch = self.step
        self.best_valid = info["best_valid"] if info["best_valid"] is not None else math.inf
        self.skipped = info.get("skipped", 0)  # absent from checkpoints of earlier versions
        self.train_windows.restore(tensors["data.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)

    # helpers

    def _remove_half_written_files(self) -> None:
        """Temporary files a killed run left mid-write (the real files were never touched)."""
        folders = (self.run_dir, self.run_dir / LATEST.parent, self.run_dir / "samples")
        removed = [path for folder in folders for path in remove_temporaries(folder)]
        if removed and not self.quiet:
            say(f"removed {len(removed)} half-written files left by a killed run")

    def _lr_factor(self, step: int) -> float:
        if self.settings.lr_schedule == "constant":
            return 1.0
        progress = min(step / max(1, self.settings.steps), 1.0)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    def _update_ema(self) -> None:
        if self.ema is None:
            return
        (averages, currents), (average_buffers, current_buffers) = self._averaged
        with torch.no_grad():
            torch._foreach_lerp_(averages, currents, 1 - self.settings.ema)
            if average_buffers:
                torch._foreach_copy_(average_buffers, current_buffers)

    def _autocast(self):
        precision = self.settings.precision
        if precision == "auto":
            precision = "bf16" if self.device.type == "cuda" else "fp32"
        if precision == "fp32":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _progress_bar(self):
        from tqdm import tqdm

        return tqdm(
            total=self.settings.steps,
            initial=self.step,
            desc="training",
            unit="step",
            file=sys.stderr,
            disable=self.quiet,
            dynamic_ncols=True,
        )

    def _doing(self, what: str) -> None:
        """Shown at the left of the progress bar while training: validation and sampling can
        take minutes (a VAE's validation estimates likelihoods), and the bar would sit still."""
        if self.progress is not None:
            self.progress.set_description_str(what, refresh=True)

    def _write_loss_curve(self) -> None:
        try:
            write_loss_curve_png(self.run_dir / "scalars.csv", self.run_dir / "loss_curve.png")
        except ValueError:
            pass  # no loss logged yet (stopped before the first log step)


def _hyperparameters(group: dict) -> dict:
    """An optimizer's param group without its parameters: lr, betas, weight decay, ..."""
    return {key: value for key, value in group.items() if key != "params"}


def _averaged_tensors(objective, ema):
    """(averaged, live) parameters and buffers of the modules the objective samples with."""
    names = objective.sampling_modules
    pick = (
        (lambda model: [model])
        if names is None
        else (lambda model: [getattr(model, name) for name in names])
    )
    parameters = [
        [p for module in pick(model) for p in module.parameters()] for model in (ema, objective)
    ]
    buffers = [
        [b for module in pick(model) for b in module.buffers()] for model in (ema, objective)
    ]
    return parameters, buffers


def _to(device: torch.device, *tensors: torch.Tensor | None) -> tuple:
    """The batch (and its labels and spans, where not None) on ``device``; to a GPU from pinned
    memory, so the copy runs alongside work."""
    pinned = device.type == "cuda"
    return tuple(
        None
        if tensor is None
        else (tensor.pin_memory() if pinned else tensor).to(device, non_blocking=True)
        for tensor in tensors
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM, ending training as Ctrl-C does (caught wherever Ctrl-C is)."""


@contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a cluster's time limit, `kill`, torchrun stopping the others) ends training as
    Ctrl-C does: a checkpoint, then the command to resume. Only the main thread can set it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(*_):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _placed(objective, device: torch.device):
    """The objective on ``device``; convolutional ones on a GPU in channels-last layout, which
    its convolution kernels run faster on (weights only: the state dict is unchanged)."""
    objective = objective.to(device)
    if device.type == "cuda" and any(
        isinstance(module, torch.nn.Conv2d) for module in objective.modules()
    ):
        objective = objective.to(memory_format=torch.channels_last)
    return objective


def _compile(objective) -> None:
    """Each part of the objective compiled in place (``Module.compile``): its state dict keeps
    the bare names, so checkpoints load without torch.compile."""
    for module in objective.children():
        module.compile()


def _finite(value: float):
    return value if math.isfinite(value) else None
