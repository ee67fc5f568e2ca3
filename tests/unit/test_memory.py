"""Training's memory weighed before anything is allocated (core.memory, training.check_memory),
and every setting given an upper bound (issue 25, case 1)."""

import resource

import pytest
import torch

from muse_gan.assembly import build_adapter, build_objective, load_config, meta_objective
from muse_gan.core.memory import available_bytes, in_words, training_bytes

from ..conftest import set_options
from .test_cli import assert_one_clear_line, muse

SMALL = ["model.hidden=16", "model.head_hidden=16", "model.layers=1", "train.batch_size=4"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Each of these ran out of memory with a traceback, or allocated for minutes, before the issue.
@pytest.mark.parametrize(
    "settings, words",
    [
        (["train.batch_size=100000000"], ["train.batch_size", "1000000"]),
        (["model.hidden=1000000"], ["model.hidden = 1000000", "GB", "available"]),
        (["model.hidden=100000"], ["model.hidden = 100000", "GB", "available"]),
        (["model.layers=100000"], ["model.layers", "64"]),
        (['model.family="gan"', "model.latent=1000000000"], ["model.latent"]),
        (['model.family="gan"', "model.channels=1000000"], ["model.channels = 1000000", "GB"]),
        (["data.window_bars=100000"], ["midi.window_bars"]),
        (['data.modality="text"', "text.window=1000000000"], ["text.window"]),
        (["train.sample_bars=1000000", "train.sample_every=1"], ["train.sample_bars", "256"]),
        # within every range, and still far past this machine's memory: the estimate refuses it
        # (a MIDI model's tracks come from the data: weighed again once it is read, a few files)
        (
            ["train.batch_size=1000000", "data.limit=8"],
            ["train.batch_size = 1000000", "a batch", "available"],
        ),
        (['model.family="vae"', "model.hidden=200000"], ["model.hidden = 200000", "available"]),
    ],
)
def test_settings_past_any_memory_are_one_line_before_anything_is_allocated(
    tmp_path, settings, words
):
    before = peak_rss_mb()
    result = muse("train", "--out", tmp_path / "run", "--steps", 1, *set_options(settings))
    assert_one_clear_line(result, *words)
    assert peak_rss_mb() - before < 500
    assert not (tmp_path / "run").exists()


def test_the_estimate_counts_weights_gradients_both_moments_and_a_batch():
    config = load_config(None, SMALL)
    adapter = build_adapter(config)
    built = build_objective(adapter, config)
    weights = sum(p.numel() * 4 for p in built.parameters())
    buffers = sum(b.numel() * b.element_size() for b in built.buffers())
    estimate = training_bytes(meta_objective(adapter, config), adapter, config.train)
    assert estimate.model == 4 * weights + buffers
    spec = adapter.spec
    batch = config.train.batch_size * spec.channels * spec.segment * spec.width * 4
    assert estimate.data >= batch

    averaged = config.replace("train", ema=0.99)
    with_average = training_bytes(meta_objective(adapter, averaged), adapter, averaged.train)
    assert with_average.model == estimate.model + weights + buffers


def test_the_meta_device_measures_a_model_it_could_never_hold():
    config = load_config(None, ["model.hidden=1000000", "model.layers=64"])
    adapter = build_adapter(config)
    estimate = training_bytes(meta_objective(adapter, config), adapter, config.train)
    assert estimate.model > 10**15  # a petabyte, measured without a byte of it


def test_the_cpu_has_some_memory_available():
    free = available_bytes(torch.device("cpu"))
    assert free is None or free > 0


@pytest.mark.parametrize(
    "count, words", [(3 * 10**6, "3 MB"), (2_500_000_000, "2.5 GB"), (256 * 10**12, "256,000 GB")]
)
def test_bytes_in_words(count, words):
    assert in_words(count) == words
