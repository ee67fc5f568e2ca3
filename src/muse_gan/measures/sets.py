"""How far apart two sets of vectors lie, for any modality's items flattened to vectors.

- ``ndb``: Number of statistically Different Bins (Richardson & Weiss 2018). The reference
  vectors are clustered by k-means into ``bins`` cells; each cell's share of reference and of
  generated vectors is compared by a two-proportion z-test. A model that drops or invents
  modes has many cells where the shares differ. Needs no pretrained network.
- ``frechet_distance``: the Fréchet distance between Gaussians fitted to two sets of features
  (FID when the features are Inception's, Heusel et al. 2017).
- ``kernel_distance``: the unbiased squared MMD with the cubic polynomial kernel (KID when the
  features are Inception's, Bińkowski et al. 2018); unbiased, so near 0 (and possibly
  negative) for samples of one distribution, even small ones.
- ``inception_features``: 2048-d pool features of torchvision's Inception v3 with the weights
  in a file the user points to; nothing downloads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import MuseError

Z_CRITICAL = 1.959964  # two-sided 5% level of the standard normal


@dataclass
class BinTest:
    different: int  # cells whose shares differ at the 5% level
    bins: int

    @property
    def share(self) -> float:
        """Different cells over all cells: near 0.05 for two samples of one distribution."""
        return self.different / self.bins


def ndb(
    generated: torch.Tensor,
    reference: torch.Tensor,
    bins: int,
    seed: int = 0,
    samples: tuple[int, int] | None = None,
) -> BinTest:
    """NDB of ``generated`` against ``reference`` (both ``(n, features)``) over ``bins`` k-means cells.

    ``samples``: how many independent samples stand behind each set's rows, when fewer than
    the rows (a sound's mel frames belong together): the z-test's spread uses these counts,
    so correlated rows do not pass for more evidence than there is."""
    generated, reference = generated.double().flatten(1), reference.double().flatten(1)
    generated_count, reference_count = samples or (len(generated), len(reference))
    centres = kmeans(reference, bins, seed=seed)
    p = _cell_shares(reference, centres)
    q = _cell_shares(generated, centres)
    pooled = (p * reference_count + q * generated_count) / (reference_count + generated_count)
    spread = (pooled * (1 - pooled) * (1 / reference_count + 1 / generated_count)).sqrt()
    z = (p - q).abs() / spread.clamp(min=1e-12)
    return BinTest(int((z > Z_CRITICAL).sum()), len(centres))


def kmeans(points: torch.Tensor, k: int, iterations: int = 30, seed: int = 0) -> torch.Tensor:
    """``k`` cluster centres of ``points`` ``(n, features)`` by Lloyd's algorithm from a seeded
    k-means++ start (spread-out first centres, so one run suffices); fewer when there are
    fewer distinct points."""
    generator = torch.Generator().manual_seed(seed)
    k = min(k, len(torch.unique(points, dim=0)))
    centres = points[torch.randint(len(points), (1,), generator=generator)]
    while len(centres) < k:
        nearest = torch.cdist(points, centres).min(1).values ** 2
        centres = torch.cat([centres, points[torch.multinomial(nearest, 1, generator=generator)]])
    for _ in range(iterations):
        cells = torch.cdist(points, centres).argmin(1)
        moved = torch.stack(
            [
                points[cells == cell].mean(0) if (cells == cell).any() else centres[cell]
                for cell in range(k)
            ]
        )
        if torch.equal(moved, centres):
            break
        centres = moved
    return centres


def _cell_shares(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    cells = torch.cdist(points, centres).argmin(1)
    return torch.bincount(cells, minlength=len(centres)).double() / len(points)


def frechet_distance(first: torch.Tensor, second: torch.Tensor) -> float:
    """|μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½) of Gaussians fitted to two ``(n, features)`` sets.

    tr((Σ₁Σ₂)^½) is the sum of square roots of the eigenvalues of Σ₁^½ Σ₂ Σ₁^½, a symmetric
    matrix, so no general matrix square root (and no SciPy) is needed."""
    first, second = first.double(), second.double()
    mean_gap = (first.mean(0) - second.mean(0)).square().sum()
    cov_first, cov_second = _covariance(first), _covariance(second)
    root_first = _symmetric_sqrt(cov_first)
    cross = torch.linalg.eigvalsh(root_first @ cov_second @ root_first).clamp(min=0).sqrt().sum()
    return float(mean_gap + cov_first.trace() + cov_second.trace() - 2 * cross)


def kernel_distance(first: torch.Tensor, second: torch.Tensor) -> float:
    """Unbiased MMD² with k(x, y) = (x·y / features + 1)³."""
    first, second = first.double(), second.double()
    if min(len(first), len(second)) < 2:
        return math.nan
    features = first.shape[1]

    def kernel(a, b):
        return (a @ b.T / features + 1) ** 3

    def within(points):
        values = kernel(points, points)
        return (values.sum() - values.diagonal().sum()) / (len(points) * (len(points) - 1))

    return float(within(first) + within(second) - 2 * kernel(first, second).mean())


def _covariance(points: torch.Tensor) -> torch.Tensor:
    centred = points - points.mean(0)
    return centred.T @ centred / max(len(points) - 1, 1)


def _symmetric_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T


# Inception features for FID and KID

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def inception_network(weights: str | Path) -> torch.nn.Module:
    """torchvision's Inception v3 with the weights in ``weights`` (a state dict as .pth/.pt,
    read without running code, or .safetensors), its classifier removed: it gives the
    2048-d pool features FID is defined on."""
    from torchvision.models import inception_v3

    path = Path(weights).expanduser()
    if not path.is_file():
        raise MuseError(f"--inception {weights}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        network = inception_v3(
            weights=None, aux_logits=True, init_weights=False, transform_input=True
        )
        network.load_state_dict(
            state.get("state_dict", state) if isinstance(state, dict) else state
        )
    except Exception as error:  # pickle, safetensors and shape errors all mean "not these weights"
        raise MuseError(
            f"--inception {weights}: not torchvision Inception v3 weights "
            f"({type(error).__name__}: {str(error).splitlines()[0][:120]})"
        ) from None
    network.fc = torch.nn.Identity()
    return network.eval()


@torch.no_grad()
def inception_features(
    network: torch.nn.Module, images: torch.Tensor, batch: int = 50
) -> torch.Tensor:
    """Pool features ``(n, 2048)`` of images ``(n, channels, height, width)`` with values 0-1:
    resized to 299 × 299, grey repeated into RGB, normalised as ImageNet's training images."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    features = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch].float()
        chunk = chunk.expand(-1, 3, -1, -1) if chunk.shape[1] == 1 else chunk[:, :3]
        chunk = torch.nn.functional.interpolate(
            chunk, size=(299, 299), mode="bilinear", align_corners=False
        )
        features.append(network((chunk - mean) / std))
    return torch.cat(features)
