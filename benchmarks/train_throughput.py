"""Training throughput on this machine: the Trainer's step against a plain hand-written PyTorch
loop of the same model, batch and data, side by side (target: ratio >= 0.95).

    python benchmarks/train_throughput.py [--config configs/bach-rnn.toml] [--steps 30]

Prints steps/s and frames/s (frames = batch x window steps) for both, and their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from muse_gan.adapters import build_adapter
from muse_gan.config import load_config
from muse_gan.data import WindowSampler, load_pieces
from muse_gan.objectives import build_objective
from muse_gan.trainer import Trainer


def batches(config, adapter, count: int) -> list[torch.Tensor]:
    pieces = load_pieces(adapter, config.data.source, config.data.limit)
    window = config.data.window_bars * adapter.steps_per_bar
    sampler = WindowSampler(pieces, window, adapter.steps_per_bar, config.data.transpose, seed=0)
    return [sampler.batch(config.train.batch_size)[0] for _ in range(count)]


def timed(step, data: list[torch.Tensor], warmup: int = 3) -> float:
    for batch in data[:warmup]:
        step(batch)
    start = time.perf_counter()
    for batch in data[warmup:]:
        step(batch)
    return (len(data) - warmup) / (time.perf_counter() - start)


def plain_loop(config, adapter):
    """The baseline: the loop one would write by hand around the same model and losses."""
    torch.manual_seed(0)
    objective = build_objective(adapter.spec, config)
    optimizers = {name: torch.optim.AdamW(params, lr=config.train.lr, betas=tuple(config.train.betas))
                  for name, params in objective.parameter_groups().items()}

    def step(batch):
        objective.train()
        for phase in objective.phases(batch):
            optimizer = optimizers[phase.optimizer]
            optimizer.zero_grad()
            loss, _ = phase.loss()
            loss.backward()
            if config.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], config.train.grad_clip)
            optimizer.step()

    return step


def trainer_loop(config, adapter, run_dir):
    torch.manual_seed(0)
    trainer = Trainer(config, run_dir, adapter, build_objective(adapter.spec, config), None, quiet=True)
    return trainer.train_step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/bach-rnn.toml")
    parser.add_argument("--steps", type=int, default=30)
    arguments = parser.parse_args()
    config = load_config(arguments.config, ["train.device=\"cpu\""])
    adapter = build_adapter(config)
    data = batches(config, adapter, arguments.steps + 3)
    frames = config.train.batch_size * config.data.window_bars * adapter.steps_per_bar
    with tempfile.TemporaryDirectory() as run_dir:
        results = {"plain PyTorch loop": timed(plain_loop(config, adapter), data),
                   "muse_gan Trainer": timed(trainer_loop(config, adapter, run_dir), data)}
    print(f"{arguments.config}: batch {config.train.batch_size}, {frames} frames per step, "
          f"{torch.get_num_threads()} threads")
    for name, rate in results.items():
        print(f"{name:<20} {rate:7.2f} steps/s {rate * frames:9.0f} frames/s")
    print(f"ratio {results['muse_gan Trainer'] / results['plain PyTorch loop']:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
