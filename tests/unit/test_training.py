"""What a training run refuses before it reads any data or takes a step: a run to resume that
is not there, a selection it cannot make, a model to fine-tune that does not fit. The runs
themselves are in tests/e2e/test_training.py."""

import tomllib
from pathlib import Path

import pytest

from muse_gan.assembly import load_config, read_config, resolve_model
from muse_gan.errors import ConfigError, MuseError
from muse_gan.training import STARTING_SETTINGS, starting_config, train

from ..conftest import TINY


def tiny(*overrides):
    return load_config(None, TINY + list(overrides))


def nowhere(tmp_path):
    """A data source that does not exist: a run that got as far as reading data would say so."""
    return f'data.source="{tmp_path / "none"}"'


def test_a_fine_tune_gives_pulls_only_to_classes_the_model_has(tmp_path):
    # refused before any data is read: the model's classes are known from its file
    tuned = read_config(resolve_model("palestrina")).override(
        [nowhere(tmp_path), "midi.class_pulls.7 voices.rest_hold=1"]
    )
    known = "3 voices, 4 voices, 5 voices, 6 voices"
    with pytest.raises(
        ConfigError,
        match=rf"^midi.class_pulls: '7 voices' is not a class of this model \(its classes: {known}\)$",
    ):
        train(tuned, tmp_path / "tuned", init="palestrina", quiet=True)


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


@pytest.mark.parametrize(
    "overrides, words",
    [
        (['train.select_by="fid"'], ["'fid'", "'auto' or 'overlap' or 'piece_nll'"]),
        # a GAN's log has no whole-piece NLL to choose by
        (['train.select_by="piece_nll"', 'model.family="gan"'], ["'auto' or 'overlap'"]),
        (
            ['train.select_by="piece_nll"', "data.valid_fraction=0.0"],
            ["valid_fraction = 0 leaves none"],
        ),
    ],
)
def test_a_selection_the_run_cannot_make_is_refused_before_reading_data(tmp_path, overrides, words):
    with pytest.raises(MuseError, match="train.select_by") as refused:
        train(tiny(*overrides, nowhere(tmp_path)), tmp_path / "run", quiet=True)
    assert all(word in str(refused.value) for word in words)
    assert str(refused.value).endswith(words[-1])


def test_fine_tuning_refuses_a_model_with_other_settings(tmp_path):
    config = read_config(resolve_model("bach-rnn")).override(["model.hidden=16", nowhere(tmp_path)])
    with pytest.raises(
        MuseError, match=r"^--init bach-rnn: its \[midi\] or \[model\] settings differ"
    ):
        train(config, tmp_path / "tuned", init="bach-rnn", quiet=True)


def test_a_gan_fine_tune_may_change_its_training_terms_not_its_roll(tmp_path):
    """Which pieces are read, their transposition, [midi.gan] (training's terms, the decoding)
    and the pulls while composing may differ from the model's (the run then fails only on its missing data); the roll it reads may not."""
    bach_gan = read_config(resolve_model("bach-gan"))
    tuned = bach_gan.override(
        [
            "midi.gan.one_note_per_voice=true",
            "midi.require_parts=0",
            "midi.transpose=2",
            "midi.key_hold=2",
            "midi.note_hold=1",
            "midi.voice_span=12",
            "midi.ensemble_span=30",
            "midi.rest_hold=0.5",
            nowhere(tmp_path),
        ]
    )
    with pytest.raises(MuseError) as refused:
        train(tuned, tmp_path / "tuned", init="bach-gan", quiet=True)
    assert "settings differ" not in str(refused.value)
    with pytest.raises(
        MuseError,
        match=r"^--init bach-gan: its \[midi\] or \[model\] settings differ from this run's \(require_parts, transpose, gan, key_hold, note_hold, voice_span, ensemble_span, rest_hold, class_pulls may differ\)",
    ):
        train(
            bach_gan.override(["midi.pitch_low=30", nowhere(tmp_path)]),
            tmp_path / "t2",
            init="bach-gan",
            quiet=True,
        )


def test_fine_tuning_from_a_model_of_another_modality_is_one_clear_error(tmp_path):
    with pytest.raises(MuseError, match="^--init digits-gan: a model of image data, not midi$"):
        train(tiny(), tmp_path / "tuned", init="digits-gan", quiet=True)


def pair(modality, family, *overrides):
    return [f'data.modality="{modality}"', f'model.family="{family}"', *overrides]


@pytest.mark.parametrize("modality", ["midi", "image", "audio", "text"])
@pytest.mark.parametrize("family", ["rnn", "gan", "vae"])
def test_every_pair_starts_from_settings_sized_for_a_cpu_and_reads_its_data_as_the_defaults(
    modality, family
):
    """The defaults' sizes (the bundled chorale RNN's) took up to 125 s a step on the project's
    CPU for other pairs; each starts from its tuned config's sizes (docs/benchmarks.md has the
    steps/s), reading its data as the defaults do."""
    started = starting_config(pair(modality, family))
    defaults = load_config(None, pair(modality, family))
    assert (started == defaults) == ((modality, family) == ("midi", "rnn"))
    assert started.data == defaults.data
    if modality != "image":  # the pictures' size is the one reading setting that is a size
        for key, value in vars(started.section(modality)).items():
            if key not in ("window_bars", "window", "max_vocabulary"):
                assert getattr(defaults.section(modality), key) == value, key


def test_the_users_settings_win_over_the_starting_ones():
    started = starting_config(pair("text", "gan", "text.window=32", "gan.critic_steps=3"))
    assert (started.text.window, started.gan.critic_steps, started.model.channels) == (32, 3, 8)


def test_a_text_gan_starts_from_configs_folk_gan():
    tuned = load_config(Path(__file__).parents[2] / "configs" / "folk-gan.toml")
    started = starting_config(pair("text", "gan"))
    assert (started.text.window, started.text.max_vocabulary) == (64, 96)
    assert (started.model.channels, started.gan.loss, started.gan.critic_steps) == (
        tuned.model.channels,
        tuned.gan.loss,
        tuned.gan.critic_steps,
    )


# the bundled model whose config each family's starting settings come from
STARTED_FROM = {
    ("midi", "gan"): "bach-gan",
    ("midi", "vae"): "bach-vae",
    ("image", "rnn"): "digits-rnn",
    ("image", "gan"): "digits-gan",
    ("image", "vae"): "digits-vae",
    ("audio", "rnn"): "notes-rnn",
    ("audio", "gan"): "notes-gan",
    ("audio", "vae"): "notes-vae",
    ("text", "rnn"): "folk-rnn",
    ("text", "gan"): "folk-gan",
    ("text", "vae"): "folk-vae",
}


@pytest.mark.parametrize("family", sorted(STARTING_SETTINGS))
def test_starting_settings_agree_with_the_config_they_come_from(family):
    """`muse train --modality M --model F` starts as configs/ trains that family's model."""
    path = Path(__file__).parents[2] / "configs" / f"{STARTED_FROM[family]}.toml"
    config = tomllib.loads(path.read_text())
    for setting in STARTING_SETTINGS[family]:
        name, value = setting.split("=", 1)
        section, field = name.split(".")
        assert config[section][field] == tomllib.loads(f"v = {value}")["v"], (path.name, name)
