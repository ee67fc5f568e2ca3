"""The one training loop, driven by a toy objective: what the Trainer owns whatever the family.

The objective here learns the mean of real 8 × 8 pictures (a parameter per pixel, squared
error). It is small enough that every behaviour of the loop (stepping each phase's optimizer,
skipping non-finite steps, the moving average, validation, choosing the model file's weights
by a selection hook, checkpoints and resuming) is checked in a fraction of a second.
"""

import math
import os
import signal
import warnings

import pytest
import torch
from torch import nn

from muse_gan.assembly import load_config
from muse_gan.core import checkpoint as ckpt
from muse_gan.core.objective import Objective, Phase
from muse_gan.core.samplers import ItemSampler
from muse_gan.core.scalars import read_scalars
from muse_gan.core.store import Piece
from muse_gan.core.trainer import (
    LATEST,
    MODEL,
    Trainer,
    computing_threads,
    pick_threads,
    usable_cpus,
)
from muse_gan.errors import Interrupted, MuseError
from muse_gan.modalities.image import ImageAdapter, ImageConfig

SIZE = 8


class MeanPicture(Objective):
    """Learns the mean picture; ``broken_steps`` are the training steps whose loss is NaN."""

    family = "toy"

    def __init__(self, broken_steps=()):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(1, SIZE, SIZE))
        # stepped by its own optimizer, in a second phase
        self.offset = nn.Parameter(torch.zeros(()))
        self.broken_steps, self.calls = set(broken_steps), 0

    def parameter_groups(self):
        return {"picture": [self.mean], "offset": [self.offset]}

    def phases(self, batch, labels=None, spans=None):
        self.calls += 1
        return [
            Phase("picture", lambda: self._loss(batch)),
            Phase("offset", lambda: self._offset_loss(batch)),
        ]

    def _loss(self, batch):
        loss = (batch - self.mean).square().mean()
        if self.calls in self.broken_steps:
            loss = loss * math.nan
        return loss, {"loss": loss.item()}

    def _offset_loss(self, batch):
        loss = (self.offset - 0.5).square()
        return loss, {"offset": loss.item()}

    @torch.no_grad()
    def evaluate(self, batch, labels=None, spans=None):
        return {"loss": (batch - self.mean).square().mean().item()}

    @torch.no_grad()
    def sample(self, count, steps, temperature, generator, primer=None, labels=None):
        return self.mean.clamp(0, 1).expand(count, 1, SIZE, SIZE).clone()


@pytest.fixture(scope="module")
def pictures():
    """Real pictures: the built-in digits, 8 × 8, as prepared pieces."""
    from muse_gan.modalities.image.digits import digits_files

    adapter = ImageAdapter(ImageConfig(size=SIZE))
    return adapter, [
        Piece(str(path), adapter.encode(adapter.read(path)[0])) for path in digits_files()[:96]
    ]


def trainer_for(tmp_path, pictures, objective=None, selection=None, quiet=True, **train):
    adapter, pieces = pictures
    settings = {
        "steps": 12,
        "batch_size": 8,
        "lr": 0.05,
        "eval_every": 4,
        "checkpoint_every": 4,
        "sample_every": 6,
        "log_every": 2,
        "lr_schedule": "constant",
        "device": "cpu",
    } | train
    config = load_config(
        None,
        ['data.modality="image"']
        + [f"train.{key}={value!r}".replace("'", '"') for key, value in settings.items()],
    )
    torch.manual_seed(0)
    return Trainer(
        config,
        tmp_path / "run",
        adapter,
        objective or MeanPicture(),
        ItemSampler(pieces[:64], adapter, seed=0),
        ItemSampler(pieces[64:], adapter, seed=0),
        quiet=quiet,
        selection=selection,
    )


