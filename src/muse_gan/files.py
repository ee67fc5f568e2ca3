"""Writing files so that nothing already there is lost or left half-written.

Outputs, checkpoints and caches are written to a temporary name in the same folder and then
renamed into place: a killed process, a full disk or a folder it may not write leaves whatever
was at the path untouched. A symbolic link is written through (its target replaced, the link
kept); a FIFO or a device is written straight into, since it cannot be replaced. A folder that
one process alone may write into (a training run's) is ``locked``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import MuseError

TEMPORARY_SUFFIX = ".tmp"


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary name beside ``path``, then renames it into place: a killed
    process, a full disk or a folder it may not write leaves whatever was at ``path`` untouched.
    A symbolic link's target is written that way (the link stays a link); a FIFO or a character
    or block device is opened and written straight into (a reader of the FIFO, a terminal or
    /dev/null gets the bytes). A failure is a ``MuseError`` naming the file and the reason."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if _is_stream(target):
        _write_into(target, data)
        return
    _write_replacing(target, data)


def _is_stream(path: Path) -> bool:
    """A FIFO or a device: something to write into, not a file to replace."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def _write_into(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as stream:  # a FIFO blocks here until something reads it
            stream.write(data)
    except OSError as error:
        raise MuseError(f"{path}: cannot write ({error.strerror or error})") from None


def _write_replacing(path: Path, data: bytes) -> None:
    _make_folder(path)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX
        )
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except OSError as error:
        raise MuseError(f"{path}: cannot write ({error.strerror or error})") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)  # already renamed when all went well


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # mkdir's own wording ("File exists") hides which one is in the way
        raise MuseError(
            f"{path}: cannot write (a file is in the way of its folder {path.parent})"
        ) from None
    except OSError as error:
        raise MuseError(f"{path}: cannot make its folder ({error.strerror or error})") from None


def _sync_folder(folder: Path) -> None:
    """Makes the rename itself durable, so a power cut can't bring back the old file's name."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def remove_temporaries(folder: Path) -> list[Path]:
    """Deletes the temporary files that processes killed mid-write (SIGKILL, a power cut) left
    in ``folder``; returns them. Call it only where no other process is writing."""
    leftovers = sorted(Path(folder).glob(f".*{TEMPORARY_SUFFIX}"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _new_file_mode() -> int:
    """The mode ``open`` gives a new file; mkstemp's own (0600) would hide outputs from other users."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def materialize(folder: Path, write) -> None:
    """``write(temporary_folder)``, then the folder renamed to ``folder``: a killed process leaves
    no half set behind, and two processes doing it at once both end well."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        write(temporary)
        os.replace(temporary, folder)
    except OSError:
        if not folder.exists():
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


LOCK_NAME = "lock"


@contextmanager
def locked(folder: Path, say=print):
    """This process alone in ``folder`` while the block runs (a run folder that one training
    writes into). The lock is a file ``lock`` in it holding the holder's PID, host and start,
    and an exclusive ``flock`` on that file, which the kernel drops when its process dies,
    however it dies. Another process is refused with a ``MuseError`` naming the holder; a lock
    file left by a process that is gone is taken over, and ``say`` tells so in one line."""
    folder = Path(folder)
    made = not folder.exists()
    if not made and not folder.is_dir():
        raise MuseError(f"--out {folder}: is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    handle = _lock_handle(path)
    try:
        previous = os.read(handle, 4096).decode(errors="replace").strip()
        if previous:
            say(f"{folder}: took over the lock of {_holder(previous)}, which is no longer running")
        os.ftruncate(handle, 0)
        os.lseek(handle, 0, os.SEEK_SET)
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.ctime()}
        os.write(handle, json.dumps(mine).encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # before the lock goes: a waiting process then makes a new one
        os.close(handle)
        # another process may be making its lock there; or the folder was removed meanwhile
        with contextlib.suppress(OSError):
            if made and not any(folder.iterdir()):
                folder.rmdir()  # a run refused before writing anything leaves no folder behind


def _lock_handle(path: Path) -> int:
    """A descriptor of ``path`` holding its exclusive ``flock``; the file this process locked is
    the one at ``path`` (a holder may have removed it in between: then again)."""
    import fcntl

    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 4096).decode(errors="replace").strip()
            os.close(handle)
            raise MuseError(
                f"{path.parent}: another training run is writing into it ({_holder(holder)}); "
                "wait for it to end, or give another --out"
            ) from None
        try:
            if os.fstat(handle).st_ino == os.stat(path).st_ino:
                return handle
        except FileNotFoundError:
            pass
        os.close(handle)


def _holder(text: str) -> str:
    """A lock file's holder in words: process 1234 on host, since Sun Dec  6 11:00:00 2026."""
    try:
        holder = json.loads(text)
        return f"process {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (ValueError, KeyError, TypeError):
        return "an unknown process"
