"""Convolutional generator and critic over multi-track piano rolls, for the GAN family.

Every roll here is in the grid view ``(batch, tracks, steps, pitches)``: time on the
second-last axis, pitch (low to high) on the last.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

LEAK = 0.2  # LeakyReLU slope: keeps gradients flowing through the critic where a ReLU would be flat
DOWNSAMPLINGS = 3  # the generator's trunk starts at 1/8 of the roll's time and pitch
OCTAVE = 12  # pitch classes
UNHEARD = -30.0  # the logit of a pitch outside a voice's range: p ~ 1e-13, never above any threshold
LOG_VARIANCE_BOUND = 10.0  # a posterior's log-variance stays within ± this (variances e^-10 to e^10)


def _conv(inputs: int, outputs: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 3, stride, 1, groups=groups)


class RollGenerator(nn.Module):
    """Noise → logits of every cell of a roll segment, ``(batch, tracks, steps, pitches)``.

    As in MuseGAN's hybrid model, one noise vector is shared by the whole ensemble and each
    track has its own: a shared trunk turns the shared noise into ensemble features over
    (time, pitch) by repeated upsampling, then per-track layers (grouped convolutions, one
    group per track) turn those features plus the track's own noise into that track's logits.

    With ``condition``, the generator can also be given one track's notes (e.g. a melody to
    accompany): its features are added into the trunk at every resolution. With ``classes``,
    it is given a class label, whose embedding joins the shared noise.

    Without ``per_track`` (an image's colour channels are not separate parts), the last layers
    make all channels together from the shared features alone; ``per_track`` noise is ignored.
    """

    def __init__(self, tracks: int, steps: int, pitches: int, latent: int, channels: int, condition: bool,
                 per_track: bool = True, classes: int = 0, voice_ranges: bool = False):
        super().__init__()
        scale = 2 ** DOWNSAMPLINGS
        if steps % scale:
            raise ConfigError(f"the GAN's window is {steps} steps; it must be a multiple of {scale} "
                              f"(change data.window_bars or the steps per bar)")
        self.tracks, self.pitches = tracks, pitches
        self.grid = (steps // scale, -(-pitches // scale))  # pitch padded up to a multiple of 8, cropped at the end
        widths = (4 * channels, 2 * channels, channels, channels)  # at 1/8, 1/4, 1/2 and full resolution
        self.start = nn.Linear(latent, widths[0] * self.grid[0] * self.grid[1])
        self.start_norm = nn.GroupNorm(1, widths[0])
        self.ups = nn.ModuleList(_UpBlock(inputs, outputs) for inputs, outputs in zip(widths, widths[1:]))
        groups = self.groups = tracks if per_track else 1
        if per_track:
            self.track_noise = nn.Conv1d(tracks * latent, tracks * channels, 1, groups=tracks)  # one linear map per track
            # Each track's own bias for every pitch: convolutions slide along the pitch axis, so
            # absolute pitch (a voice's range, the key's pitch classes) is otherwise nearly
            # invisible to them (MuseGAN's pitch-wise layers play this part). It starts where a
            # voice sounds one pitch per step: from p = 0.5 everywhere the first thing the
            # generator learns is "fewer notes", and it overshot into a silence so deep (p ~ 1e-7)
            # that the sigmoid passed almost no gradient back out of it.
            self.pitch_bias = nn.Parameter(torch.full((tracks, 1, pitches), -math.log(pitches - 1)))
        self.track_layers = nn.Sequential(
            _conv(groups * channels, groups * channels, groups=groups),
            nn.GroupNorm(groups, groups * channels),  # one group per track: tracks normalised apart
            nn.LeakyReLU(LEAK),
            _conv(groups * channels, tracks, groups=groups))
        self.melody = _ConditionEncoder(widths) if condition else None
        self.label_embedding = nn.Embedding(classes, latent) if classes else None
        # With voice_ranges: the pitches each track has sounded in the training batches heard so
        # far (a running union, saved with the model); the others are kept silent.
        self.register_buffer("heard", torch.zeros(tracks, 1, pitches, dtype=torch.bool) if voice_ranges else None)

    @torch.no_grad()
    def hear(self, rolls: torch.Tensor) -> None:
        """Adds the pitches each track sounds in ``rolls`` ``(batch, tracks, steps, pitches)`` to its range."""
        if self.heard is not None:
            self.heard |= rolls.detach().amax(dim=(0, 2))[:, None].bool()

    def forward(self, shared: torch.Tensor, per_track: torch.Tensor | None, condition: torch.Tensor | None = None,
                present: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
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
            return self.track_layers(ensemble)[..., :self.pitches]
        features = ensemble.repeat(1, self.tracks, 1, 1)  # (batch, tracks * channels, ...): one copy per track
        noise = self.track_noise(per_track.flatten(1)[:, :, None])  # (batch, tracks * channels, 1)
        logits = self.track_layers(features + noise[..., None])[..., :self.pitches] + self.pitch_bias
        return logits if self.heard is None else logits.masked_fill(~self.heard, UNHEARD)

    def _condition_features(self, condition, present) -> list[torch.Tensor | None]:
        """The condition's features, coarsest first; all None for an unconditional call."""
        if self.melody is None or condition is None:
            return [None] * (DOWNSAMPLINGS + 1)
        padded = F.pad(condition, (0, self.grid[1] * 2 ** DOWNSAMPLINGS - self.pitches))
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
        self.layers = nn.ModuleList([_conv(1, fine_first[0])] + [
            _conv(inputs, outputs, stride=2) for inputs, outputs in zip(fine_first, fine_first[1:])])

    def forward(self, roll: torch.Tensor) -> list[torch.Tensor]:
        features, found = roll[:, None], []
        for layer in self.layers:
            features = F.leaky_relu(layer(features), LEAK)
            found.append(features)
        return found[::-1]  # coarsest first, like the trunk


def _downsampled(length: int) -> int:
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

    def __init__(self, tracks: int, steps: int, pitches: int, channels: int, wrap=lambda layer: layer):
        super().__init__()
        widths = (tracks, channels, 2 * channels, 4 * channels, 4 * channels)
        strides = (1,) + (2,) * DOWNSAMPLINGS
        self.convs = nn.ModuleList(wrap(_conv(inputs, outputs, stride))
                                   for inputs, outputs, stride in zip(widths, widths[1:], strides))
        self.size = widths[-1] * _downsampled(steps) * _downsampled(pitches)

    def forward(self, rolls: torch.Tensor) -> torch.Tensor:
        features = rolls
        for conv in self.convs:
            features = F.leaky_relu(conv(features), LEAK)
        return features.flatten(1)


class RollCritic(ConvReader):
    """A roll segment ``(batch, tracks, steps, pitches)`` → one score per item ``(batch,)``.

    ``spectral_norm`` bounds every layer's Lipschitz constant, for the hinge loss. With
    ``classes``, the score also judges the item as a member of its label's class (a projection
    critic, Miyato & Koyama 2018: the features' dot product with the class's embedding). With
    ``chroma``, a second stream reads the tracks' pitch classes (see ``ChromaReader``).
    """

    def __init__(self, tracks: int, steps: int, pitches: int, channels: int, spectral_norm: bool, classes: int = 0,
                 chroma: bool = False):
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        super().__init__(tracks, steps, pitches, channels, wrap)
        self.chroma = ChromaReader(tracks, steps, channels, wrap) if chroma else None
        size = self.size + (self.chroma.size if chroma else 0)
        self.score = wrap(nn.Linear(size, 1))
        self.label_embedding = wrap(nn.Embedding(classes, size)) if classes else None

    def forward(self, rolls: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = super().forward(rolls)
        if self.chroma is not None:
            features = torch.cat([features, self.chroma(rolls)], dim=1)
        score = self.score(features).squeeze(1)
        if self.label_embedding is not None:
            score = score + (self.label_embedding(labels) * features).sum(1)
        return score.float()  # float32 even under autocast: the losses are small differences of these scores


class ChromaReader(nn.Module):
    """A roll ``(batch, tracks, steps, pitches)`` folded to pitch classes → flat features.

    MuseGAN's discriminators (Dong et al. 2018) add such a chroma stream. Why here: 3×3
    convolutions see a few semitones at a time, so whether a soprano two octaves above the bass
    is in its harmony is nearly out of their sight; folded to 12 classes, every voice's chord
    tones meet in one kernel. The classes are counted from the roll's lowest pitch, not from C:
    a fixed rotation, the same for every item, changes nothing for a critic.
    """

    def __init__(self, tracks: int, steps: int, channels: int, wrap):
        super().__init__()
        across = wrap(nn.Conv2d(tracks, channels, (1, OCTAVE)))  # all voices' pitch classes at each step
        along = [wrap(nn.Conv2d(channels, channels, (3, 1), (2, 1), (1, 0))) for _ in range(DOWNSAMPLINGS)]
        self.convs = nn.ModuleList([across] + along)
        self.size = channels * _downsampled(steps)

    def forward(self, rolls: torch.Tensor) -> torch.Tensor:
        features = pitch_classes(rolls)  # (batch, tracks, steps, 12)
        for conv in self.convs:
            features = F.leaky_relu(conv(features), LEAK)
        return features.flatten(1)


def pitch_classes(rolls: torch.Tensor) -> torch.Tensor:
    """``rolls`` with the last (pitch) axis folded onto 12 pitch classes, summing: sounding
    cells per class. Classes are counted from the lowest pitch, not from C (the roll's pitch
    range is padded up to whole octaves)."""
    return F.pad(rolls, (0, -rolls.shape[-1] % OCTAVE)).unflatten(-1, (-1, OCTAVE)).sum(dim=-2)


class GridEncoder(ConvReader):
    """A convolutional VAE's encoder: an item ``(batch, channels, steps, width)`` → the mean
    and log-variance of q(z | item), each ``(batch, latent)``; with ``classes``, q(z | item, label)."""

    def __init__(self, tracks: int, steps: int, pitches: int, channels: int, latent: int, classes: int = 0):
        super().__init__(tracks, steps, pitches, channels)
        self.posterior = nn.Linear(self.size, 2 * latent)
        self.label_embedding = nn.Embedding(classes, self.size) if classes else None

    def forward(self, items: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        features = super().forward(items)
        if self.label_embedding is not None:
            features = features + self.label_embedding(labels)
        mean, log_variance = self.posterior(features).float().chunk(2, dim=-1)
        # Softly bounded: the flattened features feed the layer with tens of thousands of inputs,
        # so a few Adam steps can move a raw log-variance by hundreds and overflow exp (measured:
        # inf by the third step on 128 x 64 spectrograms at lr 2e-3). Near zero this is the identity.
        return mean, LOG_VARIANCE_BOUND * torch.tanh(log_variance / LOG_VARIANCE_BOUND)