def test_training_lowers_the_loss_and_writes_the_run_folder(tmp_path, pictures):
    trainer = trainer_for(tmp_path, pictures)
    before = trainer.validate()["loss"]
    trainer.fit()
    run = tmp_path / "run"
    assert trainer.step == 12
    assert trainer.validate()["loss"] < before / 2
    assert (run / MODEL).exists() and (run / LATEST).exists() and (run / "config.toml").exists()
    assert sorted(path.name for path in (run / "samples").iterdir()) == [
        "step_000006.png",
        "step_000012.png",
    ]
    curves = read_scalars(run / "scalars.csv")
    assert [step for step, _ in curves["train/loss"]] == [2, 4, 6, 8, 10, 12]
    assert [step for step, _ in curves["valid/loss"]] == [4, 8, 12]


def test_each_phase_steps_only_its_own_optimizer(tmp_path, pictures):
    trainer = trainer_for(tmp_path, pictures, steps=1)
    batch, *_ = trainer.train_windows.batch(8)
    trainer.train_step(batch)
    objective = trainer.objective
    assert objective.offset.item() > 0  # the second phase moved it towards 0.5
    assert set(trainer.optimizers) == {"picture", "offset"}
    stepped = {
        name: [
            id(p) for group in optimizer.param_groups for p in group["params"] if optimizer.state[p]
        ]
        for name, optimizer in trainer.optimizers.items()
    }
    assert stepped == {"picture": [id(objective.mean)], "offset": [id(objective.offset)]}


def test_a_non_finite_step_is_skipped_and_the_weights_stay(tmp_path, pictures):
    trainer = trainer_for(tmp_path, pictures, objective=MeanPicture(broken_steps={2}))
    batch, *_ = trainer.train_windows.batch(8)
    trainer.train_step(batch)
    weights = trainer.objective.mean.detach().clone()
    trainer.train_step(batch)  # its loss is NaN
    assert torch.equal(trainer.objective.mean, weights)
    assert trainer.skipped == 1 and trainer.skipped_in_a_row == 1
    trainer.train_step(batch)
    assert trainer.skipped_in_a_row == 0 and not torch.equal(trainer.objective.mean, weights)


def test_too_many_non_finite_steps_in_a_row_stop_the_run_keeping_the_last_checkpoint(
    tmp_path, pictures
):
    trainer = trainer_for(
        tmp_path, pictures, objective=MeanPicture(broken_steps=range(6, 20)), skip_limit=3
    )
    with pytest.raises(MuseError, match="3 steps in a row"):
        trainer.fit()
    _, info = ckpt.load_checkpoint(tmp_path / "run" / LATEST)
    assert info["step"] == 4  # written before the broken steps began; none over it after


def test_the_moving_average_lags_behind_the_weights(tmp_path, pictures):
    trainer = trainer_for(tmp_path, pictures, ema=0.9, steps=5)
    trainer.fit()
    live, average = trainer.objective.mean, trainer.sampling_model().mean
    assert not torch.equal(live, average)
    # started at zero, moving a tenth of the way per step
    assert average.abs().mean() < live.abs().mean()


class Scores:
    """A selection hook: hands out the given scores, one per validation."""

    name = "overlap"

    def __init__(self, scores):
        self.scores, self.weights = list(scores), []

    def __call__(self, objective):
        self.weights.append(objective.mean.detach().clone())
        return self.scores.pop(0)


def test_a_selection_hook_chooses_which_weights_become_the_model(tmp_path, pictures):
    selection = Scores([0.2, 0.9, 0.5])
    trainer = trainer_for(tmp_path, pictures, selection=selection)
    trainer.fit()
    model, _ = ckpt.load_checkpoint(tmp_path / "run" / MODEL)
    # the best-scored: the second validation's
    assert torch.equal(model["model.mean"], selection.weights[1])
    assert [
        value for _, value in read_scalars(tmp_path / "run" / "scalars.csv")["valid/overlap"]
    ] == [0.2, 0.9, 0.5]


def test_without_a_hook_the_lowest_validation_loss_chooses(tmp_path, pictures):
    trainer = trainer_for(tmp_path, pictures)
    trainer.fit()
    _, info = ckpt.load_checkpoint(tmp_path / "run" / MODEL)
    losses = [value for _, value in read_scalars(tmp_path / "run" / "scalars.csv")["valid/loss"]]
    assert info["valid_loss"] == pytest.approx(min(losses))


