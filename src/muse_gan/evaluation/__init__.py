"""`muse eval`: how close generated items come to reference data, for every modality, and how
well a likelihood model predicts held-out pieces.

Both sides become ``Samples`` of the same form (MIDI: windows of piano rolls; pictures and
spectrograms: float tensors; text: strings), then the modality's judge (``Adapter.judge``)
measures them:

- per-item metrics (a value for every item: a window's empty-bar rate, a tune's length): the
  means side by side, plus how well the two distributions overlap, the overlapping area and
  KL(reference ‖ generated) of their kernel density estimates (Yang & Lerch 2018);
- per-set metrics (the classifier score, NDB, FID, n-gram divergence, parse rate): one number
  per set, the reference's own value where it has one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..core.adapter import LabelledAdapter
from ..core.config import Config
from ..core.objective import Likelihood
from ..core.samplers import class_indices
from ..core.store import BUILTIN, data_parts, load_pieces
from ..errors import MuseError
from ..measures.judge import Options, pick
from ..modalities import ADAPTERS, build_adapter
from .report import Report, compare

HELD_OUT = "held-out"  # the valid and test parts together

__all__ = [
    "HELD_OUT",
    "Options",
    "Report",
    "evaluate",
    "evaluation_pieces",
    "frame_nll",
    "likelihood",
]


def evaluate(
    muse=None,
    files: str | None = None,
    reference: str | None = None,
    part: str = HELD_OUT,
    modality: str | None = None,
    options: Options = Options(),
    training: bool = False,
) -> Report:
    """Samples of the loaded model ``muse`` (a ``MuseModel``; or the items in the folder
    ``files``) judged against ``reference`` (a folder or a built-in corpus; default: the
    model's ``part`` split of its own data, or the modality's built-in data). ``training`` adds
    the model's training data as a set: how close real data from the same source comes."""
    if (muse is None) == (files is None):
        raise MuseError(
            "give a model to sample (--model) or a folder of generated files (--files), one of them"
        )
    adapter = labelled(muse.adapter if muse else default_adapter(modality or infer_modality(files)))
    if muse and modality and modality != adapter.modality:
        raise MuseError(f"--modality {modality}: {muse.path} is a {adapter.modality} model")
    count = options.count or adapter.evaluation_count
    reference_pieces, where = _reference(muse, adapter, reference, part)
    if (
        not muse
    ):  # what the files' reader leaves to the data (a MIDI folder's tracks) the reference says
        adapter = adapter.fitted(reference_pieces)
    options, said = _windows_from(muse, options)
    judge = adapter.judge(options)
    reference_pieces = pick(reference_pieces, count, options.seed)
    reference_samples = judge.samples("reference", reference_pieces, count)
    if muse:
        sets = [judge.generate(muse, count, like=reference_samples)]
        if training:
            train = evaluation_pieces(muse.config, adapter, None, "train", quiet=True)
            sets.append(judge.samples("training data", pick(train, count, options.seed), count))
    else:
        pieces = pick(
            load_pieces(adapter, files, quiet=True, option="--files"), count, options.seed
        )
        sets = [judge.samples(Path(files).name or "files", pieces, count)]
    counts = {"reference": len(reference_samples.items)} | {
        samples.name: len(samples.items) for samples in sets
    }
    report = compare(judge, sets, reference_samples, Report(adapter.modality, where, counts))
    report.notes += said
    if muse:
        report.likelihood = likelihood(muse, reference_pieces)
        if report.likelihood is None:
            report.notes.append(f"no likelihood: {muse.objective.a_family} defines none")
    return report


def _windows_from(muse, options: Options) -> tuple[Options, list[str]]:
    """``options`` with ``openings`` decided (None: a model told its bar numbers composes a
    piece's first bars, and is judged against the reference pieces' first bars), and the
    report's note saying so."""
    openings = options.openings
    if openings is None:
        openings = bool(muse and muse.config.model.bar_numbers)
    first_bars = f"reference: each piece's first {options.bars} bars, as a composed piece opens"
    said = [f"{first_bars} (--every-window: all)"] if openings else []
    return dataclasses.replace(options, openings=openings), said


