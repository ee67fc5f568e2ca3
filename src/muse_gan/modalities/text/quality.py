"""How good is generated text? For ABC: does it parse into music; for any text: how close are
its character n-grams to real text's.

- ``abc_parse_rate``: the share of tunes that music21 parses into a score with notes (and so
  converts to MIDI).
- ``ngram_js_divergence``: Jensen-Shannon divergence (bits, 0 to 1) between the character
  n-gram distributions of two sets of texts, for each n.

(Bits per character, for likelihood models: ``TextAdapter.likelihood``.)
"""

from __future__ import annotations

import math
from collections import Counter

from ...errors import DataError
from ..midi.scores import abc_to_midi


def abc_parse_rate(tunes: list[str]) -> float:
    parsed = 0
    for tune in tunes:
        try:
            abc_to_midi(tune)
            parsed += 1
        except DataError:
            pass
    return parsed / len(tunes) if tunes else math.nan


def ngram_counts(texts: list[str], n: int) -> Counter:
    return Counter(text[start : start + n] for text in texts for start in range(len(text) - n + 1))


def js_divergence(first: Counter, second: Counter) -> float:
    """Jensen-Shannon divergence in bits of two count tables (as distributions); NaN if one is empty."""
    first_total, second_total = sum(first.values()), sum(second.values())
    if not first_total or not second_total:
        return math.nan
    divergence = 0.0
    for key in first.keys() | second.keys():
        p, q = first[key] / first_total, second[key] / second_total
        middle = (p + q) / 2
        divergence += 0.5 * (p * math.log2(p / middle) if p else 0.0) + 0.5 * (
            q * math.log2(q / middle) if q else 0.0
        )
    return divergence


def ngram_js_divergence(
    texts: list[str], reference: list[str], orders=(1, 2, 3, 4)
) -> dict[int, float]:
    return {n: js_divergence(ngram_counts(texts, n), ngram_counts(reference, n)) for n in orders}
