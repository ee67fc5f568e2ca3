"""Objectives by family name: each owns its losses, optimizer phases and sampling."""

from ..registry import Registry

OBJECTIVES = Registry("model family")


def build_objective(spec, config):
    """The objective of ``config.model.family``, sized from the adapter's ``spec``; it reads
    its own config sections (``[model]``, and ``[gan]`` or ``[vae]``) and the window length."""
    return OBJECTIVES.get(config.model.family)(spec, config)


from . import rnn  # noqa: E402,F401  (registers "rnn")
from . import gan  # noqa: E402,F401  (registers "gan")
from . import vae  # noqa: E402,F401  (registers "vae")
