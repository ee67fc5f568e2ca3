"""Paths through a latent space, shared by the families that have one (GAN noise, VAE codes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

WALK_SEGMENTS = 4  # segments from one random anchor to the next: neighbours move a quarter of the way


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
    start_weight = torch.where(parallel, 1 - fraction, torch.sin((1 - fraction) * angle) / safe_sine)
    end_weight = torch.where(parallel, fraction, torch.sin(fraction * angle) / safe_sine)
    return start_weight * start + end_weight * end
