"""What the Trainer asks of an objective (a model family: GAN, VAE, RNN), and what the library
may ask of one besides.

An objective owns its networks and losses and decides how many optimizer steps a batch
takes, as a list of ``Phase``s (a GAN: the critic n times, then the generator). The Trainer
does everything else once for all: device, autocast, backward, clipping, stepping, EMA.

Optional abilities are declared by inheriting the small classes at the end (``Likelihood``,
``Interpolates``, ``WalksLatent``, ``DecodesProbabilities``), and asked for with ``isinstance``.
A modality can plug terms into a family's networks and losses (``DomainTerms``): the family
knows only their shapes, never their domain.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

# Greedy decoding is a head's own sampling at this temperature: every choice becomes its most
# likely option (pitchwise: the argmax at each choice; bernoulli: p > 0.5), up to exact ties.
GREEDY = 1e-6


def sample_labels(spec, count: int, labels: torch.Tensor | None, generator: torch.Generator):
    """The classes to sample: the given ones, else random ones (None for unlabelled models)."""
    if not spec.classes:
        return None
    if labels is None:
        return torch.randint(spec.classes, (count,), generator=generator)
    return torch.as_tensor(labels).long().expand(count)


@dataclass(frozen=True)
class GeneratorTerm:
    """A term a modality adds to a GAN generator's loss: ``weight * mismatch(fakes, real batch)``."""

    name: str  # its scalar in the training log
    weight: float
    mismatch: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DomainTerms:
    """What a modality plugs into a family's networks and losses.

    - ``generator_terms``: added to the GAN generator's loss;
    - ``critic_streams``: name → a function ``(channels, steps, width, layer_width, wrap)``
      making a module that reads a batch ``(batch, channels, steps, width)`` into flat features
      ``(batch, module.size)``, which the critic scores beside its own (``wrap`` wraps each
      layer, e.g. in spectral norm);
    - ``output_filter``: a function ``(channels, width)`` making a module that rewrites the
      generator's logits ``(batch, channels, steps, width)`` and learns from real batches
      through its ``observe(batch)``, and turns its logits into 0/1 cells for threshold
      decoding (``decode(logits)``: each cell against 0.5, unless the modality knows better).
    """

    generator_terms: tuple[GeneratorTerm, ...] = ()
    critic_streams: dict[str, Callable] = field(default_factory=dict)
    output_filter: Callable | None = None


NO_TERMS = DomainTerms()


@dataclass
class Phase:
    optimizer: str  # which of the objective's optimizers steps on this loss
    loss: Callable[[], tuple[torch.Tensor, dict[str, float]]]  # the loss and scalars to log


class Objective(nn.Module):
    family: str
    # Whether a lower validation loss means a better model to keep. A GAN's critic numbers
    # don't say that, so a GAN keeps its latest weights as the model instead.
    selects_by_validation = True
    # The submodules that sampling uses, by attribute name; only these get a moving average
    # (None: all). A GAN samples with its generator alone.
    sampling_modules: tuple[str, ...] | None = None

    @property
    def a_family(self) -> str:
        """The family as messages name it: "an RNN", "a GAN", "a VAE"."""
        return f"{'an' if self.family == 'rnn' else 'a'} {self.family.upper()}"

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimizer name → the parameters it updates."""
        raise NotImplementedError

    def phases(
        self,
        batch: torch.Tensor,
        labels: torch.Tensor | None = None,
        spans: torch.Tensor | None = None,
    ) -> list[Phase]:
        """The optimizer steps for one grid-view batch ``(batch, channels, steps, width)``, its
        class indices ``(batch,)`` (None for unlabelled data) and where each window lies in its
        piece ``(batch, 2)``: its first step there and how many of its steps the piece fills
        (``core.samplers.window_spans``; None: each is a whole piece from its start)."""
        raise NotImplementedError

    def evaluate(
        self,
        batch: torch.Tensor,
        labels: torch.Tensor | None = None,
        spans: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """Validation scalars for one batch; must include "loss"."""
        raise NotImplementedError

    def sample(
        self,
        count: int,
        steps: int,
        temperature: float,
        generator: torch.Generator,
        primer: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``count`` grid-view samples ``(count, channels, steps, width)``, starting with ``primer``;
        a class-conditional model makes the classes ``labels`` (default: random ones)."""
        raise NotImplementedError

    def token_head(self):
        """The head that draws tokens one by one (honouring ``top_k``/``top_p``), or None."""
        return None


class Likelihood(ABC):
    """The family scores data: a (bound on the) negative log-likelihood of every frame."""

    @abstractmethod
    def frame_nll(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Nats of every frame ``(batch, steps)`` of grid-view pieces of any length, each read from its start."""


class Interpolates(ABC):
    """Pieces can be encoded and morphed into one another through a latent space."""

    @abstractmethod
    def interpolate(
        self,
        start: torch.Tensor,
        end: torch.Tensor,
        steps_between: int,
        temperature: float,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Segments ``(steps_between + 2, channels, segment, width)`` from ``start`` to ``end``."""


class WalksLatent(ABC):
    """Items along a closed loop through the latent space (`muse animate`)."""

    @abstractmethod
    def animate(self, frames: int, generator: torch.Generator, labels=None) -> torch.Tensor:
        """``frames`` items ``(frames, channels, steps, width)``; the last flows back into the first."""


class DecodesProbabilities(ABC):
    """Cells are decoded from probabilities, by a threshold or by drawing (``decode``)."""

    DECODINGS = ("threshold", "bernoulli")
    decode: str

    @contextmanager
    def decoding(self, decode: str | None):
        """This objective decoding ``decode``'s way for the duration (None: its own way)."""
        saved = self.decode
        self.decode = decode or saved
        try:
            yield
        finally:
            self.decode = saved


class FillsMasks(ABC):
    """Any cells of a piece can be drawn anew given all the others (infill, harmonization)."""

    @abstractmethod
    def fill(
        self,
        rolls: torch.Tensor,
        mask: torch.Tensor,
        temperature: float,
        generator: torch.Generator,
        rules=None,
    ) -> torch.Tensor:
        """``rolls`` ``(batch, channels, steps, width)`` with the cells of each channel and step
        that ``mask`` ``(batch, channels, steps)`` marks drawn anew, given everything else, and
        within ``rules`` (a ``core.rules.CellRules``) when given; every other cell comes back
        exactly as it was."""
