"""Real (tiny) training runs on real Bach chorales, on the CPU."""

import mido
import pytest
import torch

from muse_gan import checkpoint as ckpt
from muse_gan.config import load_config
from muse_gan.errors import MuseError
from muse_gan.scalars import read_scalars
from muse_gan.training import train

from .conftest import TINY, write_quartet


def tiny(*overrides):
    return load_config(None, TINY + list(overrides))


def test_a_run_folder_holds_config_checkpoints_curves_and_samples(tiny_run):
    assert (tiny_run / "config.toml").read_text().startswith("[data]")
    assert (tiny_run / "checkpoints" / "latest.safetensors").exists()
    assert (tiny_run / "model.safetensors").exists()
    curves = read_scalars(tiny_run / "scalars.csv")
    assert [step for step, _ in curves["train/loss"]] == [2, 4]
    assert [step for step, _ in curves["valid/loss"]] == [2, 4]
    assert all(value > 0 for _, value in curves["train/loss"] + curves["valid/loss"])
    assert (tiny_run / "loss_curve.png").read_bytes().startswith(b"\x89PNG")
    sample = tiny_run / "samples" / "step_000004.mid"
    assert len(mido.MidiFile(sample).tracks) == 5  # tempo and meter, then one per voice
    assert (tiny_run / "samples" / "step_000004.png").exists()


def test_loss_goes_down_on_real_chorales(tmp_path):
    trainer = train(tiny("train.steps=30", "train.eval_every=30", "train.lr=0.01", "data.limit=4"),
                    tmp_path / "run", quiet=True)
    losses = [value for _, value in read_scalars(tmp_path / "run" / "scalars.csv")["train/loss"]]
    assert trainer.step == 30
    assert losses[-1] < 0.7 * losses[0]


def test_resume_continues_to_the_same_weights_as_one_run(tmp_path):
    constant = ["train.lr_schedule=\"constant\"", "train.checkpoint_every=3"]
    whole = train(tiny("train.steps=6", *constant), tmp_path / "whole", quiet=True)
    interrupted = train(tiny("train.steps=3", *constant), tmp_path / "part", quiet=True)
    assert interrupted.step == 3
    resumed = train(tiny("train.steps=6", *constant), tmp_path / "part", resume=True, quiet=True)
    assert resumed.step == 6
    logged = [step for step, _ in read_scalars(tmp_path / "part" / "scalars.csv")["train/loss"]]
    assert logged == [2, 3, 4, 6]  # one curve, no step twice (3: where the first process ended)
    for name, value in whole.objective.state_dict().items():
        assert torch.equal(value, resumed.objective.state_dict()[name]), name


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(MuseError, match="no checkpoint"):
        train(tiny(), tmp_path / "nothing", resume=True, quiet=True)


def test_fine_tuning_starts_from_the_given_model(tiny_run, tmp_path):
    clips = tmp_path / "my clips"
    for number in range(3):
        write_quartet(clips / f"clip{number}.mid", shift=number)
    config = load_config(tiny_run / "config.toml", ["train.steps=0", f"data.source=\"{clips}\""])
    trainer = train(config, tmp_path / "tuned", init=str(tiny_run), quiet=True)
    tensors, _ = ckpt.load_checkpoint(tiny_run / "model.safetensors")
    for name, value in ckpt.unprefixed("model.", tensors).items():
        assert torch.equal(trainer.objective.state_dict()[name], value), name


def test_fine_tuning_refuses_a_model_with_other_settings(tiny_run, tmp_path):
    config = tiny("model.hidden=16")
    with pytest.raises(MuseError, match="--init"):
        train(config, tmp_path / "tuned", init=str(tiny_run), quiet=True)


@pytest.mark.parametrize("setting", ["model.head=\"bernoulli\"", "model.cell=\"gru\"", "train.ema=0.9"])
def test_other_heads_cells_and_the_moving_average_train(tmp_path, setting):
    trainer = train(tiny(setting), tmp_path / "run", quiet=True)
    assert trainer.step == 4
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_a_folder_with_bad_files_trains_on_the_rest(tmp_path, capsys):
    data = tmp_path / "data"
    write_quartet(data / "good.mid")
    write_quartet(data / "sub" / "also good.midi", shift=2)
    (data / "truncated.mid").write_bytes((data / "good.mid").read_bytes()[:30])
    (data / "empty.mid").write_bytes(b"")
    (data / "notes.txt").write_text("not music")
    trainer = train(tiny(f"data.source=\"{data}\"", "data.valid_fraction=0.0"), tmp_path / "run")
    assert trainer.step == 4
    err = capsys.readouterr().err
    assert "skipped" in err and "truncated.mid" in err and "empty.mid" in err
    assert "skipped 2 of 4 files" in err  # the MIDI files that could not be read
    assert "notes.txt: not a .mid/.midi/" in err and "skipped 1 file of other kinds" in err


def test_a_folder_with_nothing_usable_is_one_clear_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "broken.mid").write_bytes(b"MThd garbage")
    with pytest.raises(MuseError, match="no usable pieces"):
        train(tiny(f"data.source=\"{data}\""), tmp_path / "run", quiet=True)
