"""Text (ABC tunes, lyrics): strings ⇄ one-hot tokens (``adapter``), windows of tokens
(``sampler``), the built-in folk tunes (``folk``), and the measures (``quality``) and judge
(``judge``) of generated text."""

from .adapter import TextAdapter
from .settings import TextConfig

__all__ = ["TextAdapter", "TextConfig"]
