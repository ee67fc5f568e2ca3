"""Source files → prepared tensors (cached on disk) → random training batches.

Preparing parses every source file once, in worker processes when there are many (see
``prepare``); the result is cached under ``MUSE_GAN_CACHE`` (default ``~/.cache/muse_gan``) in
``prepared/``, keyed by the adapter settings and the files' names, sizes and modification times,
so later runs and epochs never touch a source file again. A cache file holds every piece end to
end in one flat ``uint8`` tensor; it is memory-mapped, and each ``Piece.roll`` is a view into it,
so a dataset is not read into memory as a whole, and the samplers index into those views per batch.

Pieces of music are cut into random windows (``WindowSampler``); items of a fixed size, such
as images, are drawn whole (``ItemSampler``); text is cut into windows of tokens
(``TokenSampler``). All give ``(batch, labels)`` pairs, labels being None for unlabelled data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import DataError, MuseError
from .keys import common_key_shift, shift_pitches

BUILTIN = "builtin"  # data.source for the modality's first built-in corpus
CACHE_FORMAT = 3  # bump when prepared files change: caches of older formats are then prepared again
AUTO_WORKERS = 0  # data.workers: as many as pay off, one per CPU and at most MAX_WORKERS
MAX_WORKERS = 8


@dataclass
class Piece:
    name: str  # the source file, plus "#n" for the n-th piece of a file holding several
    roll: torch.Tensor  # the encoded item, uint8: a roll (tracks, steps, pitches), an image (channels, rows, columns);
    # read from the cache, a view into the memory-mapped file
    label: str = ""  # its class, for labelled data (an image's folder name)


def source_files(source: str, suffixes: tuple[str, ...], limit: int = 0, corpora: dict | None = None,
                 option: str = "--data") -> list[Path]:
    """The files of a built-in corpus (``corpora``: name → function listing them; "builtin" is
    the first), or every file with a known suffix under a folder; the folder's other files
    (hidden ones aside) are reported on stderr, one line each. Errors name ``option``."""
    corpora = corpora or {}
    if source == BUILTIN and corpora:
        source = next(iter(corpora))
    if source in corpora:
        files = corpora[source]()
    elif source == BUILTIN:
        raise MuseError("this modality has no built-in data: give a folder with --data")
    else:
        folder = Path(source).expanduser()
        if not folder.exists():  # perhaps another modality's corpus: name this one's
            built_in = f" (built-in data here: {', '.join(corpora)})" if corpora else ""
            raise MuseError(f"{option} {source}: no such file or folder{built_in}")
        candidates = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        candidates = [path for path in candidates if path.is_file() and not path.name.startswith(".")]
        files = [path for path in candidates if path.suffix.lower() in suffixes]
        _report_others([path for path in candidates if path.suffix.lower() not in suffixes], suffixes)
        if not files:
            raise MuseError(f"{option} {source}: no {'/'.join(suffixes)} files found"
                            + ("" if folder.is_file() else " (the folder holds none)"))
    return files[:limit] if limit > 0 else files


def _report_others(others: list[Path], suffixes: tuple[str, ...]) -> None:
    for path in others:
        print(f"skipped {path}: not a {'/'.join(suffixes)} file", file=sys.stderr)
    if others:
        print(f"skipped {len(others)} {'file' if len(others) == 1 else 'files'} of other kinds", file=sys.stderr)


def load_pieces(adapter, source: str, limit: int = 0, quiet: bool = False,
                workers: int = AUTO_WORKERS, option: str = "--data") -> list[Piece]:
    """Every usable piece of ``source`` (a built-in corpus or a folder), prepared or cached
    (``workers``: see ``prepare``); errors name ``source`` as the ``option`` it came from."""
    return prepare(adapter, source_files(source, adapter.suffixes, limit, adapter.corpora, option), quiet, workers)


def prepare(adapter, files: list[Path], quiet: bool = False, workers: int = AUTO_WORKERS) -> list[Piece]:
    """Every usable piece in ``files``, from the cache when it has them; unusable files are
    reported (one line each) and skipped.

    ``workers``: 1 parses the files in this process, n > 1 in n processes, ``AUTO_WORKERS`` in
    this process until the pace shows that worker processes pay for their start. The pieces are
    the same, in file order, whatever the number.
    """
    if workers < 0:
        raise MuseError(f"data.workers = {workers}: give 0 (as many as pay off), 1 (this process) or more")
    cache = _cache_path(adapter, files)
    if cache.exists():
        try:
            return _load_cache(cache)
        except Exception as error:  # noqa: BLE001  a damaged cache costs a new preparation, never the run
            say(f"preparing again: {cache} cannot be read ({type(error).__name__})")
    pieces, skipped = [], 0
    for path, (encoded, reason) in zip(files, _progress(_encoded(adapter, files, workers), len(files), quiet)):
        pieces += encoded
        if reason:
            skipped += 1
            say(f"skipped {reason if reason.startswith(str(path)) else f'{path}: {reason}'}")
    if skipped:
        print(f"skipped {skipped} of {len(files)} files", file=sys.stderr)
    if not pieces:
        raise MuseError(f"no usable pieces in {len(files)} files")
    return _save_cache(cache, pieces)


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
    if config.data.common_key:  # the parts windows are cut from; the test part is eval's
        pieces = {part: in_common_key(pieces[part], config.midi.pitch_low) for part in ("train", "valid")}
    train = WindowSampler(pieces["train"], window, spec.steps_per_bar, config.data.transpose, config.train.seed)
    valid = WindowSampler(pieces["valid"], window, spec.steps_per_bar, 0, 0) if pieces["valid"] else None
    return train, valid


def in_common_key(pieces: list[Piece], pitch_low: int) -> list[Piece]:
    """The pieces moved to C major or A minor (``data.common_key``; see ``keys``): moved rolls
    are copies, the cache's stay as they are."""
    return [dataclasses.replace(piece, roll=shift_pitches(piece.roll, common_key_shift(piece.roll, pitch_low)))
            for piece in pieces]


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
        self.items = [piece.roll for piece in pieces]  # views into the cache, stacked a batch at a time
        self.labels = class_indices(adapter, pieces)
        self.augment = augment and adapter.augments
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        picks = torch.randint(len(self.items), (size,), generator=self.generator)
        values = self.adapter.values(torch.stack([self.items[pick] for pick in picks.tolist()]))
        if self.augment:
            values = self.adapter.augment(values, self.generator)
        return values, None if self.labels is None else self.labels[picks]

    def in_order(self, size: int):
        """Every item once, unaugmented, in batches: for validation."""
        for first in range(0, len(self.items), size):
            labels = None if self.labels is None else self.labels[first:first + size]
            yield self.adapter.values(torch.stack(self.items[first:first + size])), labels