def _reference(muse, adapter, reference: str | None, part: str) -> tuple[list, str]:
    """The reference pieces and what they are, in words."""
    if reference:
        return load_pieces(adapter, reference, quiet=True, option="--reference"), _where(reference)
    if muse:
        pieces = evaluation_pieces(muse.config, adapter, None, part, quiet=True)
        return pieces, f"{_where(muse.config.data.source)}, the model's {part} part"
    return load_pieces(adapter, BUILTIN, quiet=True), "the built-in data"


def infer_modality(folder: str) -> str:
    """The modality most files in ``folder`` belong to, by the suffixes each modality reads
    (.png: pictures, .abc: text, .mid and scores: MIDI)."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise MuseError(f"--files {folder}: no such file or folder")
    # a suffix two modalities read goes to the one registered last: .abc files are scores to MIDI
    # and tunes to text, and generated ones are a text model's
    readers = {suffix: name for name, adapter in ADAPTERS.items() for suffix in adapter.suffixes}
    found = [
        readers.get(file.suffix.lower()) for file in ([path] if path.is_file() else path.rglob("*"))
    ]
    counts = {modality: found.count(modality) for modality in set(found) - {None}}
    if not counts:
        raise MuseError(f"--files {folder}: no MIDI, score, audio, text or image files found")
    return max(counts, key=counts.get)


def default_adapter(modality: str):
    ADAPTERS.get(modality)  # an unknown name is one clear error
    return build_adapter(Config.from_dict({"data": {"modality": modality}}))


def labelled(adapter):
    """An adapter that reads class labels from folder names (for the classifier and pitch
    accuracy), whatever the model trained with."""
    return adapter.labelled() if isinstance(adapter, LabelledAdapter) else adapter


def evaluation_pieces(config: Config, adapter, data: str | None, part: str, quiet: bool = False):
    """The pieces to evaluate on: every file in ``data`` when given, else the model's own
    data source cut into the same train/valid/test split as its training run (``part``:
    "train", "valid", "test", "held-out" for valid and test, or "all")."""
    pieces = load_pieces(
        adapter, data or config.data.source, 0 if data else config.data.limit, quiet
    )
    if data or part == "all":
        return pieces
    parts = data_parts(adapter, config.data, pieces, quiet)
    chosen = parts["valid"] + parts["test"] if part == HELD_OUT else parts[part]
    if not chosen:
        data = config.data
        raise MuseError(
            f"--split {part}: no piece of the model's data falls in its {part} part (data.valid_fraction "
            f"{data.valid_fraction}, data.test_fraction {data.test_fraction}); give a folder with --reference"
        )
    return chosen


def likelihood(muse, pieces) -> dict | None:
    """Held-out NLL of ``pieces`` under the model, as its adapter reports it (nats per frame: a
    roll's step, an image's row, a spectrogram's frame; text: bits per character), the pieces
    seen as in training (e.g. moved to one key); None for models without a likelihood."""
    if not isinstance(muse.objective, Likelihood):
        return None
    nll, frames = frame_nll(muse.objective, muse.adapter.model_view(pieces), muse.adapter)
    found = muse.adapter.likelihood(nll, frames, pieces)
    calibration = muse.config.model.calibration
    return found | {"calibration": calibration} if calibration != 1.0 else found


@torch.no_grad()
def frame_nll(objective, pieces, adapter) -> tuple[float, int]:
    """Mean negative log-likelihood per frame (nats, summed over all cells of a frame; an
    image's frame is a row) over every frame of every piece, each piece read whole from its
    first step, and the frame count: the frames ``adapter.scored_steps`` counts (a MIDI piece's
    from its first sounding step to its last), each piece's total with what its model view costs
    (``adapter.view_nats``: a piece moved to one key, that key). Labelled pieces are scored
    given their label."""
    if not isinstance(objective, Likelihood):
        raise MuseError(
            f"{objective.a_family} model has no likelihood to evaluate (use an RNN or VAE model)"
        )
    total, frames = 0.0, 0
    objective.eval()
    for piece in pieces:
        tensor = adapter.tensor_of(piece)
        nll = objective.frame_nll(tensor[None], class_indices(adapter, [piece]))
        nll = nll[0, adapter.scored_steps(tensor)]
        total += nll.sum().item() + adapter.view_nats(piece)
        frames += nll.numel()
    return total / frames, frames


def _where(source: str) -> str:
    return "the built-in data" if source == BUILTIN else source
