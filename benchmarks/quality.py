"""Every bundled model next to its training data and its held-out data, all metrics: writes
benchmarks/quality.md.

For each bundled model this runs what ``muse eval --model NAME --with-training`` runs: as many
samples as the modality's default count, and as many items of the model's training data, each
judged against its held-out (valid + test) data. The training data's row says how close real
data from the same source comes; a model near it is as close as can be told.

    python benchmarks/quality.py [--models bach-rnn digits-gan ...] [--output benchmarks/quality.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from muse_gan.api import Options, evaluate
from muse_gan.pretrained import DESCRIPTIONS


def section(name: str) -> str:
    started = time.perf_counter()
    report = evaluate(name, options=Options(), training=True)
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{set_name} {count}" for set_name, count in report.counts.items())
    return (
        f"## {name}\n\n{DESCRIPTIONS[name]}.\n\n`muse eval --model {name} --with-training` "
        f"({counts} items; reference: {report.reference}; {seconds:.0f} s)\n\n{report.table(markdown=True)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=list(DESCRIPTIONS))
    parser.add_argument("--output", default=str(Path(__file__).with_name("quality.md")))
    arguments = parser.parse_args()
    header = (
        f"# Quality of the bundled models\n\nWritten by `python benchmarks/quality.py` on "
        f"{time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"Python {platform.python_version()}). Each table: per-item metrics as means, with the overlapping "
        f"area and KL(reference ‖ set) of their distributions (Yang & Lerch 2018), then per-set metrics. "
        f"Reference: the model's held-out data. See `muse eval --help` and the README's Evaluation section.\n"
    )
    sections = []
    for name in arguments.models:
        sections.append(section(name))
        print(sections[-1], file=sys.stderr)
    Path(arguments.output).write_text("\n".join([header] + sections))
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
