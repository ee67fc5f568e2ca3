"""The VAE's encoder: a whole segment of frames → a Gaussian over its latent code.

The decoder is a ``FrameRNN`` with the code as its per-sequence condition (see ``objectives/vae.py``).
"""

from __future__ import annotations

import torch
from torch import nn


class SegmentEncoder(nn.Module):
    """Reads a segment's frames ``(batch, steps, frame_size)`` forwards and backwards and
    returns the mean and log-variance of q(z | segment), each ``(batch, latent)``."""

    def __init__(
        self, frame_size: int, cell: str, hidden: int, layers: int, dropout: float, latent: int
    ):
        super().__init__()
        recurrent = nn.LSTM if cell == "lstm" else nn.GRU
        self.frame_in = nn.Linear(frame_size, hidden)
        self.rnn = recurrent(
            hidden,
            hidden,
            layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.posterior = nn.Linear(2 * hidden, 2 * latent)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, state = self.rnn(self.frame_in(frames))
        final = state[0] if isinstance(state, tuple) else state  # an LSTM's (h, c): its h
        # the top layer, forwards then backwards
        both_ways = torch.cat([final[-2], final[-1]], dim=-1)
        mean, log_variance = self.posterior(both_ways).float().chunk(2, dim=-1)
        return mean, log_variance