class TokenSampler(_Seeded):
    """Random windows of ``window`` tokens of text pieces, as one-hot grid views
    ``(batch, 1, window, vocabulary)``. Windows start at the beginning of a piece or every half
    window after it, so the model sees how pieces begin; the end token closes every piece and
    padding fills a window past it.

    The pieces are tokenized once (the vocabulary is the fitted adapter's, not the cache's) and
    kept end to end as ``int32`` ids, not in a table of ``int64`` ids padded to the longest piece
    (for the folk tunes, 240 MB of memory down to 35).
    """

    def __init__(self, pieces: list[Piece], adapter, window: int, seed: int):
        from .adapters.text import text_of

        self.adapter, self.window = adapter, window
        stride = window // 2
        sequences = [adapter.token_ids(text_of(piece.roll)) for piece in pieces]
        self.starts = torch.tensor([(number, start) for number, ids in enumerate(sequences)
                                    for start in range(0, max(1, len(ids) - stride), stride)])
        self.lengths = torch.tensor([len(ids) for ids in sequences])
        self.firsts = self.lengths.cumsum(0) - self.lengths  # where each piece begins in self.ids
        self.ids = torch.cat(sequences).int()
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
        pieces, steps = starts[:, :1], starts[:, 1:] + torch.arange(self.window)  # (batch, 1), (batch, window)
        inside = steps < self.lengths[pieces]
        where = (self.firsts[pieces] + steps).clamp(max=len(self.ids) - 1)  # past a piece's end: padding
        return self.adapter.one_hot(torch.where(inside, self.ids[where], 0).long())  # 0: the padding token


