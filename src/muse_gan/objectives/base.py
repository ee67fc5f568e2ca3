"""What the Trainer asks of an objective (GAN, VAE, RNN).

An objective owns its networks and losses and decides how many optimizer steps a batch
takes, as a list of ``Phase``s (a GAN: the critic n times, then the generator). The Trainer
does everything else once for all: device, autocast, backward, clipping, stepping, EMA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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

    def phases(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> list[Phase]:
        """The optimizer steps for one grid-view batch ``(batch, channels, steps, width)`` and its
        class indices ``(batch,)`` (None for unlabelled data)."""
        raise NotImplementedError

    def evaluate(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """Validation scalars for one batch; must include "loss"."""
        raise NotImplementedError

    def sample(self, count: int, steps: int, temperature: float, generator: torch.Generator,
               primer: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``count`` grid-view samples ``(count, channels, steps, width)``, starting with ``primer``;
        a class-conditional model makes the classes ``labels`` (default: random ones)."""
        raise NotImplementedError
