"""The ``[audio]`` config section."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.config import register_section


@register_section("audio")
@dataclass(frozen=True)
class AudioConfig:
    """Sound as log-mel spectrograms: clips of ``frames`` hops, ``mels`` bands, 0 to 1 in value."""

    sample_rate: int = 16000  # Hz; files at other rates are resampled
    n_fft: int = 1024  # STFT window, samples
    hop: int = 256  # samples between frames
    frames: int = 64  # a clip is frames × hop samples (64 × 256 at 16 kHz: 1.02 s)
    mels: int = 64
    fmin: float = 30.0  # Hz
    fmax: float = 8000.0  # Hz
    db_range: float = 80.0  # value 0 is this many dB below full scale, 1 is full scale
    # classes from the names of the folders the files are in (notes: the MIDI pitch)
    labels: bool = False
    short: str = "pad"  # a file shorter than a clip: "pad" with silence or "skip" it
    griffin_lim: int = 32  # phase-recovery iterations when turning spectrograms into sound