class WindowSampler(_Seeded):
    """Random fixed-length windows of the pieces, starting on bar lines, randomly transposed.

    Batches come out in the grid view ``(batch, tracks, window_steps, pitches)`` as floats,
    with None for labels. Windows are cut from the pieces' rolls where they are (views into the
    cache) a batch at a time; only pieces shorter than a window are copied, padded with silence.
    """

    def __init__(self, pieces: list[Piece], window_steps: int, steps_per_bar: int, transpose: int, seed: int):
        self.rolls = [_pad_to(piece.roll, window_steps) for piece in pieces]
        self.window_steps, self.steps_per_bar, self.transpose = window_steps, steps_per_bar, transpose
        self.starts = torch.tensor([(number, start) for number, roll in enumerate(self.rolls)
                                    for start in range(0, roll.shape[1] - window_steps + 1, steps_per_bar)])
        self.low, self.high = self._pitch_extent()
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, size: int) -> tuple[torch.Tensor, None]:
        picks = torch.randint(len(self.starts), (size,), generator=self.generator)
        return self._transpose(self._windows(self.starts[picks]), picks).float(), None

    def in_order(self, size: int):
        """Every window once, untransposed, in batches: for validation."""
        for first in range(0, len(self.starts), size):
            yield self._windows(self.starts[first:first + size]).float(), None

    def _windows(self, starts: torch.Tensor) -> torch.Tensor:
        """The windows at ``starts`` (rows of piece number and first step), ``(batch, tracks, steps, pitches)``."""
        return torch.stack([self.rolls[piece][:, step:step + self.window_steps] for piece, step in starts.tolist()])

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
        used = torch.cat([roll.amax(dim=0).bool().unfold(0, self.window_steps, self.steps_per_bar).any(dim=-1)
                          for roll in self.rolls])  # (windows, pitches), the windows in self.starts' order
        pitches = used.shape[1]
        number = torch.arange(pitches)
        silent = ~used.any(dim=1)
        low = torch.where(used, number, pitches).amin(dim=1).masked_fill(silent, 0)
        high = torch.where(used, number, -1).amax(dim=1).masked_fill(silent, pitches - 1)
        return low, high


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


def _encode_or_reason(adapter, path: Path) -> tuple[list[Piece], str]:
    """The pieces of one file and "", or no pieces and why the file is skipped."""
    try:
        return encode_file(adapter, path), ""
    except Exception as error:  # noqa: BLE001  any reader's failure on one odd file skips that file
        return [], str(error) if isinstance(error, DataError) else f"{type(error).__name__}: {error}"


WORKER_START_SECONDS = 3.0  # a spawned worker imports torch and the readers afresh: about 2 s on a busy machine
PACE_SECONDS = 1.0  # how long files are parsed here before their pace decides whether workers pay


