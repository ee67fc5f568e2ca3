"""Source files → prepared tensors (cached on disk) → random training batches.

Preparing parses every source file once; the result is cached under ``MUSE_GAN_CACHE``
(default ``~/.cache/muse_gan``), keyed by the adapter settings and the files' names, sizes and
modification times, so later runs and epochs never parse a source file again.

Pieces of music are cut into random windows (``WindowSampler``); items of a fixed size, such
as images, are drawn whole (``ItemSampler``). Both give ``(batch, labels)`` pairs, labels
being None for unlabelled data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import DataError, MuseError

BUILTIN = "builtin"  # data.source for the modality's first built-in corpus


@dataclass
class Piece:
    name: str  # the source file, plus "#n" for the n-th piece of a file holding several
    roll: torch.Tensor  # the encoded item, uint8: a roll (tracks, steps, pitches), an image (channels, rows, columns)
    label: str = ""  # its class, for labelled data (an image's folder name)


def source_files(source: str, suffixes: tuple[str, ...], limit: int = 0, corpora: dict | None = None) -> list[Path]:
    """The files of a built-in corpus (``corpora``: name → function listing them; "builtin" is
    the first), or every file with a known suffix under a folder; the folder's other files
    (hidden ones aside) are reported on stderr, one line each."""
    corpora = corpora or {}
    if source == BUILTIN and corpora:
        source = next(iter(corpora))
    if source in corpora:
        files = corpora[source]()
    elif source == BUILTIN:
        raise MuseError("this modality has no built-in data: give a folder with --data")
    else:
        folder = Path(source).expanduser()
        if not folder.exists():
            raise MuseError(f"--data {source}: no such file or folder")
        candidates = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        candidates = [path for path in candidates if path.is_file() and not path.name.startswith(".")]
        files = [path for path in candidates if path.suffix.lower() in suffixes]
        _report_others([path for path in candidates if path.suffix.lower() not in suffixes], suffixes)
        if not files:
            raise MuseError(f"--data {source}: no {'/'.join(suffixes)} files found"
                            + ("" if folder.is_file() else " (the folder holds none)"))
    return files[:limit] if limit > 0 else files


def _report_others(others: list[Path], suffixes: tuple[str, ...]) -> None:
    for path in others:
        print(f"skipped {path}: not a {'/'.join(suffixes)} file", file=sys.stderr)
    if others:
        print(f"skipped {len(others)} {'file' if len(others) == 1 else 'files'} of other kinds", file=sys.stderr)


def load_pieces(adapter, source: str, limit: int = 0, quiet: bool = False) -> list[Piece]:
    """Every usable piece of ``source`` (a built-in corpus or a folder), prepared or cached."""
    return prepare(adapter, source_files(source, adapter.suffixes, limit, adapter.corpora), quiet=quiet)


def prepare(adapter, files: list[Path], quiet: bool = False) -> list[Piece]:
    """Every usable piece in ``files``; unusable files are reported (one line each) and skipped."""
    cache = _cache_path(adapter, files)
    if cache.exists():
        return _load_cache(cache)
    pieces, skipped = [], 0
    for path in _progress(files, quiet):
        try:
            pieces += encode_file(adapter, path)
        except Exception as error:  # noqa: BLE001  any reader's failure on one odd file skips that file
            skipped += 1
            reason = str(error) if isinstance(error, DataError) else f"{type(error).__name__}: {error}"
            say(f"skipped {reason if reason.startswith(str(path)) else f'{path}: {reason}'}")
    if skipped:
        print(f"skipped {skipped} of {len(files)} files", file=sys.stderr)
    if not pieces:
        raise MuseError(f"no usable pieces in {len(files)} files")
    _save_cache(cache, pieces)
    return pieces


def split(pieces: list[Piece], valid_fraction: float, test_fraction: float) -> dict[str, list[Piece]]:
    """Train/valid/test by a hash of each piece's file name: stable when files come and go."""
    parts = {"train": [], "valid": [], "test": []}
    for piece in pieces:
        file_name = re.sub(r"#\d+$", "", Path(piece.name).name)  # the file, not its n-th piece
        position = zlib.crc32(file_name.encode()) % 10_000 / 10_000
        part = "test" if position < test_fraction else "valid" if position < test_fraction + valid_fraction else "train"
        parts[part].append(piece)
    if not parts["train"]:
        parts["train"] = parts["valid"] or parts["test"]  # a handful of files: train on what there is
    return parts


