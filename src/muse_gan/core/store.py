"""Source files → prepared tensors, cached on disk: the data every training run and evaluation reads.

Preparing parses every source file once, in worker processes when there are many (see
``prepare``); the result is cached under ``MUSE_GAN_CACHE`` (default ``~/.cache/muse_gan``) in
``prepared/``, keyed by the adapter settings and the files' names, sizes and modification times,
so later runs and epochs never touch a source file again; a cache file whose checksum no longer
matches its contents is prepared again, with one line. A cache file holds every piece end to
end in one flat ``uint8`` tensor; it is memory-mapped, and each ``Piece.tensor`` is a view into it,
so a dataset is not read into memory as a whole, and the samplers (``samplers``) index into
those views per batch.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DataError, MuseError
from ..files import write_atomically

BUILTIN = "builtin"  # data.source for the modality's first built-in corpus
# bump when prepared files change: caches of older formats are then prepared again (5: a checksum)
CACHE_FORMAT = 5
AUTO_WORKERS = 0  # data.workers: as many as pay off, one per CPU and at most MAX_WORKERS
MAX_WORKERS = 8


@dataclass
class Piece:
    name: str  # the source file, plus "#n" for the n-th piece of a file holding several
    tensor: torch.Tensor  # the encoded item, uint8, as the adapter stores it (a roll, an image's pixels, text's bytes);
    # read from the cache, a view into the memory-mapped file
    label: str = ""  # its class, for labelled data (an image's folder name)
    # what the adapter notes about it besides (JSON: a piece's parts, meter)
    info: dict = field(default_factory=dict)


def source_files(
    source: str,
    suffixes: tuple[str, ...],
    limit: int = 0,
    corpora: dict | None = None,
    option: str = "--data",
) -> list[Path]:
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
        candidates = [
            path for path in candidates if path.is_file() and not path.name.startswith(".")
        ]
        files = [path for path in candidates if path.suffix.lower() in suffixes]
        _report_others(
            [path for path in candidates if path.suffix.lower() not in suffixes], suffixes
        )
        if not files:
            raise MuseError(
                f"{option} {source}: no {'/'.join(suffixes)} files found"
                + ("" if folder.is_file() else " (the folder holds none)")
            )
    return files[:limit] if limit > 0 else files


def _report_others(others: list[Path], suffixes: tuple[str, ...]) -> None:
    for path in others:
        print(f"skipped {path}: not a {'/'.join(suffixes)} file", file=sys.stderr)
    if others:
        print(
            f"skipped {len(others)} {'file' if len(others) == 1 else 'files'} of other kinds",
            file=sys.stderr,
        )


def load_pieces(
    adapter,
    source: str,
    limit: int = 0,
    quiet: bool = False,
    workers: int = AUTO_WORKERS,
    option: str = "--data",
) -> list[Piece]:
    """Every usable piece of ``source`` (a built-in corpus or a folder), prepared or cached
    (``workers``: see ``prepare``); errors name ``source`` as the ``option`` it came from."""
    return prepare(
        adapter,
        source_files(source, adapter.suffixes, limit, adapter.corpora, option),
        quiet,
        workers,
    )


def prepare(
    adapter, files: list[Path], quiet: bool = False, workers: int = AUTO_WORKERS
) -> list[Piece]:
    """Every usable piece in ``files``, from the cache when it has them; unusable files are
    reported (one line each) and skipped.

    ``workers``: 1 parses the files in this process, n > 1 in n processes, ``AUTO_WORKERS`` in
    this process until the pace shows that worker processes pay for their start. The pieces are
    the same, in file order, whatever the number.
    """
    if workers < 0:
        raise MuseError(
            f"data.workers = {workers}: give 0 (as many as pay off), 1 (this process) or more"
        )
    cache = _cache_path(adapter, files)
    if cache.exists():
        try:
            return _load_cache(cache)
        except Exception as error:
            reason = str(error) if isinstance(error, DamagedCache) else type(error).__name__
            say(f"preparing again: {cache} cannot be read ({reason})")
    pieces, reasons = [], Counter()
    for path, (encoded, reason) in zip(
        files, _progress(_encoded(adapter, files, workers), len(files), quiet)
    ):
        pieces += encoded
        if reason:
            reason = reason.removeprefix(f"{path}: ")
            reasons[reason.split(" (")[0]] += 1
            say(f"skipped {path}: {reason}")
    if reasons:
        print(f"skipped {reasons.total()} of {len(files)} files", file=sys.stderr)
    if not pieces:
        raise MuseError(f"no usable pieces in {len(files)} files ({most_common(reasons)})")
    return _save_cache(cache, pieces)


def most_common(reasons: Counter, count: int = 3) -> str:
    """The ``count`` most common reasons, each with how often it came up, in words."""
    return "; ".join(f"{times} × {reason}" for reason, times in reasons.most_common(count))


def split(
    pieces: list[Piece], valid_fraction: float, test_fraction: float, by: str = "file"
) -> dict[str, list[Piece]]:
    """Train/valid/test by a hash of each piece's file name: stable when files come and go.
    With ``by="piece"``, the hash is of the piece's own name (``file#n``), so the tunes of one
    ABC book spread over the parts as the book's share of the data does. A piece whose data
    set came split (``info["part"]``, as a published data set's) stays in its part."""
    parts = {"train": [], "valid": [], "test": []}
    for piece in pieces:
        if piece.info.get("part") in parts:
            parts[piece.info["part"]].append(piece)
            continue
        name = Path(piece.name).name
        if by == "file":
            name = re.sub(r"#\d+$", "", name)  # the file, not its n-th piece
        position = zlib.crc32(name.encode()) % 10_000 / 10_000
        part = (
            "test"
            if position < test_fraction
            else "valid"
            if position < test_fraction + valid_fraction
            else "train"
        )
        parts[part].append(piece)
    if not parts["train"]:
        # a handful of files: train on what there is
        parts["train"] = parts["valid"] or parts["test"]
    return parts


def data_parts(adapter, data, pieces: list[Piece], quiet: bool = False) -> dict[str, list[Piece]]:
    """The train/valid/test parts of ``pieces``, read from ``data.source`` (a ``DataConfig``):
    ``split`` by ``data.valid_fraction`` and ``data.test_fraction``; with ``data.valid_source``
    the validation pieces are that folder's, and ``pieces`` are split into train and test alone."""
    if not data.valid_source:
        return split(pieces, data.valid_fraction, data.test_fraction, data.split_by)
    parts = split(pieces, 0.0, data.test_fraction, data.split_by)
    parts["train"] += parts["valid"]  # a published split's own validation pieces: not dropped
    parts["valid"] = load_pieces(
        adapter, data.valid_source, 0, quiet, data.workers, option="data.valid_source"
    )
    return parts


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
        return [Piece(str(path), adapter.encode(items[0]), label, adapter.piece_info(items[0]))]
    pieces = []
    for number, item in enumerate(items, 1):
        try:
            pieces.append(
                Piece(f"{path}#{number}", adapter.encode(item), label, adapter.piece_info(item))
            )
        except DataError:
            continue  # one bad tune in a collection should not cost the others
    if not pieces:
        raise DataError(f"{path}: none of its {len(items)} pieces is usable")
    return pieces


def _encode_or_reason(adapter, path: Path) -> tuple[list[Piece], str]:
    """The pieces of one file and "", or no pieces and why the file is skipped."""
    try:
        return encode_file(adapter, path), ""
    except Exception as error:
        return [], str(error) if isinstance(
            error, DataError
        ) else f"{type(error).__name__}: {error}"


# a spawned worker imports torch and the readers afresh: about 2 s on a busy machine
WORKER_START_SECONDS = 3.0
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
        if workers == AUTO_WORKERS and workers_pay(
            time.monotonic() - started, done - 1, len(files) - done, default_workers()
        ):
            yield from _in_workers(adapter, files[done:], default_workers())
            return
        yield _encode_or_reason(adapter, path)
        if done == 0:
            # the pace counts from the second file on: the first pays for lazy imports
            started = time.monotonic()


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

    pool = ProcessPoolExecutor(
        min(workers, len(files)),
        multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(adapter,),
    )
    try:
        with pool:
            # Files go out in chunks (about 16 per worker in all): one message per file costs more than an image takes.
            for pieces, reason in pool.map(
                _encode_in_worker, files, chunksize=max(1, len(files) // (16 * workers))
            ):
                yield (
                    [
                        dataclasses.replace(piece, tensor=torch.from_numpy(piece.tensor))
                        for piece in pieces
                    ],
                    reason,
                )
    except BrokenProcessPool:
        raise MuseError(
            "a process preparing the data stopped (out of memory? a script without an "
            '`if __name__ == "__main__":` guard?); data.workers = 1 prepares in this process'
        ) from None


_worker_adapter = None  # the adapter of this worker process, set once when it starts


def _start_worker(adapter) -> None:
    """Runs once in each worker process as it starts."""
    import signal

    global _worker_adapter
    _worker_adapter = adapter
    torch.set_num_threads(1)  # the processes already share out the CPUs
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle, once


def _encode_in_worker(path: Path) -> tuple[list[Piece], str]:
    """``_encode_or_reason`` with tensors as numpy arrays: torch would send each tensor through
    shared memory, one file handle per tensor, and large collections run out of handles."""
    pieces, reason = _encode_or_reason(_worker_adapter, path)
    return [dataclasses.replace(piece, tensor=piece.tensor.numpy()) for piece in pieces], reason


def _progress(results, total: int, quiet: bool):
    if quiet:
        return results
    from tqdm import tqdm

    return tqdm(results, total=total, desc="preparing", unit="file", file=sys.stderr, leave=False)


def cache_dir() -> Path:
    return Path(os.environ.get("MUSE_GAN_CACHE", Path.home() / ".cache" / "muse_gan"))


def _cache_path(adapter, files: list[Path]) -> Path:
    key = {
        "adapter": adapter.modality,
        "settings": adapter.cache_settings(),
        "format": CACHE_FORMAT,
        "files": [_fingerprint(path) for path in files],
    }
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
    """Writes the pieces as one file: every tensor flattened and end to end in one ``uint8``
    tensor, with each one's shape, name, label and info. Returns them read back from that file
    (memory-mapped), or as they are when it cannot be written."""
    prepared = {
        "rolls": torch.cat([piece.tensor.flatten() for piece in pieces]),
        "shapes": [list(piece.tensor.shape) for piece in pieces],
        "names": [piece.name for piece in pieces],
        "labels": [piece.label for piece in pieces],
        "infos": [json.dumps(piece.info) for piece in pieces],
    }
    prepared["checksum"] = _checksum(prepared)
    buffer = io.BytesIO()
    torch.save(prepared, buffer)
    try:
        write_atomically(path, buffer.getvalue())
    # a full disk or a read-only home: the run goes on, only later runs are slower
    except MuseError as error:
        say(f"not cached: {error}")
        return pieces
    return _load_cache(path)


def _load_cache(path: Path) -> list[Piece]:
    """The pieces of a cache file, each tensor a view into the file mapped in memory: pages are
    read when a batch first needs them and shared with other processes reading the same file."""
    prepared = torch.load(path, mmap=True, weights_only=True)
    if prepared["checksum"] != _checksum(prepared):
        raise DamagedCache("its checksum does not match: the file is damaged")
    flat, pieces, start = prepared["rolls"], [], 0  # "rolls": the key's name since the first format
    for name, shape, label, info in zip(
        prepared["names"], prepared["shapes"], prepared["labels"], prepared["infos"]
    ):
        size = math.prod(shape)
        pieces.append(Piece(name, flat[start : start + size].view(shape), label, json.loads(info)))
        start += size
    return pieces


class DamagedCache(Exception):
    """A cache file whose contents are not what was written."""


def _checksum(prepared: dict) -> int:
    """CRC-32 of every piece's bytes and of the table saying which is which: a few GB a second,
    so opening even a large cache stays quick, and any damaged byte is found."""
    table = [prepared[key] for key in ("shapes", "names", "labels", "infos")]
    crc = zlib.crc32(prepared["rolls"].numpy())
    return zlib.crc32(json.dumps(table).encode(), crc)
