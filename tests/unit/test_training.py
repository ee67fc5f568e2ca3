"""What a training run refuses before it reads any data or takes a step: a run to resume that
is not there, a selection it cannot make, a model to fine-tune that does not fit. The runs
themselves are in tests/e2e/test_training.py."""

import pytest

from muse_gan.assembly import load_config, read_config, resolve_model
from muse_gan.errors import MuseError
from muse_gan.training import train

from ..conftest import TINY


def tiny(*overrides):
    return load_config(None, TINY + list(overrides))


def nowhere(tmp_path):
    """A data source that does not exist: a run that got as far as reading data would say so."""
    return f'data.source="{tmp_path / "none"}"'


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(MuseError, match="no checkpoint"):
        train(tiny(), tmp_path / "nothing", resume=True, quiet=True)


def test_select_by_overlap_without_validation_pieces_is_one_clear_error(tmp_path):
    with pytest.raises(MuseError, match="select_by.*data.valid_fraction"):
        train(
            tiny('train.select_by="overlap"', "data.valid_fraction=0.0", nowhere(tmp_path)),
            tmp_path / "run",
            quiet=True,
        )


def test_fine_tuning_refuses_a_model_with_other_settings(tmp_path):
    config = read_config(resolve_model("bach-rnn")).override(["model.hidden=16", nowhere(tmp_path)])
    with pytest.raises(
        MuseError, match=r"^--init bach-rnn: its \[midi\] or \[model\] settings differ"
    ):
        train(config, tmp_path / "tuned", init="bach-rnn", quiet=True)


def test_the_piano_roll_terms_of_a_gan_to_fine_tune_are_its_midi_settings(tmp_path):
    """gan.critic_chroma now lives in [midi.gan]: a run without it differs in [midi] from bach-gan."""
    config = read_config(resolve_model("bach-gan")).override(
        ["gan.critic_chroma=false", nowhere(tmp_path)]
    )
    with pytest.raises(
        MuseError, match=r"^--init bach-gan: its \[midi\] or \[model\] settings differ"
    ):
        train(config, tmp_path / "tuned", init="bach-gan", quiet=True)


def test_fine_tuning_from_a_model_of_another_modality_is_one_clear_error(tmp_path):
    with pytest.raises(MuseError, match="^--init digits-gan: a model of image data, not midi$"):
        train(tiny(), tmp_path / "tuned", init="digits-gan", quiet=True)
