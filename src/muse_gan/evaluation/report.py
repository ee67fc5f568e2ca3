"""The report `muse eval` prints and writes: each metric of every set next to the reference's."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..measures.distributions import kl_divergence, overlap_area
from ..measures.judge import Samples


@dataclass
class Report:
    modality: str
    reference: str  # what the reference data is, in words
    counts: dict[str, int]  # items in each set, the reference included
    # name → {"reference": v, set name: {"value", "overlap", "kl"}}
    metrics: dict[str, dict] = field(default_factory=dict)
    # set → class → share of its items
    histograms: dict[str, dict[str, float]] = field(default_factory=dict)
    likelihood: dict | None = None
    notes: list[str] = field(default_factory=list)
    command: str = ""

    @property
    def sets(self) -> list[str]:
        return [name for name in self.counts if name != "reference"]

    def to_json(self) -> str:
        fields = {
            key: getattr(self, key)
            for key in (
                "command",
                "modality",
                "reference",
                "counts",
                "metrics",
                "histograms",
                "likelihood",
                "notes",
            )
        }
        return json.dumps(_finite_or_null(fields), indent=2, allow_nan=False) + "\n"

    def table(self, markdown: bool = False) -> str:
        """The metrics as a table: plain columns for a terminal, or Markdown."""
        header = ["metric", "reference"] + [
            title for name in self.sets for title in (name, "overlap", "KL")
        ]
        rows = [
            [name, _cell(values["reference"])]
            + [
                _cell(values.get(set_name, {}).get(key))
                for set_name in self.sets
                for key in ("value", "overlap", "kl")
            ]
            for name, values in self.metrics.items()
        ]
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
        rows = [
            [name] + [_cell(shares[label]) for label in classes]
            for name, shares in self.histograms.items()
        ]
        header = ["share classified as"] + classes
        return [""] + (_markdown(header, rows) if markdown else _columns(header, rows))


def describe_likelihood(likelihood: dict) -> str:
    return (
        f"{likelihood['measure']} {likelihood['value']:.3f} {likelihood['unit']} on the reference: "
        f"{likelihood['pieces']} pieces, {likelihood['frames']} {likelihood['frame_name']}"
        + (f" (calibrated: {likelihood['calibration']})" if "calibration" in likelihood else "")
    )


def compare(judge, sets: list[Samples], reference: Samples, report: Report) -> Report:
    """Fills ``report.metrics`` with ``judge``'s metrics of every set next to the reference's."""
    reference_values = judge.per_item(reference)
    per_item = {samples.name: judge.per_item(samples) for samples in sets}
    for name, values in reference_values.items():
        row = {"reference": float(np.nanmean(values)) if np.isfinite(values).any() else math.nan}
        for samples in sets:
            generated = per_item[samples.name][name]
            row[samples.name] = {
                "value": float(np.nanmean(generated)) if np.isfinite(generated).any() else math.nan,
                "overlap": overlap_area(generated, values),
                "kl": kl_divergence(values, generated),
            }
        if not all(math.isnan(row[samples.name]["value"]) for samples in sets) or not math.isnan(
            row["reference"]
        ):
            report.metrics[name] = row
    reference_sets = judge.reference_metrics(reference, report)
    for samples in sets:
        for name, value in judge.per_set(samples, reference, report).items():
            report.metrics.setdefault(name, {"reference": reference_sets.get(name, math.nan)})[
                samples.name
            ] = {"value": value}
    return report


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
    widths = [
        max(len(str(row[column])) for row in [header] + rows) for column in range(len(header))
    ]
    return [
        "  ".join(
            str(cell).ljust(width) if column == 0 else str(cell).rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ).rstrip()
        for row in [header] + rows
    ]


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]
