"""One package per modality: its adapter (files ⇄ items ⇄ tensors), readers and writers,
rendering, metrics, judges and the terms it plugs into model families.

A new modality is a package here plus one line below (see docs/design.md).
"""

from . import (
    audio,  # noqa: F401  (registers "audio")
    image,  # noqa: F401  (registers "image")
    midi,  # noqa: F401  (registers "midi")
    text,  # noqa: F401  (registers "text")
)
from .registry import ADAPTERS, build_adapter

__all__ = ["ADAPTERS", "build_adapter"]
