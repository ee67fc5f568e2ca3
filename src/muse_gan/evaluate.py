"""Held-out likelihood: how well a model predicts whole pieces it has not trained on."""

from __future__ import annotations

import torch

from .config import Config
from .data import class_indices, load_pieces, split
from .errors import MuseError

def evaluation_pieces(config: Config, adapter, data: str | None, part: str, quiet: bool = False):
    """The pieces to evaluate on: every file in ``data`` when given, else the model's own
    data source cut into the same train/valid/test split as its training run."""
    pieces = load_pieces(adapter, data or config.data.source, 0 if data else config.data.limit, quiet)
    if data or part == "all":
        return pieces
    chosen = split(pieces, config.data.valid_fraction, config.data.test_fraction)[part]
    if not chosen:
        raise MuseError(f"--split {part}: the model's config holds out no {part} pieces "
                        f"(data.{part}_fraction is 0); give a folder with --data")
    return chosen


@torch.no_grad()
def frame_nll(objective, pieces, adapter) -> tuple[float, int]:
    """Mean negative log-likelihood per frame (nats, summed over all cells of a frame; an
    image's frame is a row) over every frame of every piece, each piece read whole from its
    first step; and the frame count. Labelled pieces are scored given their label."""
    if not hasattr(objective, "frame_nll"):
        raise MuseError(f"a {objective.family} model has no likelihood to evaluate (use an RNN or VAE model)")
    total, frames = 0.0, 0
    objective.eval()
    for piece in pieces:
        nll = objective.frame_nll(adapter.values(piece.roll[None]), class_indices(adapter, [piece]))
        total += nll.sum().item()
        frames += nll.numel()
    return total / frames, frames
