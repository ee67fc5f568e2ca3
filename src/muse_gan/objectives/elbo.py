"""The parts of a VAE's loss that every VAE architecture shares."""

from __future__ import annotations

import torch


def annealed_beta(settings, trained_steps: int) -> float:
    """``vae.beta`` scaled by how far the linear warm-up over ``vae.beta_anneal_steps`` has come."""
    anneal = settings.beta_anneal_steps
    return settings.beta * (min(1.0, trained_steps / anneal) if anneal > 0 else 1.0)


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_variance)) || N(0, 1)) of every entry, in nats."""
    mean, log_variance = mean.float(), log_variance.float()
    return 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance)


def free_bits_kl(kl: torch.Tensor, free_bits: float) -> torch.Tensor:
    """The KL charged for a batch's per-dimension KLs ``(batch, latent)``: each dimension's
    batch mean, less the first ``free_bits`` nats of it (a dimension below them costs nothing)."""
    return (kl.mean(dim=0) - free_bits).clamp(min=0).sum()
