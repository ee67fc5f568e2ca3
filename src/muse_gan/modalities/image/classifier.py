"""How much generated pictures look like the data: a small classifier trained on real
labelled images, and statistics of its predictions on generated ones.

- ``classifier_score``: the Inception Score computed with this classifier instead of
  Inception, exp(E_x KL(p(y|x) ‖ p(y))). High when each image is clearly one class and the
  classes are evenly used; at most the number of classes.
- ``class_shares``: the share of images the classifier puts in each class.
- ``label_accuracy``: for class-conditional samples, the share classified as the asked class.

Nothing downloads: the classifier is trained here, in seconds on a CPU for 16 × 16 digits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ImageClassifier(nn.Module):
    """Two 3×3 conv blocks with pooling and a linear layer: enough for digits."""

    def __init__(self, channels: int, size: int, classes: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
        )
        self.out = nn.Linear(2 * width * (size // 4) ** 2, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(images))

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
        self.eval()
        return torch.cat(
            [
                self(images[start : start + batch].float()).softmax(-1)
                for start in range(0, len(images), batch)
            ]
        )


def train_classifier(
    images: torch.Tensor, labels: torch.Tensor, classes: int, steps: int = 1500, seed: int = 0
) -> ImageClassifier:
    """A classifier fitted to ``images`` ``(n, channels, size, size)`` (values 0-1) and their
    class indices; small random shifts keep it from judging by exact pixel positions."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = ImageClassifier(images.shape[1], images.shape[-1], classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(steps):
        picks = torch.randint(len(images), (64,), generator=generator)
        loss = F.cross_entropy(model(_shifted(images[picks].float(), generator)), labels[picks])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def _shifted(images: torch.Tensor, generator: torch.Generator, most: int = 1) -> torch.Tensor:
    """Every image moved by up to ``most`` pixels each way, the same shift for the whole batch."""
    down, right = (torch.randint(-most, most + 1, (2,), generator=generator)).tolist()
    return torch.roll(images, shifts=(down, right), dims=(-2, -1))


def classifier_score(probabilities: torch.Tensor) -> float:
    """exp(mean over images of KL(p(y|x) ‖ p(y))), p(y) the images' mean prediction."""
    probabilities = probabilities.double().clamp(min=1e-12)
    marginal = probabilities.mean(0, keepdim=True)
    kl = (probabilities * (probabilities.log() - marginal.log())).sum(1)
    return float(kl.mean().exp())


def class_shares(probabilities: torch.Tensor) -> torch.Tensor:
    """The share of images whose most likely class is each class, ``(classes,)``."""
    counts = torch.bincount(probabilities.argmax(1), minlength=probabilities.shape[1])
    return counts.double() / len(probabilities)


def label_accuracy(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of images classified as the class they were asked for."""
    return float((probabilities.argmax(1) == labels).double().mean())
