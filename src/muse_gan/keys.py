"""Keys of piano rolls: move a piece to a common key.

A model trained on pieces all moved to C major or A minor (``data.common_key``) learns one
set of pitch classes instead of twelve; that matters most for convolutional GANs, whose
layers slide along the pitch axis and know nothing of absolute pitch on their own. Such a
model composes in C major or A minor, and a primer in another key is moved there and back.

Rolls here are ``(tracks, steps, pitches)``, pitch index 0 being MIDI pitch ``pitch_low``.
"""

from __future__ import annotations

import torch

from .metrics import MAJOR_SCALE, PITCH_CLASSES

SHIFTS = tuple(range(-6, 6))  # nearest first on ties: see common_key_shift


def common_key_shift(roll: torch.Tensor, pitch_low: int) -> int:
    """Semitones (-6 to +5) that move ``roll`` to C major or A minor: the shift that puts the
    largest share of its sounding time on the white keys (C major's pitch classes, and A natural
    minor's), the smallest such shift on ties. When that would push a note out of the roll, the
    same pitch classes an octave the other way; 0 for a silent roll or one that fits neither way.
    """
    durations = roll.float().sum(dim=tuple(range(roll.dim() - 1)))
    if not durations.any():
        return 0
    chroma = torch.zeros(PITCH_CLASSES).index_add_(0, (pitch_low + torch.arange(len(durations))) % PITCH_CLASSES,
                                                   durations)
    white = torch.zeros(PITCH_CLASSES)
    white[list(MAJOR_SCALE)] = 1
    fits = [float(chroma.roll(shift) @ white) for shift in SHIFTS]
    best = max(sorted(SHIFTS, key=abs), key=lambda shift: fits[SHIFTS.index(shift)])
    low, high = _extent(durations)
    for shift in (best, best - PITCH_CLASSES if best > 0 else best + PITCH_CLASSES):
        if 0 <= low + shift and high + shift < len(durations):
            return shift
    return 0


def shift_pitches(roll: torch.Tensor, semitones: int) -> torch.Tensor:
    """``roll`` moved ``semitones`` up (down if negative) along its last axis; notes pushed
    past either end are dropped, and the cells they leave are silent."""
    shifted = torch.zeros_like(roll)
    if semitones >= 0:
        shifted[..., semitones:] = roll[..., :roll.shape[-1] - semitones]
    else:
        shifted[..., :semitones] = roll[..., -semitones:]
    return shifted


def _extent(durations: torch.Tensor) -> tuple[int, int]:
    """The lowest and highest pitch index that sounds at all."""
    used = durations.nonzero().flatten()
    return int(used[0]), int(used[-1])
