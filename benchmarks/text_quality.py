"""Do generated tunes parse and read as music, and does their text look like the data's?

For each model: ``--count`` generated tunes (seeds ``--seed``, ``--seed`` + 1, ...: one batch of
up to 100 tunes a seed): the share music21 parses into music (and so into MIDI), the share of
inner bars that fill the meter and of tunes with every required header
(``modalities.text.quality``), with abc2midi on the PATH the share it turns into MIDI and the
share it reports no error for, and the Jensen-Shannon divergence (bits) of their character
1- to 4-gram distributions from the held-out tunes'; for models with a likelihood, held-out
bits per character. ABC models are measured twice: as drawn by default (the grammar of
``modalities.text.grammar``) and with ``--free`` too, as the model alone draws them. The
reference row is as many training tunes, picked at random, against the held-out ones.

    python benchmarks/text_quality.py runs/folk-rnn runs/folk-vae runs/folk-gan [--count 100]
    python benchmarks/text_quality.py folk-rnn --count 200 --seed 1000 --free
    python benchmarks/text_quality.py runs/abc runs/char --count 0 --held-out 300   # bits/char only

``--held-out N`` measures bits per character on the first N held-out tunes only.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import muse_gan
from muse_gan.evaluation import evaluation_pieces, likelihood
from muse_gan.modalities.text.adapter import text_of
from muse_gan.modalities.text.quality import (
    abc_parse_rate,
    headers_complete,
    inner_bars_full,
    ngram_js_divergence,
)

BATCH = 100


def tunes(model):
    """The model's training and held-out (valid + test) pieces."""
    return tuple(
        evaluation_pieces(model.config, model.adapter, None, part, quiet=True)
        for part in ("train", "held-out")
    )


def abc2midi_shares(texts) -> str:
    """The share of tunes abc2midi writes a MIDI file for, and the share it prints no
    "Error" line for (cells of a table); empty without abc2midi."""
    if not shutil.which("abc2midi"):
        return " | "
    written = clean = 0
    with tempfile.TemporaryDirectory() as folder:
        for number, text in enumerate(texts):
            tune, midi = Path(folder, f"{number}.abc"), Path(folder, f"{number}.mid")
            tune.write_text(text)
            result = subprocess.run(
                ["abc2midi", str(tune), "-o", str(midi)], capture_output=True, text=True
            )
            written += midi.exists() and midi.stat().st_size > 0
            clean += "error" not in (result.stdout + result.stderr).lower()
    return f"{written / len(texts):.2f} | {clean / len(texts):.2f}"


def row(name: str, texts, reference, bits: str) -> str:
    if not texts:  # --count 0: bits per character only
        return f"| {name} | 0 |" + " |" * 9 + f" {bits} |"
    divergence = ngram_js_divergence(texts, reference)
    cells = " | ".join(f"{divergence[n]:.3f}" for n in (1, 2, 3, 4))
    return (
        f"| {name} | {len(texts)} | {abc_parse_rate(texts):.2f} | {inner_bars_full(texts):.2f} "
        f"| {headers_complete(texts):.2f} | {abc2midi_shares(texts)} | {cells} | {bits} |"
    )


def generated(model, count: int, seed: int, grammar: bool) -> list[str]:
    texts = []
    for start in range(0, count, BATCH):
        texts += model.sample(min(BATCH, count - start), seed=seed + start, grammar=grammar)
    return texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", help="text model run folders or checkpoints")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--free", action="store_true", help="also sample without the grammar")
    parser.add_argument("--held-out", type=int, default=0, help="tunes for bits/char (0: all)")
    arguments = parser.parse_args()
    models = {name: muse_gan.load(name) for name in arguments.models}
    train, held_out = tunes(next(iter(models.values())))
    reference = [text_of(piece.tensor) for piece in held_out]
    held_out = held_out[: arguments.held_out or None]
    print(
        "| tunes | count | music21 parses | inner bars full | headers complete | abc2midi "
        "writes | abc2midi no error | JS 1-gram | JS 2-gram | JS 3-gram | JS 4-gram "
        "| held-out bits/char |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    sampled = random.Random(0).sample(train, min(len(train), arguments.count))
    real = [text_of(piece.tensor) for piece in sampled]
    print(row("real, training (vs held-out)", real, reference, ""))
    for name, model in models.items():
        # bits per character; None for a model without a likelihood
        report = likelihood(model, held_out)
        bits = f"{report['value']:.3f}" if report else ""
        ways = [(True, "")]
        if arguments.free and model.adapter.settings.vocabulary == "abc":
            ways.append((False, ", free"))
        for grammar, how in ways:
            texts = generated(model, arguments.count, arguments.seed, grammar)
            print(row(f"{name} ({model.objective.family}{how})", texts, reference, bits))


if __name__ == "__main__":
    main()
