"""Writing generated pieces: the format comes from the file's suffix."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import write_atomically
from .errors import DataError, MuseError

FORMATS = {"midi": (".mid", ".midi", ".png", ".wav"), "image": (".png",), "audio": (".wav", ".png"),
           "text": (".abc", ".txt", ".mid", ".wav", ".png")}


def piece_bytes(adapter, tensor: torch.Tensor, suffix: str, tempo: float | None = None) -> bytes:
    """A generated tensor as a file of the format ``suffix`` names (see ``FORMATS``)."""
    try:
        return adapter.file_bytes(tensor, suffix, tempo)
    except DataError as error:
        raise MuseError(str(error)) from None


def write_piece(adapter, tensor: torch.Tensor, path: Path, tempo: float | None = None) -> None:
    write_atomically(Path(path), piece_bytes(adapter, tensor, Path(path).suffix, tempo))
