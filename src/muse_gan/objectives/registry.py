"""Model families by name: each is an ``Objective`` class (or a function choosing one)."""

from ..core.objective import NO_TERMS, DomainTerms
from ..registry import Registry

OBJECTIVES = Registry("model family")


def build_objective(spec, config, terms: DomainTerms = NO_TERMS):
    """The objective of ``config.model.family``, sized from the adapter's ``spec``; it reads
    its own config sections (``[model]``, and ``[gan]`` or ``[vae]``). ``terms`` are what the
    modality plugs into the family (see ``DomainTerms``); families that take none ignore them."""
    return OBJECTIVES.get(config.model.family)(spec, config, terms)
