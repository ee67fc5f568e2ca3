"""Training steps/s of every modality × family as `muse train --modality M --model F` starts it
with no config (``training.starting_config``): the table in docs/benchmarks.md.

    python benchmarks/default_pairs.py [--seconds 10] [--pairs text-gan,audio-vae] [--limit 0]
        [--threads N]

Each pair prepares its built-in data (from the cache after the first time; ``--limit N`` reads
only N source files), takes one step untimed, then times steps until ``--seconds`` have passed
(at least one). Prints steps/s, the batch and the threads torch computed on (``--threads``:
train.threads, 0 for what `muse train` picks), and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from muse_gan.core.distributed import launched_local_world
from muse_gan.core.trainer import computing_threads, pick_threads
from muse_gan.training import build_trainer, starting_config

MODALITIES = ("midi", "image", "audio", "text")
FAMILIES = ("rnn", "gan", "vae")


def steps_per_second(modality: str, family: str, seconds: float, limit: int) -> tuple:
    config = starting_config(
        [
            f'data.modality="{modality}"',
            f'model.family="{family}"',
            'train.device="cpu"',
            f"data.limit={limit}",
        ]
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = build_trainer(config, run_dir)
        batch = config.train.batch_size
        trainer.train_step(*trainer.train_windows.batch(batch))  # untimed: first-call costs
        steps, start = 0, time.perf_counter()
        while not steps or time.perf_counter() - start < seconds:
            trainer.train_step(*trainer.train_windows.batch(batch))
            steps += 1
        return steps / (time.perf_counter() - start), batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed per pair")
    parser.add_argument("--pairs", default="", help="e.g. text-gan,audio-vae (default: all 12)")
    parser.add_argument("--limit", type=int, default=0, help="data.limit (0: all the data)")
    parser.add_argument("--threads", type=int, default=0, help="train.threads (0: muse's pick)")
    arguments = parser.parse_args()
    chosen = [pair.split("-") for pair in arguments.pairs.split(",") if pair] or [
        (modality, family) for modality in MODALITIES for family in FAMILIES
    ]
    threads = pick_threads(arguments.threads, launched_local_world())
    print(
        f"{threads} threads; `muse train --modality M --model F`, no config; "
        f"load average {os.getloadavg()[0]:.1f} before"
    )
    print("| modality | family | batch | steps/s |\n|---|---|---|---|")
    with computing_threads(threads):
        for modality, family in chosen:
            rate, batch = steps_per_second(modality, family, arguments.seconds, arguments.limit)
            print(f"| {modality} | {family} | {batch} | {rate:.2f} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
