"""Autoregressive RNN over time: each frame predicted from the frames before it."""

from __future__ import annotations

import torch

from ..models.heads import HEADS
from ..models.rnn import FrameRNN
from . import OBJECTIVES
from .base import Objective, Phase


@OBJECTIVES.register("rnn")
class RNNObjective(Objective):
    family = "rnn"

    def __init__(self, spec, full_config):
        super().__init__()
        config = full_config.model
        self.spec = spec
        self.network = FrameRNN(spec.frame_size, spec.steps_per_bar, config.cell, config.hidden,
                                config.layers, config.dropout)
        self.head = HEADS.get(config.head)(config.hidden, spec.frame_size, config.head_hidden)

    def parameter_groups(self):
        return {"model": list(self.parameters())}

    def phases(self, batch):
        return [Phase("model", lambda: self._loss(batch))]

    def _loss(self, batch):
        nll = self.frame_nll(batch).mean()
        return nll, {"loss": nll.item()}

    @torch.no_grad()
    def evaluate(self, batch):
        return {"loss": self.frame_nll(batch).mean().item()}

    def frame_nll(self, batch: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of every frame, ``(batch, steps)``, in nats summed over cells."""
        frames = sequence_view(batch)
        contexts, _ = self.network(frames)
        return self.head.nll(contexts, frames)

    @torch.no_grad()
    def sample(self, count, steps, temperature, generator, primer=None):
        frames = torch.zeros(count, steps, self.spec.frame_size)
        primed = 0 if primer is None else min(primer.shape[1], steps)
        if primed:
            frames[:, :primed] = sequence_view(primer[None, :, :primed]).expand(count, -1, -1)
            contexts, state = self.network(frames[:, :primed])
            context, state = self.network.advance(frames[:, primed - 1], primed, state)
        else:
            context, state = self.network.begin(count)
        for step in range(primed, steps):
            frames[:, step] = self.head.sample(context, temperature, generator)
            if step + 1 < steps:
                context, state = self.network.advance(frames[:, step], step + 1, state)
        return frames.reshape(count, steps, self.spec.channels, self.spec.width).transpose(1, 2)


def sequence_view(batch: torch.Tensor) -> torch.Tensor:
    """(batch, channels, steps, width) → (batch, steps, channels * width): cell = channel * width + w."""
    return batch.transpose(1, 2).flatten(2)
