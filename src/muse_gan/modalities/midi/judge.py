"""`muse eval` for MIDI: windows of whole bars, measured by the piece-level metrics of ``metrics``."""

from __future__ import annotations

import numpy as np

from ...errors import MuseError
from ...measures.judge import GENERATED, Judge, Samples, pick
from .metrics import describe


class MidiJudge(Judge):
    """Windows of ``options.bars`` bars: pieces cut on bar lines, generated pieces of that
    length; the piece-level metrics of ``metrics.describe``."""

    def samples(self, name, pieces, count):
        window = self.options.bars * self.adapter.steps_per_bar
        windows = [
            piece.tensor[:, start : start + window]
            for piece in pieces
            for start in range(0, piece.tensor.shape[1] - window + 1, window)
        ]
        if not windows:
            raise MuseError(f"{name}: no piece is {self.options.bars} bars long (--bars)")
        return Samples(
            name, [window.numpy() > 0 for window in pick(windows, count, self.options.seed)]
        )

    def generate(self, muse, count):
        seed, bars, temperature = self.options.seed, self.options.bars, self.options.temperature
        return Samples(
            GENERATED,
            [
                muse.compose(bars, seed=seed + number, temperature=temperature).roll.numpy() > 0
                for number in range(count)
            ],
        )

    def per_item(self, samples):
        settings = self.adapter.settings
        described = [
            describe(
                roll,
                steps_per_beat=settings.steps_per_beat,
                steps_per_bar=self.adapter.steps_per_bar,
                pitch_low=settings.pitch_low,
                drum_tracks=settings.drum_tracks,
            )
            for roll in samples.items
        ]
        return {name: np.array([values[name] for values in described]) for name in described[0]}
