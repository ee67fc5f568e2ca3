"""Data-parallel settings checked before any process trains. Training in two processes through
torchrun: tests/e2e/test_distributed.py."""

import pytest
import torch

from muse_gan.core import distributed
from muse_gan.errors import MuseError

from ..conftest import TINY, set_options
from .test_cli import assert_one_clear_line, muse


def train_options(run) -> list[str]:
    return [
        "--out",
        str(run),
        "--quiet",
        *set_options(TINY + ["train.batch_size=8"]),
    ]


def test_a_global_batch_that_does_not_split_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    assert_one_clear_line(
        muse("train", *train_options(tmp_path / "run")), "train.batch_size", "3 processes"
    )
    assert_one_clear_line(muse("train", "--quiet"), "--out", "several processes")
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_one_process_is_the_whole_world(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.launched_world() == 1
    distributed.check_batch(7, 1)  # any batch splits over one process
    with pytest.raises(
        MuseError, match="train.batch_size: 7 does not split evenly over 2 processes"
    ):
        distributed.check_batch(7, 2)


def test_each_process_takes_its_own_contiguous_share_of_the_global_batch():
    batch, labels = torch.arange(8).reshape(8, 1), torch.arange(8) * 10
    alone, alone_labels = distributed.shard(distributed.SINGLE, batch, labels)
    # alone, a process keeps it all
    assert torch.equal(alone, batch) and torch.equal(alone_labels, labels)
    second, second_labels = distributed.shard(
        distributed.Group(rank=1, world=2, local_rank=1), batch, labels
    )
    assert second.flatten().tolist() == [4, 5, 6, 7] and second_labels.tolist() == [40, 50, 60, 70]
    assert (
        distributed.shard(distributed.Group(rank=0, world=4, local_rank=0), batch, None)[1] is None
    )
