"""A convolutional network that fills the masked cells of a piano roll given the rest (Coconet).

Each track sounds one of ``choices`` at every step (its pitches, then "silent"). The network
reads, for every step, each track's known choice one-hot (all zero where masked) and the mask,
and gives, for every track and step, logits over that track's choices.

Unlike Coconet's 2-D convolutions over (time, pitch), the pitches of all tracks are the channels
of 1-D convolutions over time: on the CPUs this was trained on, a 3x3 layer sliding along pitch
cost about ten times a dense layer over all pitches at each step. Time is convolved with dilated
taps, so a few layers see bars on either side.
"""

from __future__ import annotations

import torch
from torch import nn

# how far apart in time the taps of successive layers are: the receptive field grows
# geometrically (a cadence is bars away) at the cost of a constant number of layers
DILATIONS = (1, 2, 4, 8)


class MaskedRollNet(nn.Module):
    """``layers`` residual convolutions (3 taps, ``width`` channels) over time; a learned
    position-in-bar vector (``steps_per_bar``) is added after the first layer, so every layer
    knows the strong beats.

    Tensors: ``known`` ``(batch, tracks, steps, choices)``, ``mask`` ``(batch, tracks, steps)``,
    logits ``(batch, tracks, steps, choices)``.
    """

    def __init__(
        self,
        tracks: int,
        choices: int,
        layers: int,
        width: int,
        steps_per_bar: int,
        dropout: float,
    ):
        super().__init__()
        self.tracks, self.choices, self.steps_per_bar = tracks, choices, steps_per_bar
        self.first = nn.Conv1d(tracks * (choices + 1), width, 3, padding=1)
        self.position = nn.Embedding(steps_per_bar, width)
        self.blocks = nn.ModuleList(
            _Residual(width, DILATIONS[number % len(DILATIONS)], dropout)
            for number in range(layers)
        )
        self.out = nn.Sequential(
            nn.BatchNorm1d(width), nn.ReLU(), nn.Conv1d(width, tracks * choices, 1)
        )

    @property
    def reach(self) -> int:
        """How many steps on either side of a step its logits depend on."""
        return 1 + sum(block.conv.dilation[0] for block in self.blocks)

    def forward(self, known: torch.Tensor, mask: torch.Tensor, first_step: int = 0) -> torch.Tensor:
        batch, tracks, steps, choices = known.shape
        inputs = torch.cat([known, mask[..., None].to(known.dtype)], dim=-1)  # (b, t, s, c + 1)
        features = self.first(inputs.permute(0, 1, 3, 2).reshape(batch, -1, steps))
        in_bar = (
            torch.arange(first_step, first_step + steps, device=known.device) % self.steps_per_bar
        )
        features = features + self.position(in_bar).T[None]
        for block in self.blocks:
            features = block(features)
        logits = self.out(features).reshape(batch, tracks, choices, steps)
        return logits.permute(0, 1, 3, 2)


class _Residual(nn.Module):
    def __init__(self, width: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(width)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features + self.conv(self.dropout(torch.relu(self.norm(features))))
