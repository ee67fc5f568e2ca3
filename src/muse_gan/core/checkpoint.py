"""Self-describing checkpoints: safetensors weights + JSON (config, adapter settings, version).

Nothing in a checkpoint is executed on load: tensors come from safetensors and everything
else is JSON. The header holds a checksum of the tensors; a file whose tensors no longer match
it, or hold NaN or infinite values, is refused in one line naming it. Files are written to a temporary name in the same folder and then renamed
(``files.write_atomically``), so a process killed mid-write never leaves a half-written file
under the real name. What the header's settings describe (a modality, a family) is rebuilt
by the composition root (``muse_gan.assembly``), which also reads older formats.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..errors import MuseError
from ..files import write_atomically

FORMAT = 2  # 2: modality settings (and their GAN terms) in their own section; see assembly.upgrade
READABLE_FORMATS = (1, 2)
METADATA_KEY = "muse_gan"


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], info: dict) -> None:
    """Writes ``tensors`` and the JSON-able ``info`` (config, adapter, step, ...) to ``path``."""
    from safetensors.torch import save

    from ..version import __version__

    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    header = {"format": FORMAT, "version": __version__, **info, "checksum": checksum(tensors)}
    write_atomically(path, save(tensors, metadata={METADATA_KEY: json.dumps(header)}))


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and header of a checkpoint, as written (its format in ``header["format"]``); a
    file that isn't one is a ``MuseError`` naming it."""
    return _read(Path(path), with_tensors=True)


def read_header(path: Path) -> dict:
    """A checkpoint's header alone (no tensors are read)."""
    return _read(Path(path), with_tensors=False)[1]


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
    if header.get("format") not in READABLE_FORMATS:
        raise MuseError(
            f"{path}: checkpoint format {header.get('format')!r} is not supported (this version reads "
            f"formats {', '.join(map(str, READABLE_FORMATS))})"
        )
    if with_tensors:
        _check_tensors(path, tensors, header)
    return tensors, header


def checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors: each one's name, type, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).contiguous().view(torch.uint8).numpy())
    return digest.hexdigest()


def _check_tensors(path: Path, tensors: dict[str, torch.Tensor], header: dict) -> None:
    """Tensors as they were written (files from before checksums have none to compare), and
    finite: damaged weights would compose silence, or nothing at all."""
    if "checksum" in header and header["checksum"] != checksum(tensors):
        raise MuseError(
            f"{path}: its tensors are damaged (they do not match the header's checksum)"
        )
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise MuseError(f"{path}: its tensor {name} holds NaN or infinite values")


def misfit(
    expected: dict[str, torch.Size], tensors: dict[str, torch.Tensor], holder: str
) -> str | None:
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
    return {
        name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)
    }


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


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict
) -> None:
    state: dict[int, dict] = {}
    for key, value in list(tensors.items()) + list(info["scalars"].items()):
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
