"""Checkpoints of format 1, written by muse_gan before modalities owned their settings
(tests/fixtures/format1): they load, compose as their format-2 copies do, and a training run
saved in format 1 resumes, as its format-2 copy does. Reading their headers and weight names:
tests/unit/test_checkpoint.py."""

import shutil
from pathlib import Path

import pytest
import torch

from muse_gan.assembly import load, read_config, upgrade
from muse_gan.core.checkpoint import FORMAT, load_checkpoint, read_header, save_checkpoint
from muse_gan.core.config import to_toml

from ..unit.test_checkpoint import FORMAT1
from ..unit.test_cli import muse


def resaved(path: Path, folder: Path) -> Path:
    """``path`` written again as the current format holds it: upgraded header and weights."""
    tensors, header = upgrade(path, *load_checkpoint(path))
    copy = folder / f"{path.stem}-format2.safetensors"
    save_checkpoint(
        copy,
        tensors,
        {key: value for key, value in header.items() if key not in ("format", "version")},
    )
    return copy


@pytest.mark.parametrize("name", ["gan-terms", "gan-terms-latest", "rnn-common-key"])
def test_a_format_1_model_composes_as_its_format_2_copy(name, tmp_path):
    old = FORMAT1 / f"{name}.safetensors"
    copy = resaved(old, tmp_path)
    assert read_header(copy)["format"] == FORMAT == 2
    first, second = load(old), load(copy)
    assert first.adapter.settings == second.adapter.settings and first.config == second.config
    assert first.adapter.settings.common_key  # both were trained in one key
    # a GAN trained two steps thresholds to silence: its notes are drawn from its probabilities
    decode = "bernoulli" if first.config.model.family == "gan" else None
    pieces = [model.compose(bars=2, seed=1, decode=decode) for model in (first, second)]
    assert torch.equal(pieces[0].roll, pieces[1].roll) and pieces[0].roll.any()
    assert pieces[0].file_bytes(".mid") == pieces[1].file_bytes(".mid")
    # and from a primer, moved to the model's key and back
    primed = [
        model.compose(bars=2, seed=2, primer=pieces[0], decode=decode).roll
        for model in (first, second)
    ]
    assert torch.equal(*primed)


def test_a_format_1_gan_keeps_its_piano_roll_terms():
    # the voice ranges' mask and the width bias were renamed: their weights must land in the new places
    model = load(FORMAT1 / "gan-terms.safetensors")
    state = model.objective.state_dict()
    tensors, _ = load_checkpoint(FORMAT1 / "gan-terms.safetensors")
    assert torch.equal(state["generator.output_filter.heard"], tensors["model.generator.heard"])
    assert torch.equal(state["generator.width_bias"], tensors["model.generator.pitch_bias"])
    # the chroma critic stream is built
    assert any(name.startswith("critic.chroma.") for name in state)


def run_folder(checkpoint: Path, run: Path) -> Path:
    """A run folder as training leaves it, holding ``checkpoint`` as its latest."""
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(checkpoint, run / "checkpoints" / "latest.safetensors")
    (run / "config.toml").write_text(to_toml(read_config(checkpoint)))
    return run


def test_a_format_1_training_run_resumes_as_its_format_2_copy(tmp_path):
    old = FORMAT1 / "gan-terms-latest.safetensors"
    runs = [run_folder(old, tmp_path / "old"), run_folder(resaved(old, tmp_path), tmp_path / "new")]
    for run in runs:
        result = muse("train", "--resume", run, "--steps", 4, "--quiet")
        assert result.exit_code == 0, result.output
    (first, first_header), (second, second_header) = (
        load_checkpoint(run / "checkpoints" / "latest.safetensors") for run in runs
    )
    assert first_header["step"] == second_header["step"] == 4
    assert first_header["format"] == 2 and first_header["adapter"]["gan"]["harmony_weight"] == 10.0
    assert first.keys() == second.keys() and "model.generator.width_bias" in first
    assert all(torch.equal(first[name], second[name]) for name in first)
    # and the resumed runs trained on from the saved weights
    saved, _ = upgrade(old, *load_checkpoint(old))
    assert not torch.equal(first["model.generator.width_bias"], saved["model.generator.width_bias"])
