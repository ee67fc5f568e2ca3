"""`muse calibrate`: a trained RNN's temperature fitted on its validation chorales and kept in
its model file, which then composes, evaluates and fine-tunes with it."""

import re
import shutil

import pytest

import muse_gan
from muse_gan.assembly import load_config
from muse_gan.calibration import calibrate
from muse_gan.core.checkpoint import read_header
from muse_gan.errors import MuseError
from muse_gan.evaluation import evaluation_pieces, frame_nll
from muse_gan.training import train

from ..conftest import TINY
from ..unit.test_cli import assert_one_clear_line, muse


@pytest.fixture(scope="module")
def calibrated(tiny_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("calibrated") / "run"
    shutil.copytree(tiny_run, run)
    result = muse("calibrate", "--model", run)
    assert result.exit_code == 0, result.output
    return run, result.output


def valid_nll(model) -> float:
    pieces = evaluation_pieces(model.config, model.adapter, None, "valid", quiet=True)
    return frame_nll(model.objective, model.adapter.model_view(pieces), model.adapter)[0]


def test_the_temperature_is_kept_in_the_model_and_fits_the_validation_pieces(tiny_run, calibrated):
    run, said = calibrated
    found = re.search(r"calibration (\S+): NLL (\S+) -> (\S+) nats per frame on (\d+)", said)
    temperature, before, after = map(float, found.groups()[:3])
    assert read_header(run / "model.safetensors")["config"]["model"]["calibration"] == temperature
    assert 0.5 <= temperature <= 2.0 and after <= before
    model = muse_gan.load(run)
    assert model.objective.head.calibration == temperature
    assert valid_nll(model) == pytest.approx(after, abs=1e-3)
    assert valid_nll(muse_gan.load(tiny_run)) == pytest.approx(before, abs=1e-3)
    # the training checkpoint is the run's own: resuming it is not changed
    latest = read_header(run / "checkpoints" / "latest.safetensors")["config"]["model"]
    assert latest.get("calibration", 1.0) == 1.0


def test_muse_eval_says_the_model_is_calibrated(calibrated):
    run, said = calibrated
    temperature = re.search(r"calibration (\S+):", said).group(1)
    result = muse("eval", "--model", run, "--split", "valid", "-n", 2, "--bars", 2)
    assert result.exit_code == 0, result.output
    assert f"(calibrated: {float(temperature)})" in result.output


def test_a_calibrated_model_composes_the_same_piece_for_the_same_seed(calibrated, tmp_path):
    run, _ = calibrated
    for name in ("a.mid", "b.mid"):
        result = muse("compose", "--model", run, "--bars", 2, "--seed", 3, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


def test_a_calibrated_model_fine_tunes_uncalibrated(calibrated, tmp_path):
    run, _ = calibrated
    config = load_config(None, TINY).override(["train.steps=1", "train.sample_every=0"])
    assert train(config, tmp_path / "tuned", init=str(run), quiet=True).step == 1
    # without a config, the model's own settings, but trained at 1
    result = muse("train", "--init", run, "--steps", 1, "--out", tmp_path / "own", "-q")
    assert result.exit_code == 0, result.output
    assert (
        read_header(tmp_path / "own" / "model.safetensors")["config"]["model"]["calibration"] == 1
    )


def test_what_is_not_calibrated_is_refused_in_one_line(tiny_run, tiny_vae_run, tmp_path):
    assert_one_clear_line(muse("calibrate", "--model", "bach-rnn"), "bundled model")
    assert_one_clear_line(muse("calibrate", "--model", tiny_vae_run), "only an RNN")
    latest = tiny_run / "checkpoints" / "latest.safetensors"
    before = latest.read_bytes()
    assert_one_clear_line(muse("calibrate", "--model", latest), "a training checkpoint")
    assert latest.read_bytes() == before
    with pytest.raises(MuseError, match="no such checkpoint|not a bundled model"):
        calibrate(tmp_path / "nothing")
