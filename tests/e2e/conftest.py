"""Fixtures the end-to-end tests share: models trained once per run."""

import pytest

from ..conftest import TINY, set_options

# TINY's GAN: small layers, one critic step
GAN = [
    "model.channels=4",
    "model.latent=4",
    "gan.critic_steps=1",
]


@pytest.fixture(scope="session")
def tiny_gan_run(tmp_path_factory):
    """A tiny GAN trained once per run on real chorales with `muse train --model gan`."""
    from click.testing import CliRunner

    from muse_gan.cli import main

    run = tmp_path_factory.mktemp("tiny-gan") / "run"
    options = set_options(TINY + GAN)
    result = CliRunner().invoke(
        main,
        ["train", "--model", "gan", "--out", str(run), "--quiet", *options],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return run
