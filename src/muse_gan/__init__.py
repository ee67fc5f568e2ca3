"""muse_gan: generative music and multimedia models (GAN, VAE, RNN) on one training core."""

__version__ = "0.1.0"


def load(model=None):
    """Load a bundled model by name, a run folder or a checkpoint; see ``muse_gan.api.load``."""
    from .api import load as load_model

    return load_model(model)


__all__ = ["load", "__version__"]
