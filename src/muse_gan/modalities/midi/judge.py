"""`muse eval` for MIDI: windows of whole bars, measured by the piece-level metrics of ``metrics``."""

from __future__ import annotations

import numpy as np

from ...core.rules import KeepsRules
from ...errors import MuseError
from ...measures.judge import GENERATED, Judge, Samples, pick
from .metrics import describe
from .view import draw


class MidiJudge(Judge):
    """Windows of ``options.bars`` bars: pieces cut on bar lines, generated pieces of that
    length; the piece-level metrics of ``metrics.describe``."""

    def samples(self, name, pieces, count):
        """Windows of whole bars of the pieces as the model sees them (its tracks, its meters);
        only their openings with ``options.openings``."""
        segments = self.adapter.model_view(pieces)
        return self.windows(name, segments, count, openings=bool(self.options.openings))

    def windows(self, name, segments, count, openings: bool = False):
        """``count`` windows of ``options.bars`` whole bars cut from ``segments`` (pieces as the
        model sees them: ``adapter.model_view``, or some of them, one class say); with
        ``openings``, only each piece's first bars, as a piece composed from nothing is. Where
        fewer than ``count`` such windows exist (16-bar windows of chorales, say), pieces too
        short for one but at least half as long count too, whole (their whole bars): a key is
        then judged over a whole piece."""
        bars = self.options.bars
        windows, shorter = [], []
        for segment in segments:
            bar, steps = segment.info["bar"], segment.info["steps"]
            window = bars * bar
            last = min(steps - window, 0) if openings else steps - window
            windows += [(segment, start, window) for start in range(0, last + 1, window)]
            if bars * bar > steps >= -(-bars // 2) * bar:
                shorter.append((segment, 0, steps - steps % bar))
        if len(windows) < count:
            windows += shorter
        if not windows:
            raise MuseError(f"{name}: no piece is {bars} bars long (--bars)")
        chosen = pick(windows, count, self.options.seed)
        labels = [segment.label for segment, *_ in chosen]
        return Samples(
            name, [self._window(*window) for window in chosen], labels if any(labels) else None
        )

    def _window(self, segment, start: int, steps: int) -> tuple[np.ndarray, int]:
        """A window's notes ``(tracks, steps, pitches)`` and its bar length."""
        roll = draw(segment, self.adapter.shape, start, steps)
        return roll[:, :, : self.adapter.pitches] > 0, segment.info["bar"]

    def generate(self, muse, count, like: Samples | None = None):
        """Pieces of ``options.bars`` bars. A model with classes (meters, voice counts) composes
        each in the class of the next item of ``like`` in turn (the reference: its classes as
        often as it has them, so that each is judged as the data is), or without it in each
        class it knows in turn."""
        seed, bars, temperature = self.options.seed, self.options.bars, self.options.temperature
        classes = self.adapter.classes
        if classes and like and like.labels:
            classes = like.labels
        asked = [self._asked_of(muse, label) for label in classes] or [{}]
        items = []
        for number in range(count):
            piece = muse.compose(
                bars,
                seed=seed + number,
                temperature=temperature,
                key_hold=self.options.key_hold if "key_hold" in muse.pulls else None,
                **asked[number % len(asked)],
            )
            items.append(
                (piece.roll[:, :, : self.adapter.pitches].numpy() > 0, piece.roll.shape[1] // bars)
            )
        labels = [classes[n % len(classes)] for n in range(count)] if classes else None
        return Samples(GENERATED, items, labels)

    def _asked_of(self, muse, label: str) -> dict:
        """How to ask ``muse`` for the class ``label``; a voice count only of a family that
        keeps the rules leaving the other voices silent (others compose with all of them, as
        `muse compose` without --voices does)."""
        asked = self.adapter.asked_of(label)
        if not isinstance(muse.objective, KeepsRules):
            asked.pop("voices", None)
        return asked

    def per_item(self, samples):
        settings = self.adapter.settings
        described = [
            describe(
                roll,
                steps_per_beat=settings.steps_per_beat,
                steps_per_bar=bar,
                pitch_low=settings.pitch_low,
                drum_tracks=settings.drum_tracks,
            )
            for roll, bar in samples.items
        ]
        return {name: np.array([values[name] for values in described]) for name in described[0]}