def default_workers() -> int:
    """One per CPU this process may use, at most ``MAX_WORKERS``."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cpus, MAX_WORKERS)


def _encoded(adapter, files: list[Path], workers: int):
    """``(pieces, reason)`` for each file, in file order, from this process or worker processes."""
    if workers > 1 and len(files) > 1:
        yield from _in_workers(adapter, files, workers)
        return
    started = time.monotonic()
    for done, path in enumerate(files):
        if workers == AUTO_WORKERS and workers_pay(time.monotonic() - started, done - 1, len(files) - done,
                                                   default_workers()):
            yield from _in_workers(adapter, files[done:], default_workers())
            return
        yield _encode_or_reason(adapter, path)
        if done == 0:
            started = time.monotonic()  # the pace counts from the second file on: the first pays for lazy imports


def workers_pay(elapsed: float, done: int, left: int, workers: int) -> bool:
    """Whether ``left`` files, at the pace of the ``done`` ones so far, end sooner in ``workers``
    new processes than here. Decided only after ``PACE_SECONDS``, so that quick sets (images,
    text, a few chorales) never wait for processes to start."""
    if elapsed < PACE_SECONDS or done < 1:
        return False
    here = elapsed / done * left
    return here - here / workers > WORKER_START_SECONDS


def _in_workers(adapter, files: list[Path], workers: int):
    """``(pieces, reason)`` for each file, in file order, parsed in ``workers`` spawned processes
    (spawned, not forked: a fork copies torch's thread pools and locks in whatever state they are)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(min(workers, len(files)), multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(adapter,))
    try:
        with pool:
            # Files go out in chunks (about 16 per worker in all): one message per file costs more than an image takes.
            for pieces, reason in pool.map(_encode_in_worker, files, chunksize=max(1, len(files) // (16 * workers))):
                yield [dataclasses.replace(piece, roll=torch.from_numpy(piece.roll)) for piece in pieces], reason
    except BrokenProcessPool:
        raise MuseError("a process preparing the data stopped (out of memory? a script without an "
                        "`if __name__ == \"__main__\":` guard?); data.workers = 1 prepares in this process") from None


_worker_adapter = None  # the adapter of this worker process, set once when it starts


def _start_worker(adapter) -> None:
    """Runs once in each worker process as it starts."""
    import signal

    global _worker_adapter
    _worker_adapter = adapter
    torch.set_num_threads(1)  # the processes already share out the CPUs
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle, once


def _encode_in_worker(path: Path) -> tuple[list[Piece], str]:
    """``_encode_or_reason`` with rolls as numpy arrays: torch would send each tensor through
    shared memory, one file handle per tensor, and large collections run out of handles."""
    pieces, reason = _encode_or_reason(_worker_adapter, path)
    return [dataclasses.replace(piece, roll=piece.roll.numpy()) for piece in pieces], reason


def _pad_to(roll: torch.Tensor, steps: int) -> torch.Tensor:
    if roll.shape[1] >= steps:
        return roll
    return torch.nn.functional.pad(roll, (0, 0, 0, steps - roll.shape[1]))


def _progress(results, total: int, quiet: bool):
    if quiet:
        return results
    from tqdm import tqdm

    return tqdm(results, total=total, desc="preparing", unit="file", file=sys.stderr, leave=False)


def cache_dir() -> Path:
    return Path(os.environ.get("MUSE_GAN_CACHE", Path.home() / ".cache" / "muse_gan"))


def _cache_path(adapter, files: list[Path]) -> Path:
    key = {"adapter": adapter.modality, "settings": dataclasses.asdict(adapter.settings), "format": CACHE_FORMAT,
           "files": [_fingerprint(path) for path in files]}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir() / "prepared" / f"{adapter.modality}-{digest}.pt"


def _fingerprint(path: Path) -> tuple:
    """Name, size and modification time; a file that can't be found is reported when it is read."""
    try:
        status = path.stat()
    except OSError:
        return str(path), None, None
    return str(path), status.st_size, status.st_mtime_ns


def _save_cache(path: Path, pieces: list[Piece]) -> list[Piece]:
    """Writes the pieces as one file: every roll flattened and end to end in one ``uint8``
    tensor, with each one's shape, name and label. Returns them read back from that file
    (memory-mapped), or as they are when it cannot be written."""
    from .checkpoint import write_atomically

    prepared = {"rolls": torch.cat([piece.roll.flatten() for piece in pieces]),
                "shapes": [list(piece.roll.shape) for piece in pieces],
                "names": [piece.name for piece in pieces], "labels": [piece.label for piece in pieces]}
    buffer = io.BytesIO()
    torch.save(prepared, buffer)
    try:
        write_atomically(path, buffer.getvalue())
    except MuseError as error:  # a full disk or a read-only home: the run goes on, only later runs are slower
        say(f"not cached: {error}")
        return pieces
    return _load_cache(path)


def _load_cache(path: Path) -> list[Piece]:
    """The pieces of a cache file, each roll a view into the file mapped in memory: pages are
    read when a batch first needs them and shared with other processes reading the same file."""
    prepared = torch.load(path, mmap=True, weights_only=True)
    rolls, pieces, start = prepared["rolls"], [], 0
    for name, shape, label in zip(prepared["names"], prepared["shapes"], prepared["labels"]):
        size = math.prod(shape)
        pieces.append(Piece(name, rolls[start:start + size].view(shape), label))
        start += size
    return pieces
