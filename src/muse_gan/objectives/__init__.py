"""The model families (RNN, GAN, VAE, Coconet): each owns its losses, optimizer phases and sampling.

They know the grid and sequence views of ``core.spec`` and nothing of any modality.
"""

from . import (
    gan,  # noqa: F401  (registers "gan")
    masked,  # noqa: F401  (registers "coconet")
    rnn,  # noqa: F401  (registers "rnn")
    vae,  # noqa: F401  (registers "vae")
)
from .registry import OBJECTIVES, build_objective

__all__ = ["OBJECTIVES", "build_objective"]
