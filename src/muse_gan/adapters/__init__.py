"""One adapter per modality: files ⇄ items (what users know) ⇄ tensors (what models eat)."""

from ..registry import Registry

ADAPTERS = Registry("modality")


def build_adapter(config):
    """The adapter for ``config.data.modality``, set up from that modality's config section."""
    adapter_class = ADAPTERS.get(config.data.modality)
    return adapter_class(getattr(config, adapter_class.modality))


from . import pianoroll  # noqa: E402,F401  (registers "midi")
from . import image  # noqa: E402,F401  (registers "image")
from . import audio  # noqa: E402,F401  (registers "audio")
from . import text  # noqa: E402,F401  (registers "text")
