"""Data-parallel training across the processes ``torchrun`` starts (one per GPU, or several
CPU processes), on one machine or many.

``torchrun`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
``join`` reads them and joins the process group (NCCL on CUDA, gloo on CPU). Every process
draws the same global batch from the same seeded sampler and keeps its own share (``shard``);
after each backward, the gradients are averaged over the processes with one ``all_reduce``
(``average_gradients``), so every process takes the same optimizer step on the same weights.

This is DistributedDataParallel's arithmetic without its module wrapper: the wrapper syncs in
hooks on one forward and one backward per step, which the objectives' several phases per step
(a GAN's critic and generator steps) and WGAN-GP's double backward through the critic do not
fit. The cost is that communication does not overlap the backward pass.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..errors import ConfigError


@dataclass(frozen=True)
class Group:
    """Where this process stands among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that logs, validates, samples and writes checkpoints."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world > 1


SINGLE = Group()


def launched_world() -> int:
    """How many processes torchrun started for this run (1 when it did not)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched_local_world() -> int:
    """How many of the run's processes torchrun started on this machine (1 when it did not)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def launched_rank() -> int:
    """This process's rank as torchrun set it (0 when it did not), before the group is joined."""
    return int(os.environ.get("RANK", "0"))


def join(device_type: str) -> Group:
    """This process's place in the run ``torchrun`` started, joining its process group; the
    single-process group when not started by torchrun."""
    if launched_world() <= 1:
        return SINGLE
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)  # NCCL talks to the GPU current when the group forms
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Group(dist.get_rank(), dist.get_world_size(), local_rank)


def device_for(name: str, group: Group) -> str:
    """Each process on its own GPU: ``cuda`` means ``cuda:LOCAL_RANK`` in a parallel run."""
    return f"cuda:{group.local_rank}" if group.parallel and name == "cuda" else name


def check_batch(batch_size: int, processes: int) -> None:
    if batch_size % processes:
        raise ConfigError(
            f"train.batch_size: {batch_size} does not split evenly over {processes} processes "
            f"(it is the global batch; each process takes batch_size / processes)"
        )


def shard(group: Group, batch: torch.Tensor, *rows: torch.Tensor | None) -> tuple:
    """This process's contiguous share of a global batch (and of its labels and spans, where
    not None)."""
    if not group.parallel:
        return (batch, *rows)
    size = len(batch) // group.world
    part = slice(group.rank * size, (group.rank + 1) * size)
    return tuple(None if row is None else row[part] for row in (batch, *rows))


def average_gradients(parameters, group: Group, loss: torch.Tensor) -> torch.Tensor:
    """Every process's gradients replaced by their mean over the processes, in one all_reduce
    that also carries the loss; returns the mean loss (NaN or infinite if any process's is)."""
    if not group.parallel:
        return loss
    import torch.distributed as dist

    gradients = [parameter.grad for parameter in parameters]
    flat = torch.cat(
        [gradient.reshape(-1) for gradient in gradients] + [loss.reshape(1).to(torch.float32)]
    )
    dist.all_reduce(flat)
    flat /= group.world
    for gradient, averaged in zip(
        gradients, flat[:-1].split([gradient.numel() for gradient in gradients])
    ):
        gradient.copy_(averaged.view_as(gradient))
    return flat[-1]


def average_scalars(values: dict[str, float], group: Group) -> dict[str, float]:
    """Logged numbers as means over the processes: the loss of the whole global batch."""
    if not group.parallel or not values:
        return values
    import torch.distributed as dist

    flat = torch.tensor(list(values.values()), dtype=torch.float64)
    dist.all_reduce(flat)
    return dict(zip(values, (flat / group.world).tolist()))


def broadcast_state(module: torch.nn.Module, group: Group) -> None:
    """Rank 0's parameters and buffers in every process (as DistributedDataParallel starts)."""
    if not group.parallel:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


@contextmanager
def main_first(group: Group):
    """The main process runs the body first (preparing and caching data, say), the others
    after it, when they find its results: the work is done once and reported once."""
    import torch.distributed as dist

    if group.parallel and not group.main:
        dist.barrier()
    yield
    if group.parallel and group.main:
        dist.barrier()


def seed_process(seed: int, step: int, group: Group) -> None:
    """In a parallel run, each process's own random numbers (a GAN's noise, dropout) from the
    seed, the step and its rank: the processes must not draw the same noise for their halves
    of a batch, and a resumed run must draw what it would have. A single process keeps the
    one stream its checkpoints save and restore."""
    if group.parallel:
        torch.manual_seed(hash((seed, step, group.rank)) % 2**63)


def leave(group: Group) -> None:
    """Leaves the process group once every process is done with it (rank 0 writes its last
    files after the others' last collective; none tears the group down under another)."""
    if group.parallel:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
