"""How much memory training will take, estimated before any of it is allocated.

A run whose settings ask for more memory than the machine has would otherwise fail minutes
in, with a traceback from deep inside torch (or take the machine down with it). The estimate
counts what training certainly holds: the weights, their gradients and AdamW's two moments,
the weights' moving average, one batch and the samples written during training. Activations
come on top, so it is a floor: a run it refuses could never have fit; one it lets through
may still need more.

The objective to measure is built on the meta device (shapes, no storage), so even a model
of a trillion weights is measured in a millisecond.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

FLOAT_BYTES = 4  # batches and samples are float32, whatever the weights' precision
ADAM_MOMENTS = 2  # AdamW keeps two running moments per weight


@dataclass(frozen=True)
class Estimate:
    """Bytes training holds at least: the model's part (weights, gradients, optimizer state,
    moving average) and the data's (one batch, the samples written during training)."""

    model: int
    data: int

    @property
    def total(self) -> int:
        return self.model + self.data


def training_bytes(objective, adapter, settings) -> Estimate:
    """What training ``objective`` (built on the meta device) on ``adapter``'s data with the
    ``[train]`` ``settings`` holds at least."""
    weights = sum(p.numel() * p.element_size() for p in objective.parameters())
    buffers = sum(b.numel() * b.element_size() for b in objective.buffers())
    copies = 2 + ADAM_MOMENTS  # the weights and their gradients, then the moments
    model = weights * copies + buffers
    if settings.ema:
        model += weights + buffers
    spec = adapter.spec
    batch = settings.batch_size * spec.frame_size * spec.segment * FLOAT_BYTES
    samples = 0
    if settings.sample_every:
        steps = adapter.preview_steps(settings.sample_bars)
        samples = adapter.preview_count * spec.frame_size * steps * FLOAT_BYTES
    return Estimate(model, batch + samples)


def available_bytes(device: torch.device) -> int | None:
    """Memory free for this process on ``device``: on a GPU what CUDA reports free, on the CPU
    what the kernel calls available (within a container's limit); None where unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    free = [value for value in (_meminfo_available(), _cgroup_room()) if value is not None]
    return min(free) if free else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_room() -> int | None:
    """What a cgroup (v2) memory limit leaves this process's group, if it has one."""
    folder = Path("/sys/fs/cgroup")
    try:
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((folder / "memory.current").read_text())
    except (OSError, ValueError):
        return None


def in_words(count: int) -> str:
    """Bytes as a person reads them: 3.2 GB, 740 MB."""
    if count >= 10**9:
        return f"{count / 10**9:,.{0 if count >= 10**11 else 1}f} GB"
    return f"{max(count, 10**6) / 10**6:,.0f} MB"
