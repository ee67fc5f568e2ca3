"""Tests for muse_gan.config: defaults, TOML files, --set overrides, type checks, to_toml."""

import tomllib
from pathlib import Path

import pytest

from muse_gan.config import Config, DataConfig, MidiConfig, load_config, to_toml
from muse_gan.errors import ConfigError, MuseError

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.toml"))


def write(tmp_path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file():
    config = load_config()
    assert config == Config()
    assert config.train.steps == 2000
    assert config.midi.track_names == ("Soprano", "Alto", "Tenor", "Bass")
    assert config.midi.pitch_high - config.midi.pitch_low + 1 == 69


def test_empty_file_is_the_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == Config()


def test_file_values_replace_defaults_and_leave_the_rest(tmp_path):
    path = write(tmp_path, '[train]\nsteps = 30\nlr = 0.01\n[midi]\nprograms = [0, 1, 2, 3]\n')
    config = load_config(path)
    assert config.train.steps == 30
    assert config.train.lr == 0.01
    assert config.midi.programs == (0, 1, 2, 3)  # TOML arrays become tuples
    assert config.train.batch_size == 32
    assert config.model == Config().model


def test_overrides_apply_after_the_file(tmp_path):
    path = write(tmp_path, "[train]\nsteps = 30\n")
    config = load_config(path, ["train.steps=7", "model.hidden=16"])
    assert (config.train.steps, config.model.hidden) == (7, 16)


@pytest.mark.parametrize("assignment, section, key, expected", [
    ("model.cell=gru", "model", "cell", "gru"),  # a bare word is a string
    ('model.cell="gru"', "model", "cell", "gru"),
    ("data.source=/tmp/my songs", "data", "source", "/tmp/my songs"),
    ("train.steps = 500", "train", "steps", 500),
    ("train.lr=1e-3", "train", "lr", 0.001),
    ("midi.programs=[1, 2, 3, 4]", "midi", "programs", (1, 2, 3, 4)),
    ("midi.drum_tracks=[3]", "midi", "drum_tracks", (3,)),
])
def test_set_values_use_toml_syntax(assignment, section, key, expected):
    config = Config().override([assignment])
    assert getattr(getattr(config, section), key) == expected


def test_int_is_accepted_for_float():
    config = Config().override(["train.lr=1", "midi.tempo=120"])
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.midi.tempo == 120.0 and isinstance(config.midi.tempo, float)


def test_override_does_not_change_the_original():
    original = Config()
    original.override(["train.steps=3"])
    assert original.train.steps == 2000


@pytest.mark.parametrize("assignment, named", [
    ("train.steps=1.5", "train.steps"),
    ('train.steps="x"', "train.steps"),
    ("train.steps=true", "train.steps"),  # a bool is not an int
    ("train.lr=fast", "train.lr"),
    ("midi.track_names=[1, 2]", "midi.track_names"),
    ("train.stepz=3", "train.stepz"),
    ("trian.steps=3", "trian"),
    ("train.steps", "train.steps"),  # no "="
    ("steps=3", "steps=3"),  # no section
    ("train.=3", "train.=3"),
    ("train.lr=nan", "train.lr"),  # TOML has nan and inf; no setting means them
    ("train.betas=[0.5, inf]", "train.betas"),
])
def test_bad_overrides_are_config_errors_naming_the_key(assignment, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        Config().override([assignment])


def test_config_error_is_a_muse_error():
    with pytest.raises(MuseError):
        Config().override(["train.steps=1.5"])


@pytest.mark.parametrize("text, named", [
    ("[train]\nsteps = 1.5\n", "train.steps"),
    ("[train]\nstepz = 1\n", "train.stepz"),
    ("[trian]\nsteps = 1\n", "trian"),
    ("train = 5\n", "train"),  # a section must be a table
    ('[midi]\nprograms = ["organ"]\n', "midi.programs"),
    ("[audio]\nfmax = -inf\n", "audio.fmax"),
])
def test_bad_file_values_name_the_file_and_the_key(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert named in str(caught.value)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="nowhere.toml"):
        load_config(path)


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[train\nsteps = \n", "broken.toml")
    with pytest.raises(ConfigError, match="broken.toml.*not valid TOML"):
        load_config(path)


def test_non_utf8_file_names_the_file(tmp_path):
    path = tmp_path / "utf16.toml"
    path.write_bytes('[data]\nsource = "chorale"\n'.encode("utf-16"))
    with pytest.raises(ConfigError, match="utf16.toml"):
        load_config(path)


def test_a_folder_is_not_a_config_file(tmp_path):
    with pytest.raises(ConfigError, match=str(tmp_path)):
        load_config(tmp_path)


def test_to_toml_round_trip_of_the_defaults():
    config = Config()
    assert Config.from_dict(tomllib.loads(to_toml(config))) == config


def test_to_toml_round_trip_of_awkward_values(tmp_path):
    config = Config(
        data=DataConfig(source='C:\\music\\"best" songs\n\ttabbed\x01\x7f ünïcödé 🎵', valid_fraction=0.25),
        midi=MidiConfig(track_names=("Lead", 'Say "hi"'), programs=(0, 127), drum_tracks=(1,), tempo=1e-05),
    ).override(["train.lr=3e-4", "train.ema=0.999"])
    text = to_toml(config)
    assert Config.from_dict(tomllib.loads(text)) == config
    path = write(tmp_path, text)
    assert load_config(path) == config


def test_to_toml_has_one_table_per_section():
    tables = tomllib.loads(to_toml(Config()))
    assert list(tables) == ["data", "midi", "image", "audio", "text", "model", "gan", "vae", "train"]
    assert tables["midi"]["drum_tracks"] == []
    assert tables["train"]["lr"] == 0.002


def test_from_dict_accepts_lists_for_tuples():
    sections = Config().to_dict()
    sections["midi"]["track_names"] = ["A", "B"]
    sections["midi"]["programs"] = [1, 2]
    config = Config.from_dict(sections)
    assert config.midi.track_names == ("A", "B") and config.midi.programs == (1, 2)


def test_bundled_configs_exist():
    assert len(CONFIGS) >= 2


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_every_bundled_config_loads(path):
    config = load_config(path)
    assert config != Config()  # each file changes something
    assert Config.from_dict(tomllib.loads(to_toml(config))) == config
