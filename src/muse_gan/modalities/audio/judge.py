"""`muse eval` for sounds: spectral centroid and level, pYIN pitch accuracy, NDB over mel frames."""

from __future__ import annotations

import numpy as np
import torch

from ...measures.judge import FixedSizeJudge, Samples, note
from .pitch import note_pitch, pitch_accuracy, spectral_centroids


class AudioJudge(FixedSizeJudge):
    """Sound from every spectrogram by the adapter's Griffin-Lim (the same path for both sides,
    so the comparison is of spectrograms, not of vocoders): spectral centroid and level per
    item; pYIN pitch accuracy when classes are MIDI pitches; NDB over mel frames."""

    cell_name = "mel frames"
    MOST_FRAMES = 20_000  # NDB's k-means runs on at most this many frames of each set

    def __init__(self, adapter, options):
        super().__init__(adapter, options)
        self._sounds: dict[str, list[np.ndarray]] = {}

    def sounds(self, samples: Samples) -> list[np.ndarray]:
        if samples.name not in self._sounds:
            self._sounds[samples.name] = [self.adapter.decode(values) for values in samples.items]
        return self._sounds[samples.name]

    def per_item(self, samples):
        return {
            "spectral_centroid_hz": spectral_centroids(
                self.sounds(samples), self.adapter.settings.sample_rate
            ),
            "mel_level": torch.stack(samples.items).flatten(1).mean(1).numpy(),
        }

    def vectors(self, samples):
        frames = torch.cat([values[0] for values in samples.items])  # (frames, mels)
        keep = torch.randperm(
            len(frames), generator=torch.Generator().manual_seed(self.options.seed)
        )[: self.MOST_FRAMES]
        return frames[keep.sort().values]

    def reference_metrics(self, reference, report):
        return self._pitch(reference, report)

    def per_set(self, samples, reference, report):
        return self._pitch(samples, report) | super().per_set(samples, reference, report)

    def _pitch(self, samples, report) -> dict[str, float]:
        """Share of items within a semitone of their class's MIDI pitch, when classes are pitches."""
        if not samples.labels or not all(
            label.isdigit() and int(label) < 128 for label in samples.labels
        ):
            return {}
        note(
            report,
            "pitch accuracy: share of notes whose pYIN pitch is within a semitone of their class's",
        )
        rate = self.adapter.settings.sample_rate
        return {
            "pitch_accuracy": pitch_accuracy(
                [note_pitch(sound, rate) for sound in self.sounds(samples)],
                [int(label) for label in samples.labels],
            )
        }
