"""`muse eval` for text: lengths, character n-gram divergence and, for ABC, the share that
parses, the share of inner bars that fill the meter and the share with every required header."""

from __future__ import annotations

import numpy as np

from ...measures.judge import CHUNK, GENERATED, Judge, Samples
from .pieces import text_of
from .quality import abc_parse_rate, headers_complete, inner_bars_full, ngram_js_divergence


class TextJudge(Judge):
    """Length per piece; character n-gram Jensen-Shannon divergence from the reference; for ABC
    (most reference pieces have a K: line), the share of pieces that parse into music, of
    inner bars that fill the meter and of pieces with every required header (``quality``)."""

    def __init__(self, adapter, options):
        super().__init__(adapter, options)
        self.abc = False

    def samples(self, name, pieces, count):
        return Samples(name, [text_of(piece.tensor) for piece in pieces])

    def generate(self, muse, count, like=None):
        texts = []
        for start in range(0, count, CHUNK):
            texts += muse.sample(
                min(CHUNK, count - start),
                seed=self.options.seed + start,
                temperature=self.options.temperature,
            )
        return Samples(GENERATED, texts)

    def per_item(self, samples):
        return {
            "characters": np.array([len(text) for text in samples.items], dtype=float),
            "lines": np.array([text.count("\n") + 1 for text in samples.items], dtype=float),
        }

    def reference_metrics(self, reference, report):
        self.abc = sum(_has_key_line(text) for text in reference.items) >= len(reference.items) / 2
        return self._parse_rate(reference)

    def per_set(self, samples, reference, report):
        divergence = ngram_js_divergence(samples.items, reference.items)
        return self._parse_rate(samples) | {f"js_{n}gram": value for n, value in divergence.items()}

    def _parse_rate(self, samples) -> dict[str, float]:
        if not self.abc:
            return {}
        return {
            "abc_parse_rate": abc_parse_rate(samples.items),
            "abc_inner_bars_full": inner_bars_full(samples.items),
            "abc_headers_complete": headers_complete(samples.items),
        }


def _has_key_line(text: str) -> bool:
    return any(line.startswith("K:") for line in text.splitlines())
