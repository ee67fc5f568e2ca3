"""Writing generated pieces: the format comes from the file's suffix."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from .checkpoint import write_atomically
from .errors import MuseError

PIECE_FORMATS = (".mid", ".midi", ".png")


def piece_bytes(adapter, roll: torch.Tensor, suffix: str, tempo: float | None = None) -> bytes:
    """A roll ``(tracks, steps, pitches)`` as MIDI or as a piano-roll picture."""
    suffix = suffix.lower()
    if suffix in (".mid", ".midi"):
        return adapter.midi_bytes(adapter.decode(roll, tempo), steps=roll.shape[1])
    if suffix == ".png":
        from .pianoroll_png import write_pianoroll_png

        picture = io.BytesIO()
        names = None if adapter.settings.track_mapping == "merge" else list(adapter.settings.track_names)
        write_pianoroll_png(roll, picture, pitch_low=adapter.settings.pitch_low,
                            steps_per_bar=adapter.steps_per_bar, track_names=names)
        return picture.getvalue()
    raise MuseError(f"cannot write '{suffix}' files (known: {', '.join(PIECE_FORMATS)})")


def write_piece(adapter, roll: torch.Tensor, path: Path, tempo: float | None = None) -> None:
    write_atomically(Path(path), piece_bytes(adapter, roll, Path(path).suffix, tempo))
