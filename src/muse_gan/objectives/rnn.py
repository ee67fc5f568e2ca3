"""Autoregressive RNN over time: each frame predicted from the frames before it.

Frames are the sequence view of the data: a piano roll's time steps, an image's rows. With
class labels (``spec.classes``), the label's embedding is added to every step's input, so a
sample can be asked for a class.
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.objective import NO_TERMS, Likelihood, Objective, Phase, sample_labels
from ..core.rules import DrawsFrames
from ..errors import ConfigError
from ..models.heads import Calibrated, SoftmaxHead, build_head
from ..models.rnn import FrameRNN
from .registry import OBJECTIVES


@OBJECTIVES.register("rnn")
class RNNObjective(Objective, Likelihood, DrawsFrames):
    family = "rnn"

    def __init__(self, spec, full_config, terms=NO_TERMS):
        super().__init__()
        config = full_config.model
        self.spec = spec
        self.network = FrameRNN(
            spec.frame_size,
            spec.steps_per_bar,
            config.cell,
            config.hidden,
            config.layers,
            config.dropout,
            condition_size=config.hidden if spec.classes else 0,
            positions=spec.longest_period,
            weight_drop=config.weight_drop,
            bar_numbers=config.bar_numbers,
        )
        self.head = build_head(
            config.head,
            spec.data_kind,
            config.hidden,
            spec.frame_size,
            config.head_hidden,
            spec.channels,
        )
        if config.calibration != 1.0 and not isinstance(self.head, Calibrated):
            raise ConfigError("model.calibration: a gaussian head has no logits to calibrate")
        self.head.calibration = config.calibration
        self.label_embedding = nn.Embedding(spec.classes, config.hidden) if spec.classes else None

    def parameter_groups(self):
        return {"model": list(self.parameters())}

    def token_head(self):
        return self.head if isinstance(self.head, SoftmaxHead) else None

    def phases(self, batch, labels=None, spans=None):
        return [Phase("model", lambda: self._loss(batch, labels, spans))]

    def _loss(self, batch, labels, spans):
        nll = self._scored_mean(batch, labels, spans)
        return nll, {"loss": nll.item()}

    @torch.no_grad()
    def evaluate(self, batch, labels=None, spans=None):
        return {"loss": self._scored_mean(batch, labels, spans).item()}

    def _scored_mean(self, batch, labels, spans) -> torch.Tensor:
        """The mean over windows of each one's mean NLL per frame, of the frames that hold
        music: a window's padding past its piece's end is not scored (``spans``' second
        column). A mean of windows, not of all frames, so that a batch split over processes
        (whose gradients are averaged alike) and validation's batches (weighted by their
        windows) add up to the same number as one batch whole."""
        nll = self.frame_nll(batch, labels, spans)
        if spans is None:
            return nll.mean()
        held = torch.arange(nll.shape[1], device=nll.device) < spans[:, 1:].to(nll.device)
        return ((nll * held).sum(1) / held.sum(1).clamp(min=1)).mean()

    def frame_nll(
        self,
        batch: torch.Tensor,
        labels: torch.Tensor | None = None,
        spans: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Negative log-likelihood of every frame, ``(batch, steps)``, in nats summed over cells;
        each sequence read from the start vector, at the step of its piece ``spans`` gives
        (None: 0)."""
        frames = sequence_view(batch)
        condition, periods = self._condition(labels, len(batch)), self._periods(labels)
        first_step = 0 if spans is None else spans[:, 0]
        contexts, _ = self.network(frames, first_step, condition=condition, periods=periods)
        return self.head.nll(contexts, frames)

    @torch.no_grad()
    def sample(
        self,
        count,
        steps,
        temperature,
        generator,
        primer=None,
        labels=None,
        rules=None,
        first_step=0,
    ):
        """``count`` samples ``(count, channels, steps, width)``; ``labels`` ``(count,)`` asks
        a class-conditional model for those classes (default: drawn at random); ``rules`` (a
        ``core.rules.CellRules``, for one sample) are kept as each frame is drawn.
        ``first_step``: the step of a longer piece the sample (its primer first) starts at, for
        a network told where its bars fall in the piece (``bar_numbers``)."""
        labels = sample_labels(self.spec, count, labels, generator)
        condition, periods = self._condition(labels, count), self._periods(labels)
        frames = torch.zeros(count, steps, self.spec.frame_size)
        primed = 0 if primer is None else min(primer.shape[1], steps)
        network = self.network
        if primed:
            frames[:, :primed] = sequence_view(primer[None, :, :primed]).expand(count, -1, -1)
            _contexts, state = network(
                frames[:, :primed], first_step, condition=condition, periods=periods
            )
            context, state = network.advance(
                frames[:, primed - 1], first_step + primed, state, condition, periods
            )
        else:
            context, state = network.begin(count, first_step, condition, periods)
        gate = None if rules is None else rules.gate(frames[0, :primed])
        for step in range(primed, steps):
            frames[:, step] = draw_frame(self.head, context, temperature, generator, gate)
            if step + 1 < steps:
                context, state = network.advance(
                    frames[:, step], first_step + step + 1, state, condition, periods
                )
        return frames.reshape(count, steps, self.spec.channels, self.spec.width).transpose(1, 2)

    def _periods(self, labels) -> torch.Tensor | None:
        """Each sequence's bar length, for classes with bars of their own (meters); else None."""
        if not self.spec.class_periods or labels is None:
            return None
        return torch.tensor(self.spec.class_periods, device=labels.device)[labels]

    def _condition(self, labels, count):
        if self.label_embedding is None:
            return None
        if labels is None:
            raise ValueError("a class-conditional model needs labels")
        return self.label_embedding(labels.to(self.label_embedding.weight.device))


def draw_frame(head, context, temperature, generator, gate=None) -> torch.Tensor:
    """The head's next frame; within ``gate`` (a ``core.rules.FrameGate``) when given, which
    then moves on past it."""
    if gate is None:
        return head.sample(context, temperature, generator)
    frame = head.sample_gated(context, temperature, generator, gate)
    gate.advance(frame[0])
    return frame


def sequence_view(batch: torch.Tensor) -> torch.Tensor:
    """(batch, channels, steps, width) → (batch, steps, channels * width): cell = channel * width + w."""
    return batch.transpose(1, 2).flatten(2)
