"""Training throughput on one GPU for every family and modality: steps/s, samples/s and peak
memory, bf16 autocast next to fp32 (with --compile, compiled next to not), in one table.

Each committed config trains ``--steps`` timed steps after ``--warmup`` untimed ones (which
include torch.compile's compilation), with batches drawn beforehand so the sampler is not
timed; the host-to-device copy is. Ready to run on any CUDA machine:

    python benchmarks/gpu_throughput.py [--configs configs/bach-rnn.toml ...] [--steps 50] [--compile]
    python benchmarks/gpu_throughput.py --device cpu --steps 3 --configs configs/digits-gan.toml   # a dry run
"""

from __future__ import annotations

import argparse
import glob
import tempfile
import time

import torch

from muse_gan.assembly import load_config
from muse_gan.training import build_trainer


def measure(
    path: str, device: str, precision: str, compile_: bool, steps: int, warmup: int
) -> dict:
    config = load_config(
        path,
        [
            f'train.device="{device}"',
            f'train.precision="{precision}"',
            f"train.compile={'true' if compile_ else 'false'}",
        ],
    )
    with tempfile.TemporaryDirectory() as run:
        trainer = build_trainer(config, run)
        batches = [
            trainer.train_windows.batch(config.train.batch_size) for _ in range(warmup + steps)
        ]
        for batch in batches[:warmup]:
            trainer.train_step(*batch)
        synchronize(trainer.device)
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.device)
        started = time.perf_counter()
        for batch in batches[warmup:]:
            trainer.train_step(*batch)
        synchronize(trainer.device)
        seconds = time.perf_counter() - started
        peak = (
            torch.cuda.max_memory_allocated(trainer.device) / 2**20
            if trainer.device.type == "cuda"
            else float("nan")
        )
    return {
        "family": config.model.family,
        "modality": config.data.modality,
        "steps/s": steps / seconds,
        "samples/s": steps * config.train.batch_size / seconds,
        "peak MB": peak,
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", nargs="*", default=sorted(glob.glob("configs/*.toml")))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also measure with train.compile on")
    arguments = parser.parse_args()
    variants = [(precision, False) for precision in ("fp32", "bf16")]
    variants += [("bf16", True)] if arguments.compile else []
    name = torch.cuda.get_device_name() if arguments.device.startswith("cuda") else arguments.device
    print(
        f"{name}, torch {torch.__version__}, {arguments.steps} timed steps after {arguments.warmup}\n"
    )
    print("| config | family | modality | precision | compiled | steps/s | samples/s | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for path in arguments.configs:
        for precision, compile_ in variants:
            row = measure(
                path, arguments.device, precision, compile_, arguments.steps, arguments.warmup
            )
            print(
                f"| {path} | {row['family']} | {row['modality']} | {precision} | {'yes' if compile_ else 'no'} | "
                f"{row['steps/s']:.2f} | {row['samples/s']:.0f} | {row['peak MB']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
