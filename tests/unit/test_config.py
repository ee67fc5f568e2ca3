"""Tests for the config machinery (muse_gan.core.config) with every section registered
(muse_gan.assembly): defaults, TOML files, --set overrides, type checks, to_toml, keys read
under their old names."""

import dataclasses
import pickle
import tomllib
from pathlib import Path

import pytest

from muse_gan.assembly import build_adapter, load_config
from muse_gan.core.config import Config, DataConfig, to_toml
from muse_gan.errors import ConfigError, MuseError
from muse_gan.modalities.midi import MidiConfig

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.toml"))


def write(tmp_path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file():
    config = load_config()
    assert config == Config()
    assert config.train.steps == 2000
    # the tracks, meters and dynamics are the data's unless a config fixes them
    assert (config.midi.track_mapping, config.midi.track_names, config.midi.meter) == (
        "auto",
        (),
        "auto",
    )
    assert config.midi.pitch_high - config.midi.pitch_low + 1 == 69


def test_midi_settings_of_before_meters_read_as_those_models_were():
    old = Config.from_dict(
        {
            "midi": {
                "beats_per_bar": 3,
                "track_mapping": "keep",
                "track_names": ["A", "B"],
                "programs": [0, 0],
            }
        }
    )
    assert (old.midi.meter, old.midi.dynamics, old.midi.conditions) == ("3/4", "off", ())
    assert old.midi.require_parts == 2  # they refused pieces with another number of parts


def test_empty_file_is_the_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == Config()


def test_file_values_replace_defaults_and_leave_the_rest(tmp_path):
    path = write(tmp_path, "[train]\nsteps = 30\nlr = 0.01\n[midi]\nprograms = [0, 1, 2, 3]\n")
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


@pytest.mark.parametrize(
    "assignment, section, key, expected",
    [
        ("model.cell=gru", "model", "cell", "gru"),  # a bare word is a string
        ('model.cell="gru"', "model", "cell", "gru"),
        ("data.source=/tmp/my songs", "data", "source", "/tmp/my songs"),
        ("train.steps = 500", "train", "steps", 500),
        ("train.lr=1e-3", "train", "lr", 0.001),
        ("midi.programs=[1, 2, 3, 4]", "midi", "programs", (1, 2, 3, 4)),
        ("midi.drum_tracks=[3]", "midi", "drum_tracks", (3,)),
    ],
)
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


@pytest.mark.parametrize(
    "assignment, named",
    [
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
    ],
)
def test_bad_overrides_are_config_errors_naming_the_key(assignment, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        Config().override([assignment])


def test_an_unknown_key_names_the_key_meant_or_those_known():
    with pytest.raises(
        ConfigError, match=r"'midi.ommon_key' \(did you mean 'midi.common_key'\?\)$"
    ):
        Config().override(["midi.ommon_key=true"])
    with pytest.raises(
        ConfigError, match=r"'train.zzz' \(known: steps, batch_size, .*, threads\)$"
    ):
        Config().override(["train.zzz=1"])


def test_config_error_is_a_muse_error():
    with pytest.raises(MuseError):
        Config().override(["train.steps=1.5"])


@pytest.mark.parametrize(
    "text, named",
    [
        ("[train]\nsteps = 1.5\n", "train.steps"),
        ("[train]\nstepz = 1\n", "train.stepz"),
        ("[trian]\nsteps = 1\n", "trian"),
        ("train = 5\n", "train"),  # a section must be a table
        ('[midi]\nprograms = ["organ"]\n', "midi.programs"),
        ("[audio]\nfmax = -inf\n", "audio.fmax"),
    ],
)
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
        data=DataConfig(
            source='C:\\music\\"best" songs\n\ttabbed\x01\x7f ünïcödé 🎵', valid_fraction=0.25
        ),
        midi=MidiConfig(
            track_names=("Lead", 'Say "hi"'), programs=(0, 127), drum_tracks=(1,), tempo=1e-05
        ),
    ).override(["train.lr=3e-4", "train.ema=0.999"])
    text = to_toml(config)
    assert Config.from_dict(tomllib.loads(text)) == config
    path = write(tmp_path, text)
    assert load_config(path) == config


def test_to_toml_has_one_table_per_section():
    tables = tomllib.loads(to_toml(Config()))
    # the core's sections first, then the modalities' and families' by name, however imported
    assert list(tables) == [
        "data",
        "model",
        "train",
        "audio",
        "gan",
        "image",
        "midi",
        "text",
        "vae",
    ]
    assert tables["midi"]["drum_tracks"] == []
    assert tables["midi"]["gan"]["harmony_weight"] == 0.0  # the [midi.gan] sub-table
    assert "[midi.gan]" in to_toml(Config())
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


# sections as attributes


def test_sections_are_read_by_name_and_unknown_ones_are_config_errors():
    config = Config()
    assert config.section("midi") is config.midi
    with pytest.raises(ConfigError, match="unknown section 'mdi'.*midi"):
        config.section("mdi")
    with pytest.raises(AttributeError, match="mdi"):
        config.mdi  # noqa: B018
    with pytest.raises(ConfigError, match="unknown section 'mdi'"):
        Config(mdi=MidiConfig())


def test_a_config_is_frozen_and_replace_makes_a_copy():
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train = config.train
    changed = config.replace("train", steps=3)
    assert (changed.train.steps, config.train.steps) == (3, 2000)
    assert changed.midi == config.midi
    with pytest.raises(ConfigError, match="unknown section"):
        config.replace("trian", steps=3)


def test_a_config_survives_pickling():
    # DataLoader workers and spawned processes receive the config pickled
    config = Config().override(["midi.gan.harmony_weight=10", "train.steps=3"])
    assert pickle.loads(pickle.dumps(config)) == config


def test_nested_sub_table_from_a_file_and_from_set(tmp_path):
    path = write(
        tmp_path, "[midi]\nwindow_bars = 2\n[midi.gan]\nharmony_weight = 10\ncritic_chroma = true\n"
    )
    config = load_config(path, ["midi.gan.rhythm_weight=2"])
    assert config.midi.window_bars == 2
    assert config.midi.gan.harmony_weight == 10.0 and config.midi.gan.critic_chroma
    assert config.midi.gan.rhythm_weight == 2.0
    assert config.midi.gan.activity_weight == 0.0  # untouched keys keep their defaults


@pytest.mark.parametrize(
    "assignment, named",
    [
        ("midi.gan.harmony_weight=loud", "midi.gan.harmony_weight"),
        ("midi.gan.tempo=3", "midi.gan.tempo"),
        ("midi.tempo.x=3", "tempo"),  # not a table
    ],
)
def test_bad_sub_table_overrides_name_the_dotted_key(assignment, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        Config().override([assignment])


# keys that moved to the modality's section are still read under their old names

OLD_NAMES = """
[data]
source = "bach"
window_bars = 2
transpose = 0
common_key = true

[gan]
critic_chroma = true
activity_weight = 2.0
harmony_weight = 10.0
rhythm_weight = 2.0
voice_ranges = true
loss = "hinge"
"""


def test_a_file_with_the_old_names_reads_as_the_new_ones(tmp_path):
    config = load_config(write(tmp_path, OLD_NAMES))
    assert (config.midi.window_bars, config.midi.transpose, config.midi.common_key) == (2, 0, True)
    assert config.midi.gan == dataclasses.replace(
        MidiConfig().gan,
        critic_chroma=True,
        activity_weight=2.0,
        harmony_weight=10.0,
        rhythm_weight=2.0,
        voice_ranges=True,
    )
    # the keys that stayed are kept
    assert config.gan.loss == "hinge" and config.data.source == "bach"
    # and it is written back under the new names only
    written = tomllib.loads(to_toml(config))
    assert "window_bars" not in written["data"] and "harmony_weight" not in written["gan"]
    assert load_config(write(tmp_path, to_toml(config), "new.toml")) == config


@pytest.mark.parametrize(
    "old, new, value",
    [
        ("data.window_bars=2", "midi.window_bars=2", 2),
        ("data.transpose=0", "midi.transpose=0", 0),
        ("data.common_key=true", "midi.common_key=true", True),
        ("gan.harmony_weight=10", "midi.gan.harmony_weight=10", 10.0),
        ("gan.voice_ranges=true", "midi.gan.voice_ranges=true", True),
    ],
)
def test_set_with_an_old_name_sets_the_new_key(old, new, value):
    assert Config().override([old]) == Config().override([new])
    assert Config().override([old]) != Config()


def test_where_both_names_are_given_the_new_one_wins(tmp_path):
    sections = {"data": {"window_bars": 2}, "midi": {"window_bars": 3}}
    assert Config.from_dict(sections).midi.window_bars == 3
    path = write(tmp_path, "[data]\ntranspose = 1\n[midi]\ntranspose = 5\n")
    assert load_config(path).midi.transpose == 5


def test_an_unknown_key_in_an_old_section_is_still_an_error():
    # only the declared moves are read; a genuinely unknown data key is still an error
    with pytest.raises(ConfigError, match="data.tempo"):
        Config().override(["data.tempo=3"])


# a table whose keys the user names: midi.class_pulls


def test_class_pulls_from_a_file_from_set_and_back_through_toml(tmp_path):
    path = write(
        tmp_path, '[midi.class_pulls."6 voices"]\nrest_hold = 1\n[midi.class_pulls."6/8"]\n'
    )
    sets = ["midi.class_pulls.4 voices.note_hold=-0.25", 'midi.class_pulls."5 voices".rest_hold=2']
    config = load_config(path, sets)  # a key quoted as errors name it, or bare
    assert config.midi.class_pulls == {
        "6 voices": {"rest_hold": 1.0},  # an int read as the float the pull is
        "6/8": {},
        "4 voices": {"note_hold": -0.25},
        "5 voices": {"rest_hold": 2.0},
    }
    text = to_toml(config)
    assert '[midi.class_pulls."6 voices"]' in text  # a key with a space is quoted
    assert load_config(write(tmp_path, text)) == config


@pytest.mark.parametrize(
    "assignment, named",
    [
        (
            "midi.class_pulls.6 voices.rest_holds=1",
            r'midi\.class_pulls\."6 voices"\.rest_holds: not a pull',
        ),
        (
            "midi.class_pulls.6 voices.rest_hold=31",
            r'class_pulls\."6 voices"\.rest_hold: must be from -30',
        ),
        (
            "midi.class_pulls.3/4.voice_span=2.5",
            r"class_pulls\.\"3/4\"\.voice_span: must be a whole",
        ),
        ("midi.class_pulls.3/4=1", r"midi\.class_pulls\.\"3/4\": expected a table, got int"),
        (
            "midi.class_pulls.3/4.rest_hold=loud",
            r"midi\.class_pulls\.\"3/4\"\.rest_hold: expected float, got str",
        ),
    ],
)
def test_bad_class_pulls_name_the_key(assignment, named):
    with pytest.raises(ConfigError, match=named):
        build_adapter(load_config(None, [assignment]))  # the pulls' ranges are the midi section's
