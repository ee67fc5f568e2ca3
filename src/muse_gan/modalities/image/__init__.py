"""Pictures: PIL images ⇄ ``(channels, size, size)`` tensors (``adapter``), the built-in digits
(``digits``), and the classifier (``classifier``) and judge (``judge``) that measure them."""

from .adapter import ImageAdapter
from .settings import ImageConfig

__all__ = ["ImageAdapter", "ImageConfig"]
