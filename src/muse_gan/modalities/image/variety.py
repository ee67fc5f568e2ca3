"""How varied a set of pictures is: the mean pairwise Euclidean distance between them, after
shrinking each to 8 × 8 pixels (the mean of each block, values 0-1).

At 8 × 8 a distance measures shape (where the strokes go), not the exact pixels of an edge;
the scikit-learn digits are 8 × 8 to begin with. Computed per class for class-conditional
pictures: a model that draws one seven over and over has a variety near 0 among its sevens
however clearly each is a seven. The mean over pairs does not depend on how many pictures
there are (unlike, say, the largest distance), so sets of different sizes compare.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...core.adapter import class_order

SIDE = 8  # pictures are shrunk to SIDE × SIDE pixels before they are compared


def variety(images: torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs of ``images`` ``(n, channels, height, width)``
    (values 0-1) shrunk to ``SIDE`` × ``SIDE``; NaN for fewer than two pictures."""
    if len(images) < 2:
        return float("nan")
    small = F.adaptive_avg_pool2d(images.double(), SIDE).flatten(1)
    return float(torch.pdist(small).mean())


def variety_by_class(images: torch.Tensor, labels: list[str]) -> dict[str, float]:
    """``variety`` among the pictures of each class, ``labels`` giving each picture's class;
    the classes in ``class_order``."""
    return {
        label: variety(images[[number for number, name in enumerate(labels) if name == label]])
        for label in class_order(labels)
    }
