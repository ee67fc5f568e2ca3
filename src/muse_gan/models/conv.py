"""Convolutional networks over grid views, for the GAN family and the convolutional VAE.

Every tensor here is in the grid view ``(batch, channels, steps, width)``: time on the
second-last axis. The channels are the tracks of a piano roll (its width the pitches, low to
high), an image's colours (its width the columns) or a spectrogram's one channel (mel bands).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

LEAK = 0.2  # LeakyReLU slope: keeps gradients flowing through the critic where a ReLU would be flat
DOWNSAMPLINGS = 3  # the generator's trunk starts at 1/8 of the roll's time and pitch
# a posterior's log-variance stays within ± this (variances e^-10 to e^10)
LOG_VARIANCE_BOUND = 10.0


def _conv(inputs: int, outputs: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 3, stride, 1, groups=groups)


class GridGenerator(nn.Module):
    """Noise → logits of every cell of a segment, ``(batch, tracks, steps, width)``.

    As in MuseGAN's hybrid model, one noise vector is shared by the whole ensemble and each
    track (channel) has its own: a shared trunk turns the shared noise into ensemble features
    over (time, width) by repeated upsampling, then per-track layers (grouped convolutions, one
    group per track) turn those features plus the track's own noise into that track's logits.

    With ``condition``, the generator can also be given one track's cells (e.g. a melody to
    accompany): its features are added into the trunk at every resolution. With ``classes``,
    it is given a class label, whose embedding joins the shared noise. ``output_filter`` (a
    module a modality plugs in, see ``core.objective.DomainTerms``) rewrites the logits last.

    Without ``per_track`` (an image's colour channels are not separate parts), the last layers
    make all channels together from the shared features alone; ``per_track`` noise is ignored.
    """

    def __init__(
        self,
        tracks: int,
        steps: int,
        pitches: int,
        latent: int,
        channels: int,
        condition: bool,
        per_track: bool = True,
        classes: int = 0,
        output_filter: nn.Module | None = None,
    ):
        super().__init__()
        scale = 2**DOWNSAMPLINGS
        if steps % scale:
            raise ConfigError(
                f"the GAN's window is {steps} steps; it must be a multiple of {scale} "
                f"(change data.window_bars or the steps per bar)"
            )
        self.tracks, self.pitches = tracks, pitches
        # pitch padded up to a multiple of 8, cropped at the end
        self.grid = (
            steps // scale,
            -(-pitches // scale),
        )
        # at 1/8, 1/4, 1/2 and full resolution
        widths = (
            4 * channels,
            2 * channels,
            channels,
            channels,
        )
        self.start = nn.Linear(latent, widths[0] * self.grid[0] * self.grid[1])
        self.start_norm = nn.GroupNorm(1, widths[0])
        self.ups = nn.ModuleList(
            _UpBlock(inputs, outputs) for inputs, outputs in itertools.pairwise(widths)
        )
        groups = self.groups = tracks if per_track else 1
        if per_track:
            # one linear map per track
            self.track_noise = nn.Conv1d(tracks * latent, tracks * channels, 1, groups=tracks)
            # Each track's own bias for every place along the width: convolutions slide along it,
            # so absolute position (a piano roll's pitch: a voice's range, the key's pitch
            # classes) is otherwise nearly invisible to them (MuseGAN's pitch-wise layers play
            # this part). It starts where a track sounds one cell per step: from p = 0.5
            # everywhere the first thing the generator learns is "fewer notes", and it overshot
            # into a silence so deep (p ~ 1e-7) that the sigmoid passed almost no gradient back.
            self.width_bias = nn.Parameter(torch.full((tracks, 1, pitches), -math.log(pitches - 1)))
        self.track_layers = nn.Sequential(
            _conv(groups * channels, groups * channels, groups=groups),
            nn.GroupNorm(groups, groups * channels),  # one group per track: tracks normalised apart
            nn.LeakyReLU(LEAK),
            _conv(groups * channels, tracks, groups=groups),
        )
        self.melody = _ConditionEncoder(widths) if condition else None
        self.label_embedding = nn.Embedding(classes, latent) if classes else None
        self.output_filter = output_filter

    def forward(
        self,
        shared: torch.Tensor,
        per_track: torch.Tensor | None,
        condition: torch.Tensor | None = None,
        present: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(batch, tracks, steps, pitches)`` from the ensemble's noise ``(batch, latent)``
        and each track's ``(batch, tracks, latent)``; ``condition`` ``(batch, steps, pitches)`` is
        the given track's roll and ``present`` ``(batch,)`` is 1 where it is given, else 0;
        ``labels`` ``(batch,)`` are the classes asked for."""
        hints = self._condition_features(condition, present)
        if self.label_embedding is not None:
            shared = shared + self.label_embedding(labels)
        ensemble = self.start(shared).view(len(shared), -1, *self.grid)
        ensemble = F.leaky_relu(self.start_norm(_add(ensemble, hints[0])), LEAK)
        for block, hint in zip(self.ups, hints[1:]):
            ensemble = block(ensemble, hint)
        if self.groups == 1:
            return self.track_layers(ensemble)[..., : self.pitches]
        # (batch, tracks * channels, ...): one copy per track
        features = ensemble.repeat(1, self.tracks, 1, 1)
        noise = self.track_noise(per_track.flatten(1)[:, :, None])  # (batch, tracks * channels, 1)
        logits = (
            self.track_layers(features + noise[..., None])[..., : self.pitches] + self.width_bias
        )
        return logits if self.output_filter is None else self.output_filter(logits)

    def _condition_features(self, condition, present) -> list[torch.Tensor | None]:
        """The condition's features, coarsest first; all None for an unconditional call."""
        if self.melody is None or condition is None:
            return [None] * (DOWNSAMPLINGS + 1)
        padded = F.pad(condition, (0, self.grid[1] * 2**DOWNSAMPLINGS - self.pitches))
        # Zeroed where absent, so "no condition" is exactly the unconditional generator.
        return [features * present[:, None, None, None] for features in self.melody(padded)]


class _UpBlock(nn.Module):
    """×2 nearest upsampling, 3×3 conv, plus the condition's features, norm, LeakyReLU."""

    def __init__(self, inputs: int, outputs: int):
        super().__init__()
        self.conv = _conv(inputs, outputs)
        self.norm = nn.GroupNorm(1, outputs)  # per item, so a sample never depends on its batch

    def forward(self, features: torch.Tensor, hint: torch.Tensor | None) -> torch.Tensor:
        features = self.conv(F.interpolate(features, scale_factor=2, mode="nearest"))
        return F.leaky_relu(self.norm(_add(features, hint)), LEAK)


class _ConditionEncoder(nn.Module):
    """A condition roll ``(batch, steps, padded_pitches)`` → features at the trunk's resolutions."""

    def __init__(self, widths: tuple[int, ...]):
        super().__init__()
        fine_first = widths[::-1]
        self.layers = nn.ModuleList(
            [_conv(1, fine_first[0])]
            + [
                _conv(inputs, outputs, stride=2)
                for inputs, outputs in itertools.pairwise(fine_first)
            ]
        )

    def forward(self, roll: torch.Tensor) -> list[torch.Tensor]:
        features, found = roll[:, None], []
        for layer in self.layers:
            features = F.leaky_relu(layer(features), LEAK)
            found.append(features)
        return found[::-1]  # coarsest first, like the trunk


def downsampled(length: int) -> int:
    """``length`` after ``DOWNSAMPLINGS`` stride-2 convolutions with padding 1 (each rounds up)."""
    for _ in range(DOWNSAMPLINGS):
        length = -(-length // 2)
    return length


def _add(features: torch.Tensor, hint: torch.Tensor | None) -> torch.Tensor:
    return features if hint is None else features + hint


class ConvReader(nn.Module):
    """A roll or image ``(batch, channels, steps, width)`` → flat features ``(batch, features)``:
    strided 3×3 convolutions with LeakyReLU and no batch norm (a GAN's gradient penalty is
    taken per item, which batch statistics would mix). ``wrap`` wraps every layer (spectral norm)."""

    def __init__(
        self, tracks: int, steps: int, pitches: int, channels: int, wrap=lambda layer: layer
    ):
        super().__init__()
        widths = (tracks, channels, 2 * channels, 4 * channels, 4 * channels)
        strides = (1,) + (2,) * DOWNSAMPLINGS
        self.convs = nn.ModuleList(
            wrap(_conv(inputs, outputs, stride))
            for inputs, outputs, stride in zip(widths, widths[1:], strides)
        )
        self.size = widths[-1] * downsampled(steps) * downsampled(pitches)

    def forward(self, rolls: torch.Tensor) -> torch.Tensor:
        features = rolls
        for conv in self.convs:
            features = F.leaky_relu(conv(features), LEAK)
        return features.flatten(1)


class GridCritic(ConvReader):
    """A segment ``(batch, tracks, steps, width)`` → one score per item ``(batch,)``.

    ``spectral_norm`` bounds every layer's Lipschitz constant, for the hinge loss. With
    ``classes``, the score also judges the item as a member of its label's class (a projection
    critic, Miyato & Koyama 2018: the features' dot product with the class's embedding).
    ``streams`` (name → module factory, plugged in by a modality; see
    ``core.objective.DomainTerms``) read the segment their own way; their features join the
    critic's own before scoring. ``spread`` adds one feature that sees the whole batch: how
    much the items of each item's class differ (see ``class_spread``), so a generator that
    draws one item per class over and over is told apart from the varied real batch.
    """

    def __init__(
        self,
        tracks: int,
        steps: int,
        pitches: int,
        channels: int,
        spectral_norm: bool,
        classes: int = 0,
        streams: dict | None = None,
        spread: bool = False,
    ):
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        super().__init__(tracks, steps, pitches, channels, wrap)
        self.streams = list((streams or {}).keys())
        for name, make in (streams or {}).items():
            self.add_module(name, make(tracks, steps, pitches, channels, wrap))
        self.spread = spread
        size = self.size + sum(getattr(self, name).size for name in self.streams) + spread
        self.score = wrap(nn.Linear(size, 1))
        self.label_embedding = wrap(nn.Embedding(classes, size)) if classes else None

    def forward(self, rolls: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = super().forward(rolls)
        if self.streams:
            features = torch.cat(
                [features] + [getattr(self, name)(rolls) for name in self.streams], dim=1
            )
        if self.spread:
            features = torch.cat([features, class_spread(features, labels)[:, None]], dim=1)
        score = self.score(features).squeeze(1)
        if self.label_embedding is not None:
            score = score + (self.label_embedding(labels) * features).sum(1)
        # float32 even under autocast: the losses are small differences of these scores
        return score.float()


def class_spread(features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """The minibatch standard deviation (Karras et al. 2018) taken within each class: for every
    item ``(batch, features)``, the standard deviation of each feature over the batch's items
    of its class (``labels`` ``(batch,)``; None: one class), averaged over the features,
    ``(batch,)``. Real and generated batches hold the same classes, so the two compare."""
    if labels is None:
        labels = torch.zeros(len(features), dtype=torch.long, device=features.device)
    members = F.one_hot(labels).to(features.dtype)  # (batch, classes)
    counts = members.sum(0).clamp(min=1)[:, None]
    means = members.T @ features / counts  # (classes, features)
    variances = members.T @ (features - means[labels]) ** 2 / counts
    return (variances[labels] + 1e-8).sqrt().mean(1)


class GridEncoder(ConvReader):
    """A convolutional VAE's encoder: an item ``(batch, channels, steps, width)`` → the mean
    and log-variance of q(z | item), each ``(batch, latent)``; with ``classes``, q(z | item, label)."""

    def __init__(
        self, tracks: int, steps: int, pitches: int, channels: int, latent: int, classes: int = 0
    ):
        super().__init__(tracks, steps, pitches, channels)
        self.posterior = nn.Linear(self.size, 2 * latent)
        self.label_embedding = nn.Embedding(classes, self.size) if classes else None

    def forward(
        self, items: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        features = super().forward(items)
        if self.label_embedding is not None:
            features = features + self.label_embedding(labels)
        mean, log_variance = self.posterior(features).float().chunk(2, dim=-1)
        # Softly bounded: the flattened features feed the layer with tens of thousands of inputs,
        # so a few Adam steps can move a raw log-variance by hundreds and overflow exp (measured:
        # inf by the third step on 128 x 64 spectrograms at lr 2e-3). Near zero this is the identity.
        return mean, LOG_VARIANCE_BOUND * torch.tanh(log_variance / LOG_VARIANCE_BOUND)
