"""Held-out likelihood of the masked model (Coconet) next to the RNN's, on the same windows.

The test part of the chorales (``data.test_fraction`` of the models' configs, which split the
chorales alike) is cut into 4-bar windows, untransposed. For each window:

- the Coconet's NLL as Coconet measures it: its (voice, step) choices taken in a random order,
  each scored given those before it (one network pass per choice), summed; one ordering per
  window and ``--orderings`` windows' worth of them;
- the RNN's frame NLL, each window read from its first step.

Both are printed in nats per frame (a 16th-note step of all four voices), with the standard
error over windows.

    python benchmarks/masked_likelihood.py [--masked bach-coconet] [--rnn bach-rnn] [--orderings 1]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import muse_gan
from muse_gan.evaluation import evaluation_pieces

BARS = 4


def windows(model) -> tuple[torch.Tensor, list[str]]:
    """Every whole 4-bar window of the test chorales ``(windows, tracks, steps, width)``, and
    the names of the pieces they come from."""
    steps = BARS * model.adapter.steps_per_bar
    pieces = evaluation_pieces(model.config, model.adapter, None, "test", quiet=True)
    cut, names = [], []
    for piece in model.adapter.model_view(pieces):
        roll = model.adapter.tensor_of(piece)
        for start in range(0, roll.shape[1] - steps + 1, steps):
            cut.append(roll[:, start : start + steps])
            names.append(piece.name)
    return torch.stack(cut), names


def per_frame(nll: torch.Tensor) -> tuple[float, float]:
    """Mean nats per frame over windows ``(windows, steps)``, and its standard error."""
    per_window = nll.mean(dim=1)
    return per_window.mean().item(), per_window.std().item() / math.sqrt(len(per_window))


@torch.no_grad()
def masked_nll(model, rolls: torch.Tensor, orderings: int, batch: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    scores = []
    for _ in range(orderings):
        for start in range(0, len(rolls), batch):
            scores.append(model.objective.ordered_nll(rolls[start : start + batch], generator))
    return torch.cat(scores)


@torch.no_grad()
def rnn_nll(model, rolls: torch.Tensor) -> torch.Tensor:
    return model.objective.frame_nll(rolls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--masked", default="bach-coconet")
    parser.add_argument("--rnn", default="bach-rnn")
    parser.add_argument("--orderings", type=int, default=1)
    arguments = parser.parse_args()
    masked, rnn = muse_gan.load(arguments.masked), muse_gan.load(arguments.rnn)
    masked_rolls, names = windows(masked)
    rnn_rolls, rnn_names = windows(rnn)
    assert names == rnn_names, "the two models' test parts differ"
    print(f"{len(names)} windows of {BARS} bars from {len(set(names))} test chorales")
    started = time.time()
    rows = {
        f"{arguments.rnn} (frame NLL from each window's start)": rnn_nll(rnn, rnn_rolls),
    }
    rows[f"{arguments.masked} (random orderings)"] = masked_nll(
        masked, masked_rolls, arguments.orderings
    )
    for name, nll in rows.items():
        mean, error = per_frame(nll)
        print(f"{name:<55} {mean:6.3f} ± {error:.3f} nats per frame")
    print(f"{time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