def test_a_resumed_run_ends_with_the_weights_of_one_that_never_stopped(tmp_path, pictures):
    whole = trainer_for(tmp_path / "whole", pictures, ema=0.5)
    whole.fit()
    first = trainer_for(tmp_path / "resumed", pictures, ema=0.5, steps=4)
    first.fit()
    tensors, info = ckpt.load_checkpoint(tmp_path / "resumed" / "run" / LATEST)
    second = trainer_for(tmp_path / "resumed", pictures, ema=0.5)
    second.restore(tensors, info)
    second.fit()
    assert torch.equal(second.objective.mean, whole.objective.mean)
    assert torch.equal(second.sampling_model().mean, whole.sampling_model().mean)


class StopsAt(MeanPicture):
    """Stopped as a user stops a run, by ``stop`` (Ctrl-C's SIGINT or SIGTERM) arriving during
    training step ``step``."""

    def __init__(self, step, stop=signal.SIGINT):
        super().__init__()
        self.step, self.stop = step, stop

    def phases(self, batch, labels=None, spans=None):
        if self.calls + 1 == self.step:
            os.kill(os.getpid(), self.stop)  # the handler raises here, as in a real run
        return super().phases(batch, labels)


@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_says_how_to_resume_with_the_signals_exit_status(
    tmp_path, pictures, stop, code
):
    trainer = trainer_for(tmp_path, pictures, objective=StopsAt(7, stop))
    with pytest.raises(Interrupted, match="interrupted at step 6; continue with") as stopped:
        trainer.fit()
    assert stopped.value.exit_code == code
    assert ckpt.load_checkpoint(tmp_path / "run" / LATEST)[1]["step"] == 6
    # the model validated at step 4 stays the model: no word about it
    assert ckpt.load_checkpoint(tmp_path / "run" / MODEL)[1]["step"] == 4
    assert "model.safetensors" not in str(stopped.value)


def test_a_run_stopped_before_its_first_validation_leaves_this_steps_weights_as_its_model(
    tmp_path, pictures
):
    trainer = trainer_for(tmp_path, pictures, objective=StopsAt(3))
    with pytest.raises(Interrupted, match="model.safetensors holds the weights of this step"):
        trainer.fit()
    tensors, info = ckpt.load_checkpoint(tmp_path / "run" / MODEL)
    assert info["step"] == 2 and torch.equal(tensors["model.mean"], trainer.objective.mean)


def test_a_run_stopped_before_its_first_step_says_it_has_no_model_yet(tmp_path, pictures):
    trainer = trainer_for(tmp_path, pictures, objective=StopsAt(1))
    with pytest.raises(Interrupted, match="no model.safetensors yet"):
        trainer.fit()
    assert not (tmp_path / "run" / MODEL).exists()


def test_a_skipped_step_raises_no_warning_about_the_learning_rate_schedule(tmp_path, pictures):
    """torch warns when a schedule steps without its optimizer, which a skipped step does on
    purpose; the warning would be printed among the run's lines."""
    trainer = trainer_for(tmp_path, pictures, objective=MeanPicture(broken_steps={1}))
    batch, *_ = trainer.train_windows.batch(8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train_step(batch)
        trainer.train_step(batch)
    assert trainer.skipped == 1 and not caught


def test_threads_come_from_the_setting_then_the_environment_then_the_cpus(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert pick_threads(5) == 5
    assert pick_threads(0) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert pick_threads(0) == usable_cpus()
    assert pick_threads(0, processes=usable_cpus() * 2) == 1  # at least one each


def test_computing_threads_sets_torchs_threads_for_the_block_only():
    before = torch.get_num_threads()
    with computing_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before


def test_the_progress_bar_says_when_it_validates_and_samples(tmp_path, pictures, capsys):
    """Validation and sampling can take minutes; the bar says so instead of sitting still."""
    trainer_for(tmp_path, pictures, quiet=False, steps=6).fit()
    shown = capsys.readouterr().err
    assert "validating 0/32" in shown and "sampling 64" in shown
    assert shown.rstrip().splitlines()[-1].lstrip("\r").startswith("training")
