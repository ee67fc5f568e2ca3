"""Sound: waveforms ⇄ log-mel spectrograms (``adapter``), the built-in notes (``notes``), and the
pitch tracking (``pitch``) and judge (``judge``) that measure them."""

from .adapter import AudioAdapter
from .settings import AudioConfig

__all__ = ["AudioAdapter", "AudioConfig"]