def samplers(adapter, pieces: dict[str, list[Piece]], config) -> tuple:
    """The training batches (random, augmented) and validation batches (in order; None
    without validation pieces) for the adapter's kind of data."""
    from .adapters.base import window_steps

    spec = adapter.spec
    if spec.data_kind == "categorical":
        window = window_steps(spec, config)
        train = TokenSampler(pieces["train"], adapter, window, config.train.seed)
        valid = TokenSampler(pieces["valid"], adapter, window, 0) if pieces["valid"] else None
        return train, valid
    if spec.length:
        train = ItemSampler(pieces["train"], adapter, config.train.seed, augment=True)
        valid = ItemSampler(pieces["valid"], adapter, 0, augment=False) if pieces["valid"] else None
        return train, valid
    window = window_steps(spec, config)
    train = WindowSampler(pieces["train"], window, spec.steps_per_bar, config.data.transpose, config.train.seed)
    valid = WindowSampler(pieces["valid"], window, spec.steps_per_bar, 0, 0) if pieces["valid"] else None
    return train, valid


def class_indices(adapter, pieces: list[Piece]) -> torch.Tensor | None:
    """Each piece's class as its index in ``adapter.classes`` ``(pieces,)``; None without classes."""
    if not adapter.classes:
        return None
    index = {name: number for number, name in enumerate(adapter.classes)}
    return torch.tensor([index[piece.label] for piece in pieces])


class _Seeded:
    """A sampler that owns its random generator, so a resumed run restores the exact data order."""

    generator: torch.Generator

    def state(self) -> torch.Tensor:
        return self.generator.get_state()

    def restore(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class ItemSampler(_Seeded):
    """Random whole items of a fixed size (images), augmented by the adapter when asked, with
    their class indices (in ``adapter.classes``) when the data is labelled."""

    def __init__(self, pieces: list[Piece], adapter, seed: int, augment: bool):
        self.adapter = adapter
        self.items = torch.stack([piece.roll for piece in pieces])
        self.labels = class_indices(adapter, pieces)
        self.augment = augment and adapter.augments
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        picks = torch.randint(len(self.items), (size,), generator=self.generator)
        values = self.adapter.values(self.items[picks])
        if self.augment:
            values = self.adapter.augment(values, self.generator)
        return values, None if self.labels is None else self.labels[picks]

    def in_order(self, size: int):
        """Every item once, unaugmented, in batches: for validation."""
        for first in range(0, len(self.items), size):
            labels = None if self.labels is None else self.labels[first:first + size]
            yield self.adapter.values(self.items[first:first + size]), labels


class TokenSampler(_Seeded):
    """Random windows of ``window`` tokens of text pieces, as one-hot grid views
    ``(batch, 1, window, vocabulary)``. Windows start at the beginning of a piece or every half
    window after it, so the model sees how pieces begin; the end token closes every piece and
    padding fills a window past it."""

    def __init__(self, pieces: list[Piece], adapter, window: int, seed: int):
        from .adapters.text import text_of

        self.adapter, self.window = adapter, window
        stride = window // 2
        sequences = [adapter.token_ids(text_of(piece.roll)) for piece in pieces]
        self.starts = torch.tensor([(number, start) for number, ids in enumerate(sequences)
                                    for start in range(0, max(1, len(ids) - stride), stride)])
        longest = max(len(ids) for ids in sequences) + window
        self.ids = torch.zeros(len(sequences), longest, dtype=torch.long)  # 0: the padding token
        for number, ids in enumerate(sequences):
            self.ids[number, :len(ids)] = ids
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, size: int) -> tuple[torch.Tensor, None]:
        picks = torch.randint(len(self.starts), (size,), generator=self.generator)
        return self._windows(self.starts[picks]), None

    def in_order(self, size: int):
        """Every window once, in batches: for validation."""
        for first in range(0, len(self.starts), size):
            yield self._windows(self.starts[first:first + size]), None

    def _windows(self, starts: torch.Tensor) -> torch.Tensor:
        steps = starts[:, 1:] + torch.arange(self.window)
        return self.adapter.one_hot(self.ids[starts[:, :1], steps])


