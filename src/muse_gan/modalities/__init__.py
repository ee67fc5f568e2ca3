"""One package per modality: its adapter (files ⇄ items ⇄ tensors), readers and writers,
rendering, metrics, judges and the terms it plugs into model families.

A new modality is a package here plus one line below (see docs/design.md).
"""

from .registry import ADAPTERS, build_adapter
from . import midi  # noqa: E402,F401  (registers "midi")
from . import image  # noqa: E402,F401  (registers "image")
from . import audio  # noqa: E402,F401  (registers "audio")
from . import text  # noqa: E402,F401  (registers "text")

__all__ = ["ADAPTERS", "build_adapter"]
