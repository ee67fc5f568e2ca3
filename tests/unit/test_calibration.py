"""`muse calibrate`'s search, and what it refuses before it reads any piece. Calibrating a
trained run end to end: tests/e2e/test_calibrate.py."""

import math

import pytest

from muse_gan.assembly import load_config
from muse_gan.calibration import _lowest, calibrate
from muse_gan.errors import MuseError
from muse_gan.pretrained import bundled_path
from muse_gan.training import train

from ..conftest import TINY


@pytest.mark.parametrize("best", [0.7, 1.0, 1.3])
def test_the_search_finds_the_temperature_of_least_loss(best):
    found = _lowest(lambda t: (math.log(t) - math.log(best)) ** 2 + 4.0, 0.5, 2.0)
    assert found == pytest.approx(best, rel=1e-3)


@pytest.mark.parametrize("model", ["bach-rnn", str(bundled_path("bach-rnn"))])
def test_a_bundled_model_is_not_rewritten(model):
    before = bundled_path("bach-rnn").read_bytes()
    with pytest.raises(MuseError, match="a bundled model is not rewritten"):
        calibrate(model)
    assert bundled_path("bach-rnn").read_bytes() == before


def test_a_run_trains_uncalibrated(tmp_path):
    with pytest.raises(MuseError, match="model.calibration: 1.1: a run trains at 1"):
        train(load_config(None, [*TINY, "model.calibration=1.1"]), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()
