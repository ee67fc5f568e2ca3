"""Training throughput on this machine: the Trainer's step against a plain hand-written PyTorch
loop of the same model, batch and data, side by side (target: ratio >= 0.95); with --compile,
also the Trainer with train.compile on (the first steps, which compile, are not timed).

    python benchmarks/train_throughput.py [--config configs/bach-rnn.toml] [--steps 60] [--compile]
    python benchmarks/train_throughput.py --threads 2 --busy 1   # beside a process busy on one CPU

Prints steps/s and samples/s for each, and their ratio to the plain loop. Any config works.
``--threads`` sets torch's CPU threads (default: what `muse train` picks, train.threads = 0);
``--busy N`` runs N busy-loop processes (one CPU each) beside the whole run, as on a
machine shared with other work; the load average before the run is printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import torch

from muse_gan.assembly import build_objective, load_config
from muse_gan.core.trainer import pick_threads
from muse_gan.training import build_trainer


def timed(step, data: list[tuple], warmup: int = 3) -> float:
    for batch in data[:warmup]:
        step(*batch)
    start = time.perf_counter()
    for batch in data[warmup:]:
        step(*batch)
    return (len(data) - warmup) / (time.perf_counter() - start)


@contextmanager
def busy_processes(count: int):
    """``count`` processes each spinning one CPU, for the block's duration."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5 if count else 0)  # running before the timing starts
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def plain_loop(config, adapter):
    """The baseline: the loop one would write by hand around the same model and losses."""
    torch.manual_seed(0)
    objective = build_objective(adapter, config)
    optimizers = {
        name: torch.optim.AdamW(params, lr=config.train.lr, betas=tuple(config.train.betas))
        for name, params in objective.parameter_groups().items()
    }

    def step(batch, labels=None, spans=None):
        objective.train()
        for phase in objective.phases(batch, labels, spans):
            optimizer = optimizers[phase.optimizer]
            optimizer.zero_grad()
            loss, _ = phase.loss()
            loss.backward()
            if config.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(
                    optimizer.param_groups[0]["params"], config.train.grad_clip
                )
            optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/bach-rnn.toml")
    parser.add_argument("--steps", type=int, default=60)  # fewer: ratios swing by 10% run to run
    parser.add_argument(
        "--compile", action="store_true", help="also time the Trainer with train.compile on"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch's CPU threads (0: muse's pick)"
    )
    parser.add_argument("--busy", type=int, default=0, help="busy-loop processes beside it")
    arguments = parser.parse_args()
    config = load_config(arguments.config, ['train.device="cpu"'])
    load = os.getloadavg()[0]
    torch.set_num_threads(pick_threads(arguments.threads))  # as `muse train` does
    with tempfile.TemporaryDirectory() as run_dir, busy_processes(arguments.busy):
        trainer = build_trainer(config, run_dir)
        data = [
            trainer.train_windows.batch(config.train.batch_size) for _ in range(arguments.steps + 3)
        ]
        results = {
            "plain PyTorch loop": timed(plain_loop(config, trainer.adapter), data),
            "muse_gan Trainer": timed(trainer.train_step, data),
        }
        if arguments.compile:
            compiled = build_trainer(
                load_config(arguments.config, ['train.device="cpu"', "train.compile=true"]), run_dir
            )
            results["Trainer, train.compile"] = timed(compiled.train_step, data, warmup=5)
    print(
        f"{arguments.config}: batch {config.train.batch_size}, {torch.get_num_threads()} threads, "
        f"{arguments.busy} busy processes beside it, load average {load:.2f} before"
    )
    baseline = results["plain PyTorch loop"]
    for name, rate in results.items():
        print(
            f"{name:<24} {rate:7.2f} steps/s {rate * config.train.batch_size:9.0f} samples/s "
            f"ratio {rate / baseline:.3f}"
        )
    print("target: the Trainer's ratio >= 0.95")


if __name__ == "__main__":
    main()
