"""Self-describing checkpoints: safetensors weights + JSON (config, adapter settings, version).

Nothing in a checkpoint is executed on load: tensors come from safetensors and everything
else is JSON. Files are written to a temporary name in the same folder and then renamed, so
a process killed mid-write never leaves a half-written file under the real name.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from .errors import MuseError

FORMAT = 1
METADATA_KEY = "muse_gan"
TEMPORARY_SUFFIX = ".tmp"


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary name beside ``path``, then renames it into place: a killed
    process, a full disk or a folder it may not write leaves whatever was at ``path`` untouched.
    A failure is a ``MuseError`` naming the file and the reason."""
    path = Path(path)
    _make_folder(path)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
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
        raise MuseError(f"{path}: cannot write (a file is in the way of its folder {path.parent})") from None
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


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], info: dict) -> None:
    """Writes ``tensors`` and the JSON-able ``info`` (config, adapter, step, ...) to ``path``."""
    from safetensors.torch import save

    from . import __version__

    header = {"format": FORMAT, "version": __version__, **info}
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    write_atomically(path, save(tensors, metadata={METADATA_KEY: json.dumps(header)}))


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and info of a checkpoint; a file that isn't one is a ``MuseError`` naming it."""
    return _read(Path(path), with_tensors=True)


def read_config(path: Path):
    """The ``Config`` a checkpoint was made with, from its header alone (no tensors are read)."""
    from .config import Config

    _, header = _read(Path(path), with_tensors=False)
    if not isinstance(header.get("config"), dict):
        raise MuseError(f"{path}: not a muse_gan checkpoint (its header has no config)")
    return Config.from_dict(header["config"], str(path))


def _read(path: Path, with_tensors: bool) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as file:
            header = json.loads((file.metadata() or {})[METADATA_KEY])
            tensors = {name: file.get_tensor(name) for name in file.keys()} if with_tensors else {}
    except FileNotFoundError:
        raise MuseError(f"{path}: no such checkpoint") from None
    except (SafetensorError, KeyError, ValueError, OSError) as error:
        raise MuseError(f"{path}: not a muse_gan checkpoint ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise MuseError(f"{path}: not a muse_gan checkpoint (its header is not a JSON object)")
    if header.get("format") != FORMAT:
        raise MuseError(f"{path}: checkpoint format {header.get('format')!r} is not supported (this is format {FORMAT})")
    return tensors, header


def model_settings(path: Path, info: dict):
    """The ``Config`` and adapter a model checkpoint's header describes. A header that lacks
    them, or holds wrong types or unknown names (a doctored or foreign file), is a
    ``MuseError`` naming the file."""
    from .adapters import ADAPTERS
    from .config import Config
    from .errors import ConfigError

    for key, kind in (("config", dict), ("modality", str), ("adapter", dict)):
        if not isinstance(info.get(key), kind):
            raise MuseError(f"{path}: not a muse_gan model (its header has no {key})")
    try:
        adapter_class = ADAPTERS.get(info["modality"])
        return Config.from_dict(info["config"], str(path)), adapter_class.from_dict(info["adapter"], str(path))
    except ConfigError as error:
        message = str(error)
        raise MuseError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def misfit(expected: dict[str, torch.Size], tensors: dict[str, torch.Tensor], holder: str) -> str | None:
    """The first weight that ``tensors`` lack, have besides the ``expected`` shapes (those of
    ``holder``'s networks, e.g. "this run's") or have in another shape, in words; None when all fit."""
    for name in sorted(expected.keys() | tensors.keys()):
        if name not in tensors:
            return f"it has no {name}"
        if name not in expected:
            return f"its {name} is not in {holder}"
        if tensors[name].shape != expected[name]:
            return f"its {name} is {tuple(tensors[name].shape)}, {holder} {tuple(expected[name])}"
    return None


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}{name}": tensor for name, tensor in tensors.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name[len(prefix):]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer's state split into tensors (for safetensors) and JSON (groups, scalars)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict) -> None:
    state: dict[int, dict] = {}
    for key, value in list(tensors.items()) + list(info["scalars"].items()):
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
