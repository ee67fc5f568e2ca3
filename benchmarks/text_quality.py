"""Do generated tunes parse, and does their text look like the data's?

For each model: ``--count`` generated tunes (seeds 0, 1, ...): the share music21 parses into
music (and so into MIDI), and the Jensen-Shannon divergence (bits) of their character 1- to
4-gram distributions from the held-out tunes'; for models with a likelihood, held-out bits per
character. The reference row is as many training tunes, picked at random, against the held-out
ones: about the smallest divergence to expect from that many tunes.

    python benchmarks/text_quality.py runs/folk-rnn runs/folk-vae runs/folk-gan [--count 100]
"""

from __future__ import annotations

import argparse
import random

import muse_gan
from muse_gan.evaluation import evaluation_pieces, likelihood
from muse_gan.modalities.text.adapter import text_of
from muse_gan.modalities.text.quality import abc_parse_rate, ngram_js_divergence


def tunes(model):
    """The model's training and held-out (valid + test) pieces."""
    return tuple(
        evaluation_pieces(model.config, model.adapter, None, part, quiet=True)
        for part in ("train", "held-out")
    )


def row(name: str, texts, reference, bits: str) -> str:
    divergence = ngram_js_divergence(texts, reference)
    cells = " | ".join(f"{divergence[n]:.3f}" for n in (1, 2, 3, 4))
    return f"| {name} | {len(texts)} | {abc_parse_rate(texts):.3f} | {cells} | {bits} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", help="text model run folders or checkpoints")
    parser.add_argument("--count", type=int, default=100)
    arguments = parser.parse_args()
    models = {name: muse_gan.load(name) for name in arguments.models}
    train, held_out = tunes(next(iter(models.values())))
    reference = [text_of(piece.tensor) for piece in held_out]
    print(
        "| tunes | count | parse as ABC | JS 1-gram | JS 2-gram | JS 3-gram | JS 4-gram | held-out bits/char |"
    )
    print("|---|---|---|---|---|---|---|---|")
    sampled = random.Random(0).sample(train, min(len(train), arguments.count))
    print(
        row(
            "real, training (vs held-out)",
            [text_of(piece.tensor) for piece in sampled],
            reference,
            "",
        )
    )
    for name, model in models.items():
        texts = [model.sample(1, seed=seed)[0] for seed in range(arguments.count)]
        # bits per character; None for a model without a likelihood
        report = likelihood(model, held_out)
        bits = f"{report['value']:.3f}" if report else ""
        print(row(f"{name} ({model.objective.family})", texts, reference, bits))


if __name__ == "__main__":
    main()
