"""Objectives by family name: each owns its losses, optimizer phases and sampling."""

from ..registry import Registry

OBJECTIVES = Registry("model family")


def build_objective(spec, model_config):
    return OBJECTIVES.get(model_config.family)(spec, model_config)


from . import rnn  # noqa: E402,F401  (registers "rnn")
