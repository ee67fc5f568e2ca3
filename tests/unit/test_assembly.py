"""Loading models from files: a checkpoint's header gets the range checks a config gets, on
every path that loads one (issue 25, cases 2 and 6). Each number in a real header is doctored
in turn; the file must then be refused in one line, or load and make something promptly."""

from pathlib import Path

import pytest

from muse_gan.api import load
from muse_gan.assembly import read_config
from muse_gan.core.adapter import Tokens
from muse_gan.errors import MuseError
from muse_gan.pretrained import bundled_path
from muse_gan.timeouts import time_limit

from ..conftest import set_options
from ..fuzz_inputs import rewrite_info, tiny_checkpoint
from .test_cli import assert_one_clear_line, muse

MODALITIES = ("midi", "image", "audio", "text")
HUGE_INT = 2**63  # past every whole number's upper bound, the seed's (2**63 - 1) included
HUGE_FLOAT = 1e300  # finite, and past every float's upper bound


class Slow(BaseException):
    pass


def numbers(value, path=()):
    """(path, number) of every int and float nested in a JSON value (bools are not numbers)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from numbers(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from numbers(inner, (*path, index))
    elif type(value) in (int, float):
        yield path, value


def doctored(data: bytes, path: tuple, value) -> bytes:
    def change(info):
        container = info
        for key in path[:-1]:
            container = container[key]
        container[path[-1]] = value

    return rewrite_info(data, change)


def header_of(data: bytes) -> dict:
    found = {}
    rewrite_info(data, found.update)
    return found


def make_something(model) -> None:
    """What a user does with a loaded model, bounded in time: a bar of music, or one item."""
    if model.adapter.modality == "midi":
        model.compose(bars=1, seed=0).file_bytes(".mid")
        return
    length = 8 if isinstance(model.adapter, Tokens) else None
    model.sample(1, seed=0, length=length).file_bytes(model.adapter.formats[0])


@pytest.fixture(scope="module")
def model_files():
    return {modality: tiny_checkpoint(modality) for modality in MODALITIES}


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_number_in_the_config_and_settings_has_an_upper_bound(
    tmp_path, model_files, modality
):
    """Each number under the header's config and adapter settings, made huge, is refused in one
    line naming the file (the config is the same for every modality: doctored once, for midi)."""
    data = model_files[modality]
    header = header_of(data)
    places = [("adapter",)] + ([("config",)] if modality == "midi" else [])
    doctored_paths = [(*place, *path) for place in places for path, _ in numbers(header[place[0]])]
    assert len(doctored_paths) >= (60 if modality == "midi" else 2)
    for path in doctored_paths:
        file = tmp_path / "model.safetensors"
        value = HUGE_INT if type(header_value(header, path)) is int else HUGE_FLOAT
        file.write_bytes(doctored(data, path, value))
        with pytest.raises(MuseError) as refused:
            load(file)
        message = str(refused.value)
        assert str(file) in message and "\n" not in message, (path, message)


def header_value(header, path):
    for key in path:
        header = header[key]
    return header


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize("value", [-1, 0, HUGE_INT])
def test_any_number_doctored_is_refused_or_still_makes_something_promptly(
    tmp_path, model_files, modality, value
):
    data = model_files[modality]
    for path, original in numbers(header_of(data)):
        if type(original) is float:
            value = HUGE_FLOAT if value == HUGE_INT else float(value)
        file = tmp_path / "model.safetensors"
        file.write_bytes(doctored(data, path, value))
        try:
            model = load(file)
        except MuseError as error:
            assert "\n" not in str(error), (path, error)
            continue
        if path[0] != "config" or path[1] in ("model", "gan", "vae", modality):
            with time_limit(20, Slow):  # the sections a loaded model samples with
                make_something(model)


def test_a_sound_model_whose_header_asks_for_a_billion_griffin_lim_rounds_is_refused(tmp_path):
    """The issue's case: notes-gan with ``"griffin_lim": 1000000000`` was accepted, and
    `muse sample` never returned."""
    data = Path(bundled_path("notes-gan")).read_bytes()
    file = tmp_path / "notes.safetensors"
    file.write_bytes(rewrite_info(data, lambda info: info["adapter"].update(griffin_lim=10**9)))
    assert_one_clear_line(
        muse("sample", "--model", file, "-n", 1, "-o", tmp_path / "x.wav"),
        str(file),
        "audio.griffin_lim",
    )
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("field", ["step", "skipped", "valid_loss"])
def test_the_header_s_own_numbers_are_checked(tmp_path, model_files, field):
    file = tmp_path / "model.safetensors"
    file.write_bytes(rewrite_info(model_files["midi"], lambda info: info.update({field: "many"})))
    with pytest.raises(MuseError, match=field):
        load(file)


# issue 25, case 6: `muse train --init` of an oversized header gave an allocation traceback


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda config: config["model"].update(hidden=10**12), ["model.hidden"]),
        (lambda config: config["model"].update(hidden=500_000), ["do not fit"]),
        (lambda config: config["train"].update(batch_size=10**12), ["train.batch_size"]),
    ],
)
def test_an_oversized_header_is_one_line_on_every_path_that_loads_it(
    tmp_path, model_files, change, words
):
    file = tmp_path / "big.safetensors"
    file.write_bytes(rewrite_info(model_files["midi"], lambda info: change(info["config"])))
    refusals = [
        muse("compose", "--model", file, "-o", tmp_path / "a.mid"),
        muse("eval", "--model", file, "-n", 1),
        muse("train", "--init", file, "--out", tmp_path / "run", "--steps", 1),
        muse("train", "--init", file, "--out", tmp_path / "run", *set_options(["data.limit=1"])),
    ]
    for result in refusals:
        assert_one_clear_line(result, str(file), *words)
    assert not (tmp_path / "run").exists()


def test_read_config_checks_ranges_too(tmp_path, model_files):
    file = tmp_path / "model.safetensors"
    file.write_bytes(
        rewrite_info(model_files["text"], lambda info: info["config"]["text"].update(window=10**9))
    )
    with pytest.raises(MuseError, match="text.window"):
        read_config(file)
