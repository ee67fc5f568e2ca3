"""muse_gan: generative music and multimedia models (GAN, VAE, RNN) on one training core.

    >>> import muse_gan
    >>> muse_gan.load().compose(bars=16, seed=1).write("chorale.mid")

See ``muse_gan.api`` for the library's face.
"""

from .version import __version__


def load(model=None):
    """Load a bundled model by name, a run folder or a checkpoint; see ``muse_gan.api.load``."""
    from .api import load as load_model

    return load_model(model)


__all__ = ["__version__", "load"]
