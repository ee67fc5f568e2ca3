"""Do generated notes have the pitch they were asked for, and the timbre of the data?

- ``note_pitch``: the MIDI pitch of a note by an independent tracker (librosa's pYIN): the
  median f0 of its voiced frames, NaN when none is voiced.
- ``pitch_accuracy``: the share of notes within one semitone of the asked pitch (an octave
  error counts as wrong; so does an unvoiced note).
- ``spectral_centroids``: each note's mean spectral centroid in Hz, whose distribution is
  compared with the data's (``measures.distributions.overlap_area``) as a coarse timbre check.
"""

from __future__ import annotations

import math

import numpy as np

LOWEST, HIGHEST = 24, 108  # the pitch tracker's search range, MIDI pitches (C1 to C8)


def note_pitch(waveform: np.ndarray, sample_rate: int) -> float:
    """The note's MIDI pitch (a float) by pYIN; NaN if no frame is voiced."""
    import librosa

    f0, voiced, _ = librosa.pyin(
        np.asarray(waveform, dtype=np.float32),
        sr=sample_rate,
        fmin=librosa.midi_to_hz(LOWEST),
        fmax=librosa.midi_to_hz(HIGHEST),
        frame_length=2048,
    )
    heard = f0[voiced & np.isfinite(f0)]
    return float(librosa.hz_to_midi(np.median(heard))) if len(heard) else math.nan


def pitch_accuracy(estimated, asked, tolerance: float = 1.0) -> float:
    """The share of ``estimated`` pitches within ``tolerance`` semitones of the ``asked`` ones."""
    estimated, asked = np.asarray(estimated, dtype=float), np.asarray(asked, dtype=float)
    return float(np.mean(np.abs(estimated - asked) <= tolerance))  # NaN compares False: a miss


def spectral_centroids(waveforms, sample_rate: int) -> np.ndarray:
    """Each waveform's spectral centroid in Hz, averaged over its frames that have sound."""
    import librosa

    centroids = []
    for waveform in waveforms:
        waveform = np.asarray(waveform, dtype=np.float32)
        frames = librosa.feature.spectral_centroid(y=waveform, sr=sample_rate)[0]
        loud = librosa.feature.rms(y=waveform)[0] > 1e-3
        centroids.append(float(frames[loud[: len(frames)]].mean()) if loud.any() else math.nan)
    return np.asarray(centroids)