class WindowSampler(_Seeded):
    """Random fixed-length windows of the pieces, starting on bar lines, randomly transposed.

    Batches come out in the grid view ``(batch, tracks, window_steps, pitches)`` as floats,
    with None for labels.
    """

    def __init__(self, pieces: list[Piece], window_steps: int, steps_per_bar: int, transpose: int, seed: int):
        rolls = [_pad_to(piece.roll, window_steps) for piece in pieces]
        self.window_steps = window_steps
        self.transpose = transpose
        self.rolls = torch.cat(rolls, dim=1)  # all pieces end to end along time
        starts, offset = [], 0
        for roll in rolls:
            starts += range(offset, offset + roll.shape[1] - window_steps + 1, steps_per_bar)
            offset += roll.shape[1]
        self.starts = torch.tensor(starts)
        self.low, self.high = self._pitch_extent()
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, size: int) -> tuple[torch.Tensor, None]:
        picks = torch.randint(len(self.starts), (size,), generator=self.generator)
        steps = self.starts[picks, None] + torch.arange(self.window_steps)
        windows = self.rolls[:, steps].permute(1, 0, 2, 3)  # (batch, tracks, steps, pitches)
        return self._transpose(windows, picks).float(), None

    def in_order(self, size: int):
        """Every window once, untransposed, in batches: for validation."""
        for first in range(0, len(self.starts), size):
            steps = self.starts[first:first + size, None] + torch.arange(self.window_steps)
            yield self.rolls[:, steps].permute(1, 0, 2, 3).float(), None

    def _transpose(self, windows: torch.Tensor, picks: torch.Tensor) -> torch.Tensor:
        """Shift each window by a random interval that keeps its notes inside the roll."""
        if not self.transpose:
            return windows
        pitches = windows.shape[-1]
        lowest = torch.clamp(-self.low[picks], min=-self.transpose)
        highest = torch.clamp(pitches - 1 - self.high[picks], max=self.transpose)
        span = (highest - lowest + 1).clamp(min=1)
        shift = lowest + (torch.rand(len(picks), generator=self.generator) * span).long()
        source = torch.arange(pitches) - shift[:, None]  # (batch, pitches): where each pitch comes from
        inside = (source >= 0) & (source < pitches)
        gathered = windows.gather(-1, source.clamp(0, pitches - 1)[:, None, None, :].expand_as(windows))
        return gathered * inside[:, None, None, :]

    def _pitch_extent(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Lowest and highest sounding pitch index of every window (silent windows: full range)."""
        pitches = self.rolls.shape[-1]
        sounding = self.rolls.amax(dim=0).bool()  # (steps, pitches)
        low, high = [], []
        for start in self.starts.tolist():
            used = sounding[start:start + self.window_steps].any(dim=0).nonzero().flatten()
            low.append(used.min().item() if len(used) else 0)
            high.append(used.max().item() if len(used) else pitches - 1)
        return torch.tensor(low), torch.tensor(high)


def say(line: str) -> None:
    """A line on stderr that doesn't tear the progress bar apart."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def encode_file(adapter, path: Path) -> list[Piece]:
    """The pieces of one source file, as preparing makes them. A file that can't be used raises
    ``DataError`` naming it (``prepare`` reports it and goes on with the others)."""
    items = adapter.read(path)
    label = adapter.label_of(path)
    if len(items) == 1:
        return [Piece(str(path), adapter.encode(items[0]), label)]
    pieces = []
    for number, item in enumerate(items, 1):
        try:
            pieces.append(Piece(f"{path}#{number}", adapter.encode(item), label))
        except DataError:
            continue  # one bad tune in a collection should not cost the others
    if not pieces:
        raise DataError(f"{path}: none of its {len(items)} pieces is usable")
    return pieces


def _pad_to(roll: torch.Tensor, steps: int) -> torch.Tensor:
    if roll.shape[1] >= steps:
        return roll
    return torch.nn.functional.pad(roll, (0, 0, 0, steps - roll.shape[1]))


def _progress(files, quiet: bool):
    if quiet:
        return files
    from tqdm import tqdm

    return tqdm(files, desc="preparing", unit="file", file=sys.stderr, leave=False)


def cache_dir() -> Path:
    return Path(os.environ.get("MUSE_GAN_CACHE", Path.home() / ".cache" / "muse_gan"))


def _cache_path(adapter, files: list[Path]) -> Path:
    key = {"adapter": adapter.modality, "settings": dataclasses.asdict(adapter.settings), "format": 2,
           "files": [_fingerprint(path) for path in files]}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir() / "prepared" / f"{adapter.modality}-{digest}.safetensors"


def _fingerprint(path: Path) -> tuple:
    """Name, size and modification time; a file that can't be found is reported when it is read."""
    try:
        status = path.stat()
    except OSError:
        return str(path), None, None
    return str(path), status.st_size, status.st_mtime_ns


def _save_cache(path: Path, pieces: list[Piece]) -> None:
    from safetensors.torch import save

    from .checkpoint import write_atomically

    tensors = {f"{index}": piece.roll.contiguous() for index, piece in enumerate(pieces)}
    names = json.dumps([piece.name for piece in pieces])
    labels = json.dumps([piece.label for piece in pieces])
    try:
        write_atomically(path, save(tensors, metadata={"names": names, "labels": labels}))
    except MuseError as error:  # a full disk or a read-only home: the run goes on, only later runs are slower
        say(f"not cached: {error}")


def _load_cache(path: Path) -> list[Piece]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        names, labels = (json.loads(file.metadata()[key]) for key in ("names", "labels"))
        return [Piece(name, file.get_tensor(f"{index}"), label)
                for index, (name, label) in enumerate(zip(names, labels))]
