"""The ``[text]`` config section."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.config import register_section


@register_section("text")
@dataclass(frozen=True)
class TextConfig:
    """Text as tokens: characters, or ABC notation's notes, durations, bar lines and headers."""

    # "char" or "abc" (folk-rnn-like ABC tokens; keeps only the X/M/L/K headers)
    vocabulary: str = "char"
    window: int = 256  # tokens per training window (a multiple of 8)
    max_vocabulary: int = 256  # the most frequent tokens kept; the rest read as unknown
