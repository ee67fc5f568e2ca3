"""Paths through a latent space, shared by the families that have one (GAN noise, VAE codes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# segments from one random anchor to the next: neighbours move a quarter of the way
WALK_SEGMENTS = 4


def slerp(start: torch.Tensor, end: torch.Tensor, fraction) -> torch.Tensor:
    """Spherical interpolation along the last axis, from ``start`` (fraction 0) to ``end`` (1).

    ``fraction`` is a number or a tensor ``(n,)`` running over the first axis. Unlike a straight
    line, the arc keeps Gaussian vectors at the norm the networks were trained on.
    """
    fraction = torch.as_tensor(fraction, dtype=start.dtype).view(-1, *[1] * (start.dim() - 1))
    angle = torch.acos(F.cosine_similarity(start, end, dim=-1).clamp(-1, 1))[..., None]
    sine = torch.sin(angle)
    parallel = sine < 1e-6  # the arc is a line there; its formula would divide by zero
    safe_sine = torch.where(parallel, torch.ones_like(sine), sine)
    start_weight = torch.where(
        parallel, 1 - fraction, torch.sin((1 - fraction) * angle) / safe_sine
    )
    end_weight = torch.where(parallel, fraction, torch.sin(fraction * angle) / safe_sine)
    return start_weight * start + end_weight * end


def closed_walk(draw, frames: int, anchors: int = 4) -> tuple[torch.Tensor, ...]:
    """``frames`` points on a loop through ``anchors`` random points (each a tuple of tensors
    from ``draw()``), spherically interpolated, the last leading back into the first: for
    animations that repeat without a jump. Each returned tensor is ``(frames, ...)``."""
    points = [draw() for _ in range(anchors)]
    position = torch.arange(frames) * anchors / frames
    first = position.floor().long()
    stacked = [torch.stack(parts) for parts in zip(*points)]
    return tuple(
        slerp(parts[first], parts[(first + 1) % anchors], position - first) for parts in stacked
    )


def open_walk(draw, windows: int) -> tuple[torch.Tensor, ...]:
    """``windows`` points on a path that moves a ``1 / WALK_SEGMENTS`` of the way between
    random anchors (tuples of tensors from ``draw()``, drawn in order) per window. Anchors are
    drawn one by one, so a longer walk of the same seed starts like a shorter one."""
    anchors = [draw() for _ in range((windows - 1) // WALK_SEGMENTS + 2)]
    position = torch.arange(windows) / WALK_SEGMENTS
    first = position.floor().long()
    stacked = [torch.stack(parts) for parts in zip(*anchors)]
    return tuple(slerp(parts[first], parts[first + 1], position - first) for parts in stacked)
