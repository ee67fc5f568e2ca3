"""A recurrent network over frames: the context for predicting each next frame.

The backbone is an LSTM or GRU (``model.cell``), or a causal Transformer (``"transformer"``):
self-attention over every frame before the step, with ALiBi biases (Press et al. 2022) for
where they lie, so pieces longer than the training windows read as the windows did.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

CELLS = ("gru", "lstm", "transformer")


class FrameRNN(nn.Module):
    """Reads frames ``(batch, time, frame_size)`` and returns, for every step t, a context
    vector ``(batch, time, hidden)`` that has seen frames 0..t-1 and knows where step t falls
    in the bar. Step 0 sees a learned start vector instead of a frame.

    With ``condition_size``, every method also takes a ``condition`` ``(batch, condition_size)``:
    one vector per sequence (a VAE's code) added, projected, to every step's input. With
    ``positions`` (more than ``steps_per_bar``), every method also takes ``periods`` ``(batch,)``:
    each sequence's own bar length (pieces in several meters), at most ``positions``.

    With ``bar_numbers`` N, every step's input also says which bar of the piece it is in: each
    of the first N bars by its own number, later bars by their place in a cycle of N. A window
    cut from the middle of a piece starts at its step there (``first_step``), so the network
    learns how pieces open (a tune's pickup bar) and where their phrases end, which a window
    read from the start vector alone cannot tell apart from the middle.
    """

    def __init__(
        self,
        frame_size: int,
        steps_per_bar: int,
        cell: str,
        hidden: int,
        layers: int,
        dropout: float,
        condition_size: int = 0,
        positions: int = 0,
        weight_drop: float = 0.0,
        bar_numbers: int = 0,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"model.cell: unknown cell '{cell}' (known: {', '.join(CELLS)})")
        self.steps_per_bar = steps_per_bar
        self.frame_in = nn.Linear(frame_size, hidden)
        self.position = nn.Embedding(max(steps_per_bar, positions), hidden)
        self.bar_numbers = bar_numbers
        self.bar = nn.Embedding(2 * bar_numbers, hidden) if bar_numbers else None
        self.start = nn.Parameter(torch.zeros(hidden))
        if cell == "transformer":
            self.rnn = CausalTransformer(hidden, layers, dropout)
        else:
            recurrent = nn.LSTM if cell == "lstm" else nn.GRU
            self.rnn = recurrent(
                hidden, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
            )
        self.dropout = nn.Dropout(dropout)
        self.weight_drop = weight_drop
        self.condition_in = nn.Linear(condition_size, hidden) if condition_size else None

    def forward(
        self,
        frames: torch.Tensor,
        first_step: int | torch.Tensor = 0,
        state=None,
        starting: bool = True,
        condition=None,
        periods=None,
    ):
        """Contexts for predicting ``frames`` (teacher forcing) and the state after the last one.

        With ``starting``, ``frames[:, 0]`` is predicted from the start vector; otherwise the
        caller continues from ``state`` and ``frames`` are the inputs for the next steps.
        ``first_step`` is the step of the piece ``frames[:, 0]`` is at: one for all, or each
        sequence's own ``(batch,)`` (windows cut from pieces).
        """
        inputs = self.frame_in(frames)
        if starting:
            start = self.start.expand(len(frames), 1, -1)
            inputs = torch.cat([start, inputs[:, :-1]], dim=1)
        # (time,) from one first step, (batch, time) from each sequence's own
        first = torch.as_tensor(first_step, device=frames.device)[..., None]
        steps = first + torch.arange(frames.shape[1], device=frames.device)
        inputs = self._conditioned(inputs + self._placed(steps, periods), condition)
        contexts, state = self._recurrent(self.dropout(inputs), state)
        return self.dropout(contexts), state

    def _recurrent(self, inputs: torch.Tensor, state):
        """The backbone over ``inputs``; while training with ``weight_drop``, with its recurrent
        weights under a fresh DropConnect mask, the same at every step of the window: dropout
        between layers leaves the state's own path, where a small corpus is learnt by heart,
        untouched (Merity et al. 2018)."""
        if not (self.training and self.weight_drop):
            return self.rnn(inputs, state)
        dropped = {
            name: F.dropout(weight, self.weight_drop)
            for name, weight in self.rnn.named_parameters()
            if name.startswith("weight_hh")
        }
        return torch.func.functional_call(self.rnn, dropped, (inputs, state))

    def begin(self, batch: int, first_step: int = 0, condition=None, periods=None):
        """Context for step ``first_step`` of a piece with nothing before it, and the state."""
        step = torch.tensor([first_step], device=self.start.device)
        inputs = self.start.expand(batch, 1, -1) + self._position_at(step, periods)
        return self._one_step(self._conditioned(inputs, condition), None)

    def advance(self, frame: torch.Tensor, step: int, state, condition=None, periods=None):
        """Feed the frame just chosen at ``step - 1``; context for ``step``."""
        position = self._position_at(torch.tensor([step], device=frame.device), periods)
        inputs = self.frame_in(frame)[:, None] + position
        return self._one_step(self._conditioned(inputs, condition), state)

    def _placed(self, steps: torch.Tensor, periods) -> torch.Tensor:
        """The embedding of where each of ``steps`` falls: in its bar and, with ``bar_numbers``,
        in the piece. ``steps`` ``(time,)`` or ``(batch, time)``; ``(time, hidden)``, or
        ``(batch, time, hidden)`` when either the steps or the bar lengths (``periods``) are each
        sequence's own."""
        period = self.steps_per_bar if periods is None else periods.to(steps.device)[:, None]
        embedded = self.position(steps % period)
        if self.bar is None:
            return embedded
        bar, cycle = steps // period, self.bar_numbers
        return embedded + self.bar(torch.where(bar < cycle, bar, cycle + bar % cycle))

    def _position_at(self, step: torch.Tensor, periods) -> torch.Tensor:
        """The embedding of one step ``(1,)``, shaped to add to ``(batch, 1, hidden)``."""
        embedded = self._placed(step, periods)  # (1, hidden) or (batch, 1, hidden)
        return embedded if periods is not None else embedded[None]

    def _one_step(self, inputs: torch.Tensor, state):
        """Context ``(batch, hidden)`` and state after one step of ``inputs`` ``(batch, 1, hidden)``.

        Outside training the layers' cells run directly: for a single step, the fused
        nn.LSTM/nn.GRU call costs about ten times the cell arithmetic itself (measured on a CPU).
        """
        rnn = self.rnn
        if self.training or isinstance(rnn, CausalTransformer):
            contexts, state = rnn(inputs, state)
            return contexts[:, 0], state
        lstm = isinstance(rnn, nn.LSTM)
        if state is None:
            zeros = inputs.new_zeros(rnn.num_layers, len(inputs), rnn.hidden_size)
            state = (zeros, zeros) if lstm else zeros
        context, hidden, cells = inputs[:, 0], [], []
        for layer in range(rnn.num_layers):
            weights = [
                getattr(rnn, f"{name}_l{layer}")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
            if lstm:
                context, cell = torch.lstm_cell(
                    context, (state[0][layer], state[1][layer]), *weights
                )
                cells.append(cell)
            else:
                context = torch.gru_cell(context, state[layer], *weights)
            hidden.append(context)
        return context, (torch.stack(hidden), torch.stack(cells)) if lstm else torch.stack(hidden)

    def _conditioned(self, inputs: torch.Tensor, condition) -> torch.Tensor:
        """``inputs`` ``(batch, time, hidden)`` plus the projected condition at every step."""
        if condition is None:
            return inputs
        return inputs + self.condition_in(condition)[:, None]


class CausalTransformer(nn.Module):
    """Pre-norm Transformer layers over ``(batch, time, hidden)``, each step attending to itself
    and the steps before it, with ALiBi: each head's scores fall linearly with the distance.

    Called as an ``nn.LSTM`` is, ``(inputs, state) -> (outputs, state)``, where the state is the
    inputs read so far ``(batch, time, hidden)`` (None: nothing yet) and the outputs are those of
    the new inputs, which attend to the state's too. A step of sampling reads the whole state
    again: quadratic in the length, cheap at the lengths pieces are composed in.
    """

    def __init__(self, hidden: int, layers: int, dropout: float):
        super().__init__()
        heads = math.gcd(hidden, 4)
        self.layers = nn.ModuleList(TransformerLayer(hidden, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        # ALiBi's geometric slopes, 2^(-8/heads) .. 2^-8
        slopes = [2 ** (-8 * (head + 1) / heads) for head in range(heads)]
        self.register_buffer("slopes", torch.tensor(slopes), persistent=False)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None):
        everything = inputs if state is None else torch.cat([state, inputs], dim=1)
        positions = torch.arange(everything.shape[1], device=inputs.device)
        distance = (positions[:, None] - positions[None, :]).to(inputs.dtype)
        bias = (-self.slopes.to(inputs.dtype)[:, None, None] * distance).masked_fill(
            distance < 0, -math.inf
        )
        outputs = everything
        for layer in self.layers:
            outputs = layer(outputs, bias)
        return self.norm(outputs[:, everything.shape[1] - inputs.shape[1] :]), everything


class TransformerLayer(nn.Module):
    """Self-attention then a feed-forward block (four times as wide), each read through a
    layer norm and added to its input."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attention_norm, self.forward_norm = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden, 4 * hidden),
            nn.GELU(),
            nn.Linear(4 * hidden, hidden),
            nn.Dropout(dropout),
        )
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, inputs: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        batch, steps, hidden = inputs.shape
        qkv = self.qkv(self.attention_norm(inputs)).view(batch, steps, 3, self.heads, -1)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, steps, size)
        attended = F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=bias.to(query.dtype),
            dropout_p=self.dropout if self.training else 0.0,
        )
        attended = attended.transpose(1, 2).reshape(batch, steps, hidden)
        inputs = inputs + self.residual_dropout(self.out(attended))
        return inputs + self.feed_forward(self.forward_norm(inputs))
