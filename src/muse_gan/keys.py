"""Keys of piano rolls: move a piece to a common key.

A model trained on pieces all moved to C major or A minor (``data.common_key``) learns one
set of pitch classes instead of twelve; that matters most for convolutional GANs, whose
layers slide along the pitch axis and know nothing of absolute pitch on their own. Such a
model composes in C major or A minor, and a primer in another key is moved there and back.

Rolls here are ``(tracks, steps, pitches)``, pitch index 0 being MIDI pitch ``pitch_low``.
"""

from __future__ import annotations

import torch

from .metrics import PITCH_CLASSES, scale_fits


def common_key_shift(roll: torch.Tensor, pitch_low: int) -> int:
    """Semitones (-6 to +5) that move ``roll`` to C major or A minor: the shift that puts the
    largest share of its sounding time on the white keys (C major's pitch classes, and A natural
    minor's), the smallest such shift on ties. When that would push a note out of the roll, the
    same pitch classes an octave the other way; 0 for a silent roll or one that fits neither way.
    """
    fits = scale_fits(roll, pitch_low)  # (tonic,)
    if not fits.any():
        return 0
    to_c = [(6 - tonic) % PITCH_CLASSES - 6 for tonic in range(PITCH_CLASSES)]  # each tonic's shift to C, -6..5
    best = to_c[min(range(PITCH_CLASSES), key=lambda tonic: (-fits[tonic], abs(to_c[tonic])))]
    for shift in (best, best - PITCH_CLASSES if best > 0 else best + PITCH_CLASSES):
        if fits_shifted(roll, shift):
            return shift
    return 0


def fits_shifted(roll: torch.Tensor, semitones: int) -> bool:
    """Whether every note of ``roll`` stays inside its pitch range when moved ``semitones``
    (``shift_pitches`` drops those that don't); a silent roll always fits."""
    if not roll.any():
        return True
    low, high = _extent(roll)
    return 0 <= low + semitones and high + semitones < roll.shape[-1]


def shift_pitches(roll: torch.Tensor, semitones: int) -> torch.Tensor:
    """``roll`` moved ``semitones`` up (down if negative) along its last axis; notes pushed
    past either end are dropped, and the cells they leave are silent. By 0: ``roll`` itself."""
    if not semitones:
        return roll
    shifted = torch.zeros_like(roll)
    if semitones >= 0:
        shifted[..., semitones:] = roll[..., :roll.shape[-1] - semitones]
    else:
        shifted[..., :semitones] = roll[..., -semitones:]
    return shifted


def _extent(roll: torch.Tensor) -> tuple[int, int]:
    """The lowest and highest pitch index that sounds anywhere in ``roll``."""
    used = roll.reshape(-1, roll.shape[-1]).any(dim=0).nonzero().flatten()
    return int(used[0]), int(used[-1])
