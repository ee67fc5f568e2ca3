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


def write_atomically(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as file:
            header = json.loads((file.metadata() or {})[METADATA_KEY])
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except FileNotFoundError:
        raise MuseError(f"{path}: no such checkpoint") from None
    except (SafetensorError, KeyError, ValueError, OSError) as error:
        raise MuseError(f"{path}: not a muse_gan checkpoint ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise MuseError(f"{path}: not a muse_gan checkpoint (its header is not a JSON object)")
    if header.get("format") != FORMAT:
        raise MuseError(f"{path}: checkpoint format {header.get('format')} is not supported (this is format {FORMAT})")
    return tensors, header


def read_config(path: Path):
    """The ``Config`` a checkpoint was made with, from its header alone (no tensors are read)."""
    from safetensors import SafetensorError, safe_open

    from .config import Config

    try:
        with safe_open(str(path), framework="pt") as file:
            header = json.loads((file.metadata() or {})[METADATA_KEY])
    except FileNotFoundError:
        raise MuseError(f"{path}: no such checkpoint") from None
    except (SafetensorError, KeyError, ValueError, OSError) as error:
        raise MuseError(f"{path}: not a muse_gan checkpoint ({type(error).__name__})") from None
    if not isinstance(header, dict) or "config" not in header:
        raise MuseError(f"{path}: not a muse_gan checkpoint (its header has no config)")
    return Config.from_dict(header["config"], str(path))


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
