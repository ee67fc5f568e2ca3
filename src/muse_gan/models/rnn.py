"""A recurrent network over frames: the context for predicting each next frame."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError


class FrameRNN(nn.Module):
    """Reads frames ``(batch, time, frame_size)`` and returns, for every step t, a context
    vector ``(batch, time, hidden)`` that has seen frames 0..t-1 and knows where step t falls
    in the bar. Step 0 sees a learned start vector instead of a frame."""

    def __init__(self, frame_size: int, steps_per_bar: int, cell: str, hidden: int, layers: int, dropout: float):
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ConfigError(f"model.cell: unknown cell '{cell}' (known: gru, lstm)")
        self.steps_per_bar = steps_per_bar
        self.frame_in = nn.Linear(frame_size, hidden)
        self.position = nn.Embedding(steps_per_bar, hidden)
        self.start = nn.Parameter(torch.zeros(hidden))
        recurrent = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = recurrent(hidden, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)

    def forward(self, frames: torch.Tensor, first_step: int = 0, state=None, starting: bool = True):
        """Contexts for predicting ``frames`` (teacher forcing) and the state after the last one.

        With ``starting``, ``frames[:, 0]`` is predicted from the start vector; otherwise the
        caller continues from ``state`` and ``frames`` are the inputs for the next steps.
        """
        inputs = self.frame_in(frames)
        if starting:
            start = self.start.expand(len(frames), 1, -1)
            inputs = torch.cat([start, inputs[:, :-1]], dim=1)
        steps = torch.arange(first_step, first_step + frames.shape[1], device=frames.device)
        inputs = inputs + self.position(steps % self.steps_per_bar)
        contexts, state = self.rnn(self.dropout(inputs), state)
        return self.dropout(contexts), state

    def begin(self, batch: int, first_step: int = 0):
        """Context for step ``first_step`` of a piece with nothing before it, and the state."""
        inputs = self.start.expand(batch, 1, -1) + self.position.weight[first_step % self.steps_per_bar]
        contexts, state = self.rnn(inputs)
        return contexts[:, 0], state

    def advance(self, frame: torch.Tensor, step: int, state):
        """Feed the frame just chosen at ``step - 1``; context for ``step``."""
        inputs = self.frame_in(frame) + self.position.weight[step % self.steps_per_bar]
        contexts, state = self.rnn(inputs[:, None], state)
        return contexts[:, 0], state
