"""``train.select_by = "overlap"``: a run's weights ranked by how alike their samples' metrics
and the validation pieces' are, the hook the composition root gives the Trainer."""

from __future__ import annotations

import numpy as np

from ..errors import MuseError
from ..measures.distributions import overlap_area
from ..measures.judge import Options, pick
from ..model import MuseModel


def mean_overlap(
    reference_values: dict[str, np.ndarray], sample_values: dict[str, np.ndarray]
) -> float:
    """The overlapping area of the samples' and the reference's distributions of each per-item
    metric (a judge's ``per_item``), averaged over the metrics the reference defines: 1 when
    every one is distributed alike. A metric the samples leave undefined throughout scores 0,
    so every ranking averages over the same metrics."""
    areas = [
        overlap_area(sample_values[name], values) if np.isfinite(sample_values[name]).any() else 0.0
        for name, values in reference_values.items()
        if np.isfinite(values).any()
    ]
    return float(np.mean(areas)) if areas else 0.0


class SampleOverlap:
    """Scores a run's sampling model by ``mean_overlap`` of its samples (seeds 0, 1, ...; MIDI
    pieces one training window long) and the validation ``pieces`` (cut the same way), as many
    of each as `muse eval` takes. The reference's metrics are measured once, when the run
    starts, so pieces it cannot use fail then, not at the first validation."""

    name = "overlap"  # the validation scalar it is logged as

    def __init__(self, adapter, config, pieces: list, path):
        self.adapter, self.config, self.path = adapter, config, path
        self.count = adapter.evaluation_count
        window_bars = (
            adapter.spec.window // adapter.spec.steps_per_bar if adapter.spec.window else 1
        )
        self.judge = adapter.judge(Options(count=self.count, bars=window_bars))
        try:
            reference = self.judge.samples(
                "validation pieces", pick(pieces, self.count, 0), self.count
            )
        except MuseError as error:
            raise MuseError(f'train.select_by = "overlap": {error}') from None
        self.reference, self.reference_values = reference, self.judge.per_item(reference)

    def __call__(self, objective) -> float:
        generated = self.judge.generate(
            MuseModel(objective, self.adapter, self.config, self.path), self.count, self.reference
        )
        return mean_overlap(self.reference_values, self.judge.per_item(generated))
