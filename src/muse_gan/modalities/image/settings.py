"""The ``[image]`` config section."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.config import register_section


@register_section("image")
@dataclass(frozen=True)
class ImageConfig:
    """Pictures as ``(channels, size, size)`` tensors of values from 0 (black) to 1 (white)."""

    size: int = 32  # every image becomes size × size pixels
    color: str = "gray"  # "gray" (1 channel) or "rgb" (3)
    fit: str = "crop"  # "crop": shorter side to size, centre cut; "pad": longer side to size, black borders; "stretch"
    # class labels from the names of the folders the images are in (digits: the digit)
    labels: bool = False
    # pixels to 0 or 1 at 0.5: binary data (Bernoulli heads, threshold decoding)
    binarize: bool = False
    max_pixels: int = 40_000_000  # larger images are refused before decoding (decompression bombs)
    flip: bool = False  # augmentation: random left-right mirroring
    rotate: float = 0.0  # augmentation: random rotation of up to ± this many degrees
    translate: float = 0.0  # augmentation: random shift of up to ± this share of the size
    scale: float = 0.0  # augmentation: random zoom in or out by up to this share
