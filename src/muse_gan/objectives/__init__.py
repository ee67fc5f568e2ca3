"""The model families (RNN, GAN, VAE): each owns its losses, optimizer phases and sampling.

They know the grid and sequence views of ``core.spec`` and nothing of any modality.
"""

from .registry import OBJECTIVES, build_objective
from . import rnn  # noqa: E402,F401  (registers "rnn")
from . import gan  # noqa: E402,F401  (registers "gan")
from . import vae  # noqa: E402,F401  (registers "vae")

__all__ = ["OBJECTIVES", "build_objective"]
