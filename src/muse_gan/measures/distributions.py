"""How alike two samples of numbers are, as distributions: for comparing a metric's values
over generated items with its values over real ones (Yang & Lerch 2018).

Both functions take any two samples of numbers; NaN values (a metric's "undefined") are dropped.
"""

from __future__ import annotations

import math

import numpy as np


def overlap_area(a_values, b_values, points: int = 2048) -> float:
    """Overlap of two samples' densities, the integral of min(p, q), in [0, 1]: 1 for the
    same distribution, 0 for disjoint ones (Yang & Lerch 2018, who compare the distributions
    of a metric's distances within and across sets; any two samples of numbers work).

    Each density is a Gaussian kernel density estimate, evaluated on a grid of ``points``
    shared by both and reaching 4 bandwidths past the pooled extremes. Bandwidth: Scott's
    rule, the sample's standard deviation times n^(-1/5), but at least 1% of the pooled range
    (1 when every value is the same), so a sample with no spread, say every generated piece
    at empty_bar_rate 0, still has a density the grid resolves. NaN values are dropped (the
    metrics' "undefined"); NaN when either sample has no number left.
    """
    densities = _densities(a_values, b_values, points)
    if densities is None:
        return math.nan
    grid, p, q = densities
    return float(np.clip(_integral(np.minimum(p, q), grid), 0.0, 1.0))


def kl_divergence(a_values, b_values, points: int = 2048) -> float:
    """Kullback-Leibler divergence KL(P_a || P_b) of two samples' densities, in nats: 0 for
    the same distribution, growing as ``b`` misses where ``a`` lies; not symmetric.

    Densities as in ``overlap_area``. ``inf`` when b's density underflows to 0 somewhere
    a's does not (samples dozens of bandwidths apart). NaN values are dropped; NaN when
    either sample has no number left.
    """
    densities = _densities(a_values, b_values, points)
    if densities is None:
        return math.nan
    grid, p, q = densities
    inside = p > 0
    if np.any(inside & (q == 0)):
        return math.inf
    integrand = np.zeros_like(p)
    # in logs: p / q overflows where q is a subnormal number just above 0
    integrand[inside] = p[inside] * (np.log(p[inside]) - np.log(q[inside]))
    return float(max(_integral(integrand, grid), 0.0))


def _densities(a_values, b_values, points: int):
    """A shared grid and the two samples' Gaussian KDEs on it, each integrating to 1 (bandwidth
    as ``overlap_area`` states); None when a sample has no finite value."""
    a, b = (np.asarray(values, dtype=float).ravel() for values in (a_values, b_values))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not a.size or not b.size:
        return None
    pooled = np.concatenate([a, b])
    floor = 0.01 * np.ptp(pooled) or 1.0
    widths = [max(_scott_bandwidth(sample), floor) for sample in (a, b)]
    reach = 4 * max(widths)
    grid = np.linspace(pooled.min() - reach, pooled.max() + reach, points)
    densities = [_gaussian_kde(sample, width, grid) for sample, width in zip((a, b), widths)]
    return grid, *(density / _integral(density, grid) for density in densities)


def _integral(values: np.ndarray, grid: np.ndarray) -> float:
    """Trapezoid rule (``np.trapezoid`` is numpy 2 only)."""
    return float(((values[1:] + values[:-1]) / 2 * np.diff(grid)).sum())


def _scott_bandwidth(sample: np.ndarray) -> float:
    return float(sample.std(ddof=1)) * sample.size**-0.2 if sample.size > 1 else 0.0


def _gaussian_kde(sample: np.ndarray, width: float, grid: np.ndarray) -> np.ndarray:
    z = (grid[:, None] - sample[None, :]) / width
    return np.exp(-0.5 * z**2).sum(axis=1) / (sample.size * width * math.sqrt(2 * math.pi))
