"""Temperature calibration of a trained RNN (`muse calibrate`; Guo et al. 2017).

A network trained until its validation loss stops falling is often too sure of itself: it puts
a little too much probability on what it expects. One number fixes most of that: its head's
logits divided by a temperature, the one that gives held-out pieces the lowest NLL. It is
found on the run's validation pieces (or a folder given), never on its test pieces, and written
into the model file as ``model.calibration``; composing, `muse eval` and fine-tuning then read
it like any other setting, and ``--temperature`` tempers the calibrated distribution further.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from .assembly import model_from, resolve_model, upgrade
from .core import checkpoint as ckpt
from .core.config import MAX_CALIBRATION, MIN_CALIBRATION
from .core.store import say
from .errors import MuseError
from .evaluation import evaluation_pieces, frame_nll
from .files import locked
from .models.heads import Calibrated
from .pretrained import FOLDER as BUNDLED

SEARCH = (0.5, 2.0)  # the temperatures searched: a trained head is seldom off by more
STEPS = 16  # golden-section steps: the interval shrinks to 0.0005 of its width in log space
DECIMALS = 3


@dataclasses.dataclass(frozen=True)
class Calibration:
    temperature: float  # what the logits are now divided by
    before: float  # the pieces' NLL (nats per frame) with the model's calibration before
    after: float  # with ``temperature``
    pieces: int  # those it was fitted on
    frames: int
    path: Path  # the model file it was written into


def calibrate(model: str | Path, reference: str | None = None, quiet: bool = True) -> Calibration:
    """Finds the temperature that gives ``model``'s validation pieces (or the files in the folder
    ``reference``) the lowest NLL, and writes it into the model file (a run folder's
    model.safetensors or a model file of one's own; not a bundled model, nor a training
    checkpoint, which ``--resume`` reads as the run left it). The folder is locked meanwhile,
    as a training run locks it."""
    path = resolve_model(model)
    if path.parent == BUNDLED:
        raise MuseError(
            f"--model {model}: a bundled model is not rewritten; calibrate a run folder, or "
            "fine-tune it into one"
        )
    with locked(path.parent, say):
        tensors, header = upgrade(path, *ckpt.load_checkpoint(path))
        if "optimizers" in header:
            raise MuseError(
                f"--model {model}: a training checkpoint (what --resume reads) is not rewritten; "
                "calibrate the run's model.safetensors"
            )
        found = _fitted(model, model_from(path, tensors, header), reference, quiet)
        _write(path, tensors, header, found.temperature)
    return found


def _fitted(model, muse, reference: str | None, quiet: bool) -> Calibration:
    """The temperature that fits, the NLL before and with it, and what it was fitted on."""
    head = getattr(muse.objective, "head", None)
    if muse.config.model.family != "rnn" or not isinstance(head, Calibrated):
        raise MuseError(
            f"--model {model}: only an RNN with logits (a pitchwise, voicewise, bernoulli or "
            "softmax head) is calibrated"
        )
    pieces = evaluation_pieces(muse.config, muse.adapter, reference, "valid", quiet)
    view, why = muse.adapter.viewed(pieces)
    if not view:
        raise MuseError(
            f"--model {model}: it reads none of the {len(pieces)} pieces to calibrate on "
            f"({why or 'too short'})"
        )

    def nll(temperature: float) -> tuple[float, int]:
        head.calibration = temperature
        return frame_nll(muse.objective, view, muse.adapter)

    before, frames = nll(muse.config.model.calibration)
    temperature = round(_lowest(lambda t: nll(t)[0], *SEARCH), DECIMALS)
    after = nll(temperature)[0]
    if after > before:  # the model's own calibration fits these pieces better: kept
        temperature, after = muse.config.model.calibration, before
    return Calibration(temperature, before, after, len(view), frames, muse.path)


def _lowest(loss, low: float, high: float) -> float:
    """The temperature in ``low``..``high`` with the lowest ``loss``, by golden-section search
    on its logarithm (held-out NLL is smooth and has one minimum in the temperature)."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = math.log(max(low, MIN_CALIBRATION)), math.log(min(high, MAX_CALIBRATION))
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    loss_c, loss_d = loss(math.exp(c)), loss(math.exp(d))
    for _ in range(STEPS):
        if loss_c <= loss_d:
            b, d, loss_d = d, c, loss_c
            c = b - ratio * (b - a)
            loss_c = loss(math.exp(c))
        else:
            a, c, loss_c = c, d, loss_d
            d = a + ratio * (b - a)
            loss_d = loss(math.exp(d))
    return math.exp((a + b) / 2)


def _write(path: Path, tensors: dict, header: dict, temperature: float) -> None:
    """The model file as it was read, with ``model.calibration`` set."""
    header["config"]["model"]["calibration"] = temperature
    info = {key: value for key, value in header.items() if key not in ("format", "version")}
    info.pop("checksum", None)
    ckpt.save_checkpoint(path, tensors, info)
