"""`muse eval`: how close generated items come to reference data, for every modality, and how
well a likelihood model predicts held-out pieces.

Both sides become ``Samples`` of the same form (MIDI: 4-bar windows of piano rolls; pictures
and spectrograms: float tensors; text: strings), then a modality's ``Judge`` measures them:

- per-item metrics (a value for every item: a window's empty-bar rate, a tune's length): the
  means side by side, plus how well the two distributions overlap, the overlapping area and
  KL(reference ‖ generated) of their kernel density estimates (Yang & Lerch 2018);
- per-set metrics (the classifier score, NDB, FID, n-gram divergence, parse rate): one number
  per set, the reference's own value where it has one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import Config
from .data import class_indices, in_common_key, load_pieces, split
from .errors import MuseError
from .judges import JUDGES, Options, Samples, pick

HELD_OUT = "held-out"  # the valid and test parts together
DEFAULT_COUNTS = {"midi": 100, "image": 500, "audio": 100, "text": 100}
INFERRED_MODALITY = {".mid": "midi", ".midi": "midi", ".mxl": "midi", ".musicxml": "midi", ".xml": "midi",
                     ".wav": "audio", ".flac": "audio", ".ogg": "audio", ".txt": "text", ".abc": "text",
                     ".png": "image", ".jpg": "image", ".jpeg": "image", ".webp": "image", ".bmp": "image"}


@dataclass
class Report:
    modality: str
    reference: str  # what the reference data is, in words
    counts: dict[str, int]  # items in each set, the reference included
    metrics: dict[str, dict] = field(default_factory=dict)  # name → {"reference": v, set name: {"value", "overlap", "kl"}}
    histograms: dict[str, dict[str, float]] = field(default_factory=dict)  # set → class → share of its items
    likelihood: dict | None = None
    notes: list[str] = field(default_factory=list)
    command: str = ""

    @property
    def sets(self) -> list[str]:
        return [name for name in self.counts if name != "reference"]

    def to_json(self) -> str:
        fields = {key: getattr(self, key) for key in ("command", "modality", "reference", "counts", "metrics",
                                                      "histograms", "likelihood", "notes")}
        return json.dumps(_finite_or_null(fields), indent=2, allow_nan=False) + "\n"

    def table(self, markdown: bool = False) -> str:
        """The metrics as a table: plain columns for a terminal, or Markdown."""
        header = ["metric", "reference"] + [title for name in self.sets for title in (name, "overlap", "KL")]
        rows = [[name, _cell(values["reference"])]
                + [_cell(values.get(set_name, {}).get(key)) for set_name in self.sets for key in ("value", "overlap", "kl")]
                for name, values in self.metrics.items()]
        lines = _markdown(header, rows) if markdown else _columns(header, rows)
        lines += self._histogram_lines(markdown)
        if self.likelihood:
            lines += ["", describe_likelihood(self.likelihood)]
        if self.notes:
            lines += [""] + [f"{'- ' if markdown else ''}{note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def _histogram_lines(self, markdown: bool) -> list[str]:
        if not self.histograms:
            return []
        classes = list(next(iter(self.histograms.values())))
        rows = [[name] + [_cell(shares[label]) for label in classes] for name, shares in self.histograms.items()]
        header = ["share classified as"] + classes
        return [""] + (_markdown(header, rows) if markdown else _columns(header, rows))


def describe_likelihood(likelihood: dict) -> str:
    return (f"{likelihood['measure']} {likelihood['value']:.3f} {likelihood['unit']} on the reference: "
            f"{likelihood['pieces']} pieces, {likelihood['frames']} {likelihood['frame_name']}")


def compare(judge, sets: list[Samples], reference: Samples, report: Report) -> Report:
    """Fills ``report.metrics`` with ``judge``'s metrics of every set next to the reference's."""
    from .metrics import kl_divergence, overlap_area

    reference_values = judge.per_item(reference)
    per_item = {samples.name: judge.per_item(samples) for samples in sets}
    for name, values in reference_values.items():
        row = {"reference": float(np.nanmean(values)) if np.isfinite(values).any() else math.nan}
        for samples in sets:
            generated = per_item[samples.name][name]
            row[samples.name] = {"value": float(np.nanmean(generated)) if np.isfinite(generated).any() else math.nan,
                                 "overlap": overlap_area(generated, values), "kl": kl_divergence(values, generated)}
        if not all(math.isnan(row[samples.name]["value"]) for samples in sets) or not math.isnan(row["reference"]):
            report.metrics[name] = row
    reference_sets = judge.reference_metrics(reference, report)
    for samples in sets:
        for name, value in judge.per_set(samples, reference, report).items():
            report.metrics.setdefault(name, {"reference": reference_sets.get(name, math.nan)})[samples.name] = \
                {"value": value}
    return report


def mean_overlap(reference_values: dict[str, np.ndarray], sample_values: dict[str, np.ndarray]) -> float:
    """The overlapping area of the samples' and the reference's distributions of each per-item
    metric (a judge's ``per_item``), averaged over the metrics the reference defines: 1 when
    every one is distributed alike. A metric the samples leave undefined throughout scores 0,
    so every ranking averages over the same metrics."""
    from .metrics import overlap_area

    areas = [overlap_area(sample_values[name], values) if np.isfinite(sample_values[name]).any() else 0.0
             for name, values in reference_values.items() if np.isfinite(values).any()]
    return float(np.mean(areas)) if areas else 0.0


class SampleOverlap:
    """How `train.select_by = "overlap"` ranks a run's weights: ``mean_overlap`` of their samples
    (seeds 0, 1, ...; MIDI pieces one training window long) and ``pieces`` (MIDI: windows as long,
    cut on bar lines), as many of each as `muse eval` takes. The reference's metrics are measured
    once, when the run starts, so pieces it cannot use fail then, not at the first validation."""

    def __init__(self, adapter, config: Config, pieces: list):
        self.adapter, self.config = adapter, config
        self.count = DEFAULT_COUNTS[adapter.modality]
        self.judge = JUDGES.get(adapter.modality)(adapter, Options(count=self.count, bars=config.data.window_bars))
        try:
            reference = self.judge.samples("validation pieces", pick(pieces, self.count, 0), self.count)
        except MuseError as error:
            raise MuseError(f"train.select_by = \"overlap\": {error}") from None
        self.reference_values = self.judge.per_item(reference)

    def __call__(self, objective, path: Path) -> float:
        from .api import MuseModel

        generated = self.judge.generate(MuseModel(objective, self.adapter, self.config, path), self.count)
        return mean_overlap(self.reference_values, self.judge.per_item(generated))


# what to compare

def evaluate(model: str | None = None, files: str | None = None, reference: str | None = None,
             part: str = HELD_OUT, modality: str | None = None, options: Options = Options(),
             training: bool = False) -> Report:
    """Samples of ``model`` (or the items in the folder ``files``) judged against ``reference``
    (a folder or a built-in corpus; default: the model's ``part`` split of its own data, or
    the modality's built-in data). ``training`` adds the model's training data as a set: how
    close real data from the same source comes."""
    from .api import load

    if (model is None) == (files is None):
        raise MuseError("give a model to sample (--model) or a folder of generated files (--files), one of them")
    muse = load(model) if model else None
    adapter = labelled(muse.adapter if muse else default_adapter(modality or infer_modality(files)))
    if muse and modality and modality != adapter.modality:
        raise MuseError(f"--modality {modality}: {muse.path} is a {adapter.modality} model")
    judge = JUDGES.get(adapter.modality)(adapter, options)
    count = options.count or DEFAULT_COUNTS[adapter.modality]
    reference_pieces, where = _reference(muse, adapter, reference, part)
    reference_pieces = pick(reference_pieces, count, options.seed)
    if muse:
        sets = [judge.generate(muse, count)]
        if training:
            train = evaluation_pieces(muse.config, adapter, None, "train", quiet=True)
            sets.append(judge.samples("training data", pick(train, count, options.seed), count))
    else:
        pieces = pick(load_pieces(adapter, files, quiet=True, option="--files"), count, options.seed)
        sets = [judge.samples(Path(files).name or "files", pieces, count)]
    reference_samples = judge.samples("reference", reference_pieces, count)
    counts = {"reference": len(reference_samples.items)} | {samples.name: len(samples.items) for samples in sets}
    report = compare(judge, sets, reference_samples, Report(adapter.modality, where, counts))
    if muse:
        report.likelihood = likelihood(muse, reference_pieces)
        if report.likelihood is None:
            report.notes.append(f"no likelihood: {muse.objective.a_family} defines none")
    return report


def _reference(muse, adapter, reference: str | None, part: str) -> tuple[list, str]:
    """The reference pieces and what they are, in words."""
    if reference:
        return load_pieces(adapter, reference, quiet=True, option="--reference"), _where(reference)
    if muse:
        pieces = evaluation_pieces(muse.config, adapter, None, part, quiet=True)
        return pieces, f"{_where(muse.config.data.source)}, the model's {part} part"
    return load_pieces(adapter, "builtin", quiet=True), "the built-in data"


def infer_modality(folder: str) -> str:
    """The modality most files in ``folder`` belong to, by suffix (.png: pictures, .abc: text)."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise MuseError(f"--files {folder}: no such file or folder")
    found = [INFERRED_MODALITY.get(file.suffix.lower()) for file in ([path] if path.is_file() else path.rglob("*"))]
    counts = {modality: found.count(modality) for modality in set(found) - {None}}
    if not counts:
        raise MuseError(f"--files {folder}: no MIDI, score, audio, text or image files found")
    return max(counts, key=counts.get)


def default_adapter(modality: str):
    from .adapters import ADAPTERS, build_adapter

    ADAPTERS.get(modality)  # an unknown name is one clear error
    return build_adapter(Config.from_dict({"data": {"modality": modality}}))


def labelled(adapter):
    """An adapter that reads class labels from folder names (for the classifier and pitch
    accuracy), whatever the model trained with."""
    import dataclasses

    if not hasattr(adapter.settings, "labels") or adapter.settings.labels:
        return adapter
    return type(adapter)(dataclasses.replace(adapter.settings, labels=True), adapter.classes)


def evaluation_pieces(config: Config, adapter, data: str | None, part: str, quiet: bool = False):
    """The pieces to evaluate on: every file in ``data`` when given, else the model's own
    data source cut into the same train/valid/test split as its training run (``part``:
    "train", "valid", "test", "held-out" for valid and test, or "all")."""
    pieces = load_pieces(adapter, data or config.data.source, 0 if data else config.data.limit, quiet)
    if data or part == "all":
        return pieces
    parts = split(pieces, config.data.valid_fraction, config.data.test_fraction)
    chosen = parts["valid"] + parts["test"] if part == HELD_OUT else parts[part]
    if not chosen:
        data = config.data
        raise MuseError(f"--split {part}: no piece of the model's data falls in its {part} part (data.valid_fraction "
                        f"{data.valid_fraction}, data.test_fraction {data.test_fraction}); give a folder with --reference")
    return chosen


def likelihood(muse, pieces) -> dict | None:
    """Held-out NLL of ``pieces`` under the model: bits per character for text, else nats
    per frame (a frame: a roll's step, an image's row, a spectrogram's frame); None for
    models without a likelihood."""
    if not hasattr(muse.objective, "frame_nll"):
        return None
    if muse.adapter.modality == "text":
        from .adapters.text import text_of
        from .text_quality import bits_per_character

        characters = sum(len(text_of(piece.roll)) + 1 for piece in pieces)
        return {"measure": "NLL", "unit": "bits per character", "value": bits_per_character(muse.objective, pieces, muse.adapter),
                "pieces": len(pieces), "frames": characters, "frame_name": "characters"}
    if muse.config.data.common_key:  # scored as the model was trained: in C major / A minor
        pieces = in_common_key(pieces, muse.adapter.settings.pitch_low)
    nll, frames = frame_nll(muse.objective, pieces, muse.adapter)
    frame_name = {"midi": "steps", "image": "rows", "audio": "frames"}[muse.adapter.modality]
    return {"measure": "frame NLL", "unit": "nats per frame", "value": nll, "pieces": len(pieces), "frames": frames,
            "frame_name": frame_name}


@torch.no_grad()
def frame_nll(objective, pieces, adapter) -> tuple[float, int]:
    """Mean negative log-likelihood per frame (nats, summed over all cells of a frame; an
    image's frame is a row) over every frame of every piece, each piece read whole from its
    first step; and the frame count. Labelled pieces are scored given their label."""
    if not hasattr(objective, "frame_nll"):
        raise MuseError(f"{objective.a_family} model has no likelihood to evaluate (use an RNN or VAE model)")
    total, frames = 0.0, 0
    objective.eval()
    for piece in pieces:
        nll = objective.frame_nll(adapter.values(piece.roll[None]), class_indices(adapter, [piece]))
        total += nll.sum().item()
        frames += nll.numel()
    return total / frames, frames


def _where(source: str) -> str:
    return "the built-in data" if source == "builtin" else source


def _finite_or_null(value):
    """JSON has no NaN or infinity: they are written as null."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(row[column])) for row in [header] + rows) for column in range(len(header))]
    return ["  ".join(str(cell).ljust(width) if column == 0 else str(cell).rjust(width)
                      for column, (cell, width) in enumerate(zip(row, widths))).rstrip() for row in [header] + rows]


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |" for row in rows]

