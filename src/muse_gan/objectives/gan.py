"""A convolutional GAN over whole segments: a critic learns to tell real segments from
generated ones, and the generator learns to fool it (WGAN-GP or hinge loss).

Items are in the grid view ``(batch, tracks, steps, width)``. The generator makes one segment
(an item, or a training window) at a time; longer pieces are segments side by side, their
noise a smooth walk so that neighbouring segments are related. A modality may plug in terms of
its own (``DomainTerms``: generator loss terms, critic streams, an output filter).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..core.config import check_ranges, register_section
from ..core.objective import (
    NO_TERMS,
    DecodesProbabilities,
    DomainTerms,
    Objective,
    Phase,
    WalksLatent,
    sample_labels,
)
from ..core.rules import KeepsRules, decode_scores
from ..errors import ConfigError
from ..models.conv import GridCritic, GridGenerator
from .latent import closed_walk, open_walk
from .registry import OBJECTIVES

LOSSES = ("hinge", "wgan-gp")


def check(settings: GanConfig) -> None:
    """The ``[gan]`` section, refused with the offending key when out of range (what depends
    on the data's tracks, ``condition_track``'s upper end, is checked as the GAN is built)."""
    if settings.loss not in LOSSES:
        raise ConfigError(f"gan.loss: unknown loss '{settings.loss}' (known: {', '.join(LOSSES)})")
    if settings.decode not in DecodesProbabilities.DECODINGS:
        raise ConfigError(
            f"gan.decode: unknown decoding '{settings.decode}' "
            f"(known: {', '.join(DecodesProbabilities.DECODINGS)})"
        )
    check_ranges(
        "gan",
        settings,
        {
            "critic_steps": (1, 100),
            "gradient_penalty": (0, 1e6),
            "condition_track": (-1, 1023),
            "condition_dropout": (0, 1),
            "mode_seeking": (0, 1e3),
            "truncation": (0.01, 1),
        },
    )


@register_section("gan", check=check)
@dataclass(frozen=True)
class GanConfig:
    # "wgan-gp" (gradient penalty) or "hinge" (with spectral norm in the critic)
    loss: str = "wgan-gp"
    critic_steps: int = 5  # critic updates per generator update
    gradient_penalty: float = 10.0
    decode: str = "threshold"  # "threshold" (p > 0.5) or "bernoulli" (sample each cell)
    # a track given to the generator (e.g. 0: accompany a melody); -1: none
    condition_track: int = -1
    # share of training batches without the condition, so it stays optional
    condition_dropout: float = 0.5
    # the critic also sees how much the batch's items of each class differ (against mode collapse)
    class_spread: bool = False
    # weight of the mode-seeking term: the generator is charged for items that stay alike when
    # their noise differs (0: off)
    mode_seeking: float = 0.0
    # the noise is scaled by this when sampling (the truncation trick in its simplest form):
    # below 1, fewer odd items and less variety; 1: the noise trained on
    truncation: float = 1.0


@OBJECTIVES.register("gan")
class GANObjective(Objective, DecodesProbabilities, WalksLatent, KeepsRules):
    """Generator and critic of the ``[gan]`` config; see the module docstring for the shapes."""

    family = "gan"
    # critic scores don't rank generators: the latest weights are the model
    selects_by_validation = False
    sampling_modules = ("generator",)
    # Weights named otherwise in checkpoints of format 1 (before modalities plugged in their terms).
    renamed_weights: ClassVar[dict[str, str]] = {
        "generator.pitch_bias": "generator.width_bias",
        "generator.heard": "generator.output_filter.heard",
    }

    def __init__(self, spec, config, terms: DomainTerms = NO_TERMS):
        super().__init__()
        self.settings = _checked(config.gan, spec)
        self.spec, self.terms = spec, terms.generator_terms
        self.latent = config.model.latent
        self.segment_steps = spec.segment
        self.condition_track = self.settings.condition_track
        # "threshold" or "bernoulli"; callers may switch it per sample
        self.decode = self.settings.decode
        output_filter = (
            terms.output_filter(spec.channels, spec.width) if terms.output_filter else None
        )
        self.generator = GridGenerator(
            spec.channels,
            self.segment_steps,
            spec.width,
            self.latent,
            config.model.channels,
            condition=self.condition_track >= 0,
            per_track=spec.channel_tracks,
            classes=spec.classes,
            output_filter=output_filter,
        )
        self.critic = GridCritic(
            spec.channels,
            self.segment_steps,
            spec.width,
            config.model.channels,
            spectral_norm=self.settings.loss == "hinge",
            classes=spec.classes,
            streams=terms.critic_streams,
            spread=self.settings.class_spread,
        )

    def parameter_groups(self):
        return {
            "critic": list(self.critic.parameters()),
            "generator": list(self.generator.parameters()),
        }

    def phases(self, batch, labels=None, spans=None):
        """``gan.critic_steps`` critic updates, each on fresh noise, then one generator update.
        With labels, the fakes are made for the same classes as the real batch's."""
        if self.generator.output_filter is not None:
            self.generator.output_filter.observe(batch)
        critic = [
            Phase("critic", lambda: self._critic_phase(batch, labels))
            for _ in range(self.settings.critic_steps)
        ]
        return critic + [Phase("generator", lambda: self._generator_phase(batch, labels))]

    def _critic_phase(self, batch, labels):
        with torch.no_grad():
            fake = self.fake(batch, labels=labels)
        real_scores, fake_scores = self.critic(batch, labels), self.critic(fake, labels)
        loss = self._critic_loss(real_scores, fake_scores)
        scalars = {"wasserstein": (real_scores.mean() - fake_scores.mean()).item()}
        if self.settings.loss == "wgan-gp":
            penalty = gradient_penalty(self.critic, batch, fake, labels)
            loss = loss + self.settings.gradient_penalty * penalty
            scalars["gradient_penalty"] = penalty.item()
        return loss, {"critic": loss.item()} | scalars

    def _generator_phase(self, batch, labels):
        condition, present = self._training_condition(batch, None)
        noise = self._noise(len(batch), batch.device)
        fake = self._generated(noise, condition, present, labels)
        with _frozen(self.critic):  # the critic only passes gradients on; its own stay untouched
            loss = -self.critic(fake, labels).mean()
        scalars = {"generator": loss.item()}
        if self.settings.mode_seeking:
            sameness = self._sameness(fake, noise, condition, present, labels)
            loss, scalars["sameness"] = (
                loss + self.settings.mode_seeking * sameness,
                sameness.item(),
            )
        for term in self.terms:  # a modality's own terms, e.g. a piano roll's harmony
            mismatch = term.mismatch(fake, batch)
            loss, scalars[term.name] = loss + term.weight * mismatch, mismatch.item()
        return loss, scalars | {"loss": loss.item()}

    def _critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        if self.settings.loss == "hinge":
            return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        return fake_scores.mean() - real_scores.mean()

    @torch.no_grad()
    def evaluate(self, batch, labels=None, spans=None):
        """Scalars for one batch, on fixed noise so that successive evaluations compare. "loss" is
        the critic's Wasserstein estimate (wgan-gp) or hinge loss: it tracks the game, not how
        good the samples are."""
        generator = torch.Generator(batch.device).manual_seed(0)
        real_scores = self.critic(batch, labels)
        fake_scores = self.critic(self.fake(batch, generator, labels), labels)
        wasserstein = (real_scores.mean() - fake_scores.mean()).item()
        if self.settings.loss == "hinge":
            return {
                "loss": self._critic_loss(real_scores, fake_scores).item(),
                "wasserstein": wasserstein,
            }
        return {"loss": wasserstein, "wasserstein": wasserstein}

    def fake(
        self,
        batch: torch.Tensor,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Generated note probabilities (or pixel values) shaped like ``batch``; with
        conditioning, each item is given ``batch``'s condition track (dropped with
        ``gan.condition_dropout``), which then replaces the generated one; with ``labels``, the
        items are made for those classes. Noise from ``generator``, else the global torch RNG."""
        condition, present = self._training_condition(batch, generator)
        noise = self._noise(len(batch), batch.device, generator)
        return self._generated(noise, condition, present, labels)

    def _generated(self, noise, condition, present, labels) -> torch.Tensor:
        """What ``fake`` makes from its noise, condition and labels."""
        shared, per_track = noise
        probabilities = self._activate(
            self.generator(shared, per_track, condition, present, labels)
        )
        return self._impose(probabilities, condition, present)

    def _sameness(self, fake, noise, condition, present, labels) -> torch.Tensor:
        """The mode-seeking term (Mao et al. 2019): each item of ``fake`` made again from other
        noise, with the same condition and class; the mean over items of 1 / (their mean
        absolute difference per unit of the shared noise's). Large when the noise is ignored."""
        other_noise = self._noise(len(fake), fake.device)
        other = self._generated(other_noise, condition, present, labels)
        apart = (fake - other).abs().flatten(1).mean(1)
        noise_apart = (noise[0] - other_noise[0]).abs().mean(1)
        return (1 / (apart.float() / noise_apart + 1e-5)).mean()

    def _training_condition(self, batch, generator):
        """The condition ``(batch, steps, pitches)`` and its presence ``(batch,)``, or Nones."""
        if self.condition_track < 0:
            return None, None
        kept = (
            torch.rand(len(batch), device=batch.device, generator=generator)
            >= self.settings.condition_dropout
        )
        present = kept.to(batch.dtype)
        return batch[:, self.condition_track] * present[:, None, None], present

    def _noise(self, count: int, device, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The ensemble's noise ``(count, latent)`` and each track's ``(count, tracks, latent)``."""
        shared = torch.randn(count, self.latent, device=device, generator=generator)
        return shared, torch.randn(
            count, self.spec.channels, self.latent, device=device, generator=generator
        )

    def _impose(self, rolls: torch.Tensor, condition, present) -> torch.Tensor:
        """``rolls`` with the condition track replaced by the given one where it is present."""
        if condition is None:
            return rolls
        track = self.condition_track
        given = torch.where(present[:, None, None] > 0, condition.to(rolls.dtype), rolls[:, track])
        return torch.cat([rolls[:, :track], given[:, None], rolls[:, track + 1 :]], dim=1)

    @torch.no_grad()
    def sample(self, count, steps, temperature, generator, primer=None, labels=None, rules=None):
        """``count`` rolls ``(count, tracks, steps, pitches)`` of 0/1 floats, any ``steps >= 1``
        (continuous data such as images: values from 0 to 1).

        Windows are generated side by side along a smooth latent walk. ``temperature`` only
        matters for ``gan.decode = "bernoulli"``: a threshold at p > 0.5 ignores it. A conditional
        model accompanies the ``primer``'s condition track (its other tracks are generated);
        otherwise the piece starts with the ``primer`` and goes on from the model's own windows.
        A class-conditional model makes ``labels`` ``(count,)`` (default: random classes).
        ``rules`` (a ``core.rules.CellRules``) are kept as the notes are decoded.
        """
        windows = -(-steps // self.segment_steps)
        condition = self._given_condition(primer, count, windows * self.segment_steps)
        labels = sample_labels(self.spec, count, labels, generator)
        noise = self._latent_walk(count, windows, generator)
        logits = self._logits(noise, condition, labels)[:, :, :steps]
        if rules is None:
            rolls = self._decode(logits, temperature, generator)
        else:
            rolls = decode_scores(self._scores(logits, temperature, generator), rules)
        if condition is not None:
            return self._impose(rolls, condition[:, :steps], torch.ones(count))
        if primer is not None:
            primed = min(primer.shape[1], steps)
            rolls[:, :, :primed] = primer[None, :, :primed].float()
        return rolls

    @torch.no_grad()
    def animate(self, frames: int, generator: torch.Generator, labels=None) -> torch.Tensor:
        """``frames`` items ``(frames, channels, steps, width)`` along a closed loop through
        the noise space: the last flows back into the first, so the animation loops smoothly."""
        labels = sample_labels(self.spec, 1, labels, generator)
        # (frames, 1, ...): a window each
        noise = closed_walk(lambda: self._sampling_noise(1, generator), frames)
        logits = self._logits(noise, None, labels)  # (1, channels, frames * steps, width)
        items = self._decode(logits, 1.0, generator)[0]
        return items.unflatten(1, (frames, self.segment_steps)).transpose(0, 1)

    def _activate(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits → what the critic compares with real data: each cell's probability (a note,
        a pixel's value), or for tokens a softmax over the vocabulary of every step (real text
        is one-hot; Gulrajani et al. 2017 train a character GAN on exactly this)."""
        if self.spec.data_kind == "categorical":
            return torch.softmax(logits, dim=-1)
        return torch.sigmoid(logits)

    def _decode(
        self, logits: torch.Tensor, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        # pixel values: the generator's output is the picture
        if self.spec.data_kind == "continuous":
            return torch.sigmoid(logits)
        # threshold: the likeliest token; bernoulli: a draw
        if self.spec.data_kind == "categorical":
            if self.decode == "threshold":
                return F.one_hot(logits.argmax(-1), logits.shape[-1]).float()
            flat = torch.softmax(logits.flatten(0, -2) / temperature, dim=-1)
            choice = torch.multinomial(flat, 1, generator=generator).view(logits.shape[:-1])
            return F.one_hot(choice, logits.shape[-1]).float()
        if self.decode == "bernoulli":
            return torch.bernoulli(torch.sigmoid(logits / temperature), generator=generator)
        if self.generator.output_filter is not None:  # the modality's own
            return self.generator.output_filter.decode(logits)
        return (logits > 0).float()  # p > 0.5

    def _scores(self, logits, temperature: float, generator: torch.Generator) -> torch.Tensor:
        """What ``_decode`` compares with 0 for binary cells: the logit (threshold), or the
        tempered logit plus logistic noise (bernoulli: above 0 with the cell's probability)."""
        if self.decode == "threshold":
            return logits
        uniform = torch.rand(logits.shape, generator=generator).clamp(1e-7, 1 - 1e-7)
        return logits / temperature + uniform.log() - (-uniform).log1p()

    def _logits(self, noise, condition, labels) -> torch.Tensor:
        """Logits ``(count, tracks, windows * segment_steps, pitches)`` for the noise of every
        window ``(windows, count, ...)``, every window in one batch."""
        device = next(self.parameters()).device
        shared, per_track = noise
        windows, count = shared.shape[:2]
        if labels is not None:
            labels = labels.repeat(windows).to(device)  # window-major, like the flattened noise
        given = present = None
        # (count, windows * steps, pitches) → (windows * count, steps, pitches)
        if condition is not None:
            given = (
                condition.reshape(count, windows, self.segment_steps, -1)
                .transpose(0, 1)
                .flatten(0, 1)
            )
            given, present = given.to(device), torch.ones(len(given), device=device)
        logits = (
            self.generator(
                shared.flatten(0, 1).to(device),
                per_track.flatten(0, 1).to(device),
                given,
                present,
                labels,
            )
            .float()
            .cpu()
        )
        # (windows, count, tracks, steps, pitches)
        logits = logits.view(windows, count, *logits.shape[1:])
        return logits.permute(1, 2, 0, 3, 4).flatten(2, 3)

    def _latent_walk(self, count, windows, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise for every window, ``(windows, count, latent)`` and ``(windows, count, tracks, latent)``,
        on an ``open_walk``: with threshold decoding a longer piece starts like a shorter one."""
        return open_walk(lambda: self._sampling_noise(count, generator), windows)

    def _sampling_noise(self, count: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``_noise`` to sample from, narrowed by ``gan.truncation``."""
        shared, per_track = self._noise(count, "cpu", generator)
        truncation = self.settings.truncation
        if truncation == 1:  # as trained: the very same numbers
            return shared, per_track
        return shared * truncation, per_track * truncation

    def _given_condition(self, primer, count: int, steps: int) -> torch.Tensor | None:
        """The primer's condition track cut or padded with silence to ``steps``, ``(count, steps, pitches)``."""
        if self.condition_track < 0 or primer is None:
            return None
        melody = primer[self.condition_track, :steps].float()
        melody = F.pad(melody, (0, 0, 0, steps - len(melody)))
        return melody.expand(count, -1, -1)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, labels=None) -> torch.Tensor:
    """WGAN-GP's penalty: mean of (‖∇ critic‖ − 1)² at random points between real and fake items.

    Computed in float32 even under autocast: bf16 gradients of gradients are too coarse.
    """
    with torch.autocast(real.device.type, enabled=False):
        mix = torch.rand(len(real), 1, 1, 1, device=real.device)
        points = (mix * real.float() + (1 - mix) * fake.float()).requires_grad_(True)
        scores = critic(points) if labels is None else critic(points, labels)
        (gradient,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
        return ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()


@contextmanager
def _frozen(module):
    """``module``'s parameters outside autograd for the losses built inside the block."""
    flags = [parameter.requires_grad for parameter in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in zip(module.parameters(), flags):
            parameter.requires_grad_(flag)


def _checked(settings, spec):
    """The ``[gan]`` section checked, ``condition_track`` against the data's tracks too."""
    check(settings)
    tracks = spec.channels
    if not -1 <= settings.condition_track < tracks:
        raise ConfigError(
            f"gan.condition_track: {settings.condition_track} is not a track (-1 to {tracks - 1})"
        )
    return settings
