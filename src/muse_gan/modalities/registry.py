"""Modalities by name: each is an ``Adapter`` class (see ``core.adapter``)."""

from ..registry import Registry

ADAPTERS = Registry("modality")


def build_adapter(config):
    """The adapter for ``config.data.modality``, set up from that modality's config section."""
    adapter_class = ADAPTERS.get(config.data.modality)
    return adapter_class(config.section(adapter_class.modality))
