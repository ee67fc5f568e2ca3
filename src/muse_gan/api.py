"""The library's face: what a script (or a DAW's) imports.

    >>> import muse_gan
    >>> model = muse_gan.load()                      # the bundled Bach chorale model
    >>> song = model.compose(bars=16, seed=1, tempo=96)
    >>> song.write("chorale.mid")                    # the same bytes as `muse compose ... -o chorale.mid`
    >>> digits = muse_gan.load("digits-gan")
    >>> digits.sample(8, seed=0, label="7").write("sevens.png")

``load`` takes a bundled model's name, a run folder or a checkpoint; ``train`` trains a config
into a run folder; ``calibrate`` fits a trained RNN's temperature; ``evaluate`` judges a model
(or a folder of files) against real data.
"""

from __future__ import annotations

from .assembly import load, load_config, resolve_model
from .calibration import Calibration, calibrate
from .evaluation import Options, Report
from .model import Animation, Items, MuseModel
from .options import check_options
from .training import train

__all__ = [
    "Animation",
    "Calibration",
    "Items",
    "MuseModel",
    "Options",
    "Report",
    "calibrate",
    "check_options",
    "evaluate",
    "load",
    "load_config",
    "resolve_model",
    "train",
]


def evaluate(
    model=None,
    files: str | None = None,
    reference: str | None = None,
    part: str = "held-out",
    modality: str | None = None,
    options: Options = Options(),
    training: bool = False,
) -> Report:
    """How close the samples of ``model`` (a name, run folder, checkpoint or loaded model), or
    the files in the folder ``files``, come to ``reference`` (see ``muse_gan.evaluation``)."""
    from .evaluation import evaluate as judge

    muse = model if model is None or isinstance(model, MuseModel) else load(model)
    return judge(muse, files, reference, part, modality, options, training)
