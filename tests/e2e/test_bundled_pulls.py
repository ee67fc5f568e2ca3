"""The bundled palestrina's rest hold over whole pieces: twelve 8-bar pieces in 6 voices,
too many for the unit tier (``tests/unit/test_key_hold.py`` has the pull's unit tests)."""

import pytest

import muse_gan
from muse_gan.assembly import build_adapter, load_config
from muse_gan.errors import ConfigError


@pytest.fixture(scope="module")
def palestrina():
    return muse_gan.load("palestrina")


def test_a_rest_hold_makes_rests_fewer_and_below_0_more(palestrina):
    rests = []
    for hold in (-1.0, 0.0, 2.0):  # asked, so each replaces the model's own (6 voices: 0.4)
        count = 0
        for seed in range(4):
            roll = palestrina.compose(8, seed=seed, voices=6, rest_hold=hold).roll
            sounding = (roll[:, :, : palestrina.adapter.pitches] > 0).any(-1)  # (tracks, steps)
            count += int((sounding[:, :-1] & ~sounding[:, 1:]).sum())  # a voice falls silent
        rests.append(count)
    assert rests[2] < 0.6 * rests[1] and rests[1] < 0.6 * rests[0], rests  # measured: 75, 27, 9
    with pytest.raises(ConfigError, match="midi.rest_hold"):
        build_adapter(load_config(None, ["midi.rest_hold=-31"]))
