"""A convolutional VAE over fixed-size items (images, or roll windows): ``vae.architecture = "conv"``.

The encoder is the GAN critic's convolutional trunk ending in a Gaussian over z; the decoder
is the GAN's generator with z as its noise. With class labels both are conditioned on the
label (a conditional VAE), so z keeps what the label does not say: a digit's style.

Units match the recurrent VAE and the RNN: nats per frame (an image row), the KL term's share
included, so the families' validation losses compare.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.objective import GREEDY, Likelihood, Objective, Phase, WalksLatent, sample_labels
from ..models.conv import GridEncoder, GridGenerator
from .elbo import annealed_beta, free_bits_kl, gaussian_kl
from .latent import closed_walk, open_walk


class ConvVAEObjective(Objective, Likelihood, WalksLatent):
    family = "vae"

    def __init__(self, spec, config, terms=None):
        super().__init__()
        model, self.settings = config.model, config.vae
        self.spec, self.latent = spec, model.latent
        self.segment_steps = spec.segment
        self.encoder = GridEncoder(
            spec.channels,
            self.segment_steps,
            spec.width,
            model.channels,
            model.latent,
            spec.classes,
        )
        self.decoder = GridGenerator(
            spec.channels,
            self.segment_steps,
            spec.width,
            model.latent,
            model.channels,
            condition=bool(spec.classes),
            per_track=False,
            classes=spec.classes,
        )
        # A learned picture per class, read by the decoder's condition encoder into features at
        # every resolution: the label then steers every layer, where through the code alone a
        # decoder learns to take the class (a note's pitch) from z and ignores the label.
        self.label_picture = (
            nn.Embedding(spec.classes, self.segment_steps * spec.width) if spec.classes else None
        )
        if self.settings.likelihood == "gaussian":
            # per channel, learned
            self.log_scale = nn.Parameter(torch.full((spec.channels,), -2.0))
        self.register_buffer("trained_steps", torch.zeros((), dtype=torch.long))

    def parameter_groups(self):
        return {"model": list(self.parameters())}

    def phases(self, batch, labels=None, spans=None):
        return [Phase("model", lambda: self._loss(batch, labels))]

    def beta(self) -> float:
        """The KL weight now: rises linearly from 0 to ``vae.beta`` over ``vae.beta_anneal_steps``."""
        return annealed_beta(self.settings, self.trained_steps.item())

    def _loss(self, batch, labels):
        self.trained_steps += 1
        nll, kl, _ = self._terms(batch, labels)
        rows, beta = batch.shape[2], self.beta()
        reconstruction = nll.mean() / rows
        loss = reconstruction + beta * free_bits_kl(kl, self.settings.free_bits) / rows
        return loss, {
            "loss": loss.item(),
            "reconstruction": reconstruction.item(),
            "kl": kl.sum(-1).mean().item() / rows,
            "beta": beta,
        }

    def _terms(self, batch, labels, generator=None):
        """The reconstruction NLL of every item ``(batch,)``, every latent dimension's KL
        ``(batch, latent)`` (nats per item) and the posterior means, for one draw of z."""
        mean, log_variance = self.encoder(batch, labels)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        logits = self._decoder_logits(mean + noise * (0.5 * log_variance).exp(), labels)
        return self._nll(logits, batch.float()), gaussian_kl(mean, log_variance), mean

    def _nll(self, logits: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """-log p(items | logits), summed over each item's cells."""
        if self.settings.likelihood == "bernoulli":
            cells = F.binary_cross_entropy_with_logits(logits, items, reduction="none")
        else:
            log_scale = self.log_scale.view(1, -1, 1, 1)
            z = (items - torch.sigmoid(logits)) * torch.exp(-log_scale)
            cells = 0.5 * z.square() + log_scale + 0.5 * math.log(2 * math.pi)
        return cells.flatten(1).sum(1)

    @torch.no_grad()
    def evaluate(self, batch, labels=None, spans=None):
        """Per frame (row): "loss" is the negative ELBO (full KL), plus its two terms; "error" is
        the mean absolute difference of the reconstructions from the posterior means."""
        generator = torch.Generator(batch.device).manual_seed(0)
        nll, kl, mean = self._terms(batch, labels, generator)
        rows = batch.shape[2]
        reconstruction, kl = nll.mean().item() / rows, kl.sum(-1).mean().item() / rows
        rebuilt = self._decode(mean, labels, GREEDY, generator)
        return {
            "loss": reconstruction + kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "error": (rebuilt.to(batch.device) - batch).abs().mean().item(),
        }

    @torch.no_grad()
    def frame_nll(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Negative ELBO of every frame of whole items, ``(batch, rows)`` nats, z drawn with a fixed seed."""
        generator = torch.Generator(batch.device).manual_seed(0)
        nll, kl, _ = self._terms(batch, labels, generator)
        rows = batch.shape[2]
        return ((nll + kl.sum(-1)) / rows)[:, None].expand(-1, rows)

    @torch.no_grad()
    def sample(self, count, steps, temperature, generator, primer=None, labels=None):
        """``count`` items ``(count, channels, steps, width)`` decoded from the prior; longer
        than one window, windows side by side along a latent walk. Continuous data gives the
        decoder's means; binary data a draw at ``temperature``."""
        labels = sample_labels(self.spec, count, labels, generator)
        windows = -(-steps // self.segment_steps)
        (codes,) = open_walk(lambda: (self._prior(count, generator),), windows)
        items = [self._decode(code, labels, temperature, generator) for code in codes]
        return torch.cat(items, dim=2)[:, :, :steps]

    @torch.no_grad()
    def animate(self, frames: int, generator: torch.Generator, labels=None) -> torch.Tensor:
        """``frames`` items on a closed loop through the prior, ``(frames, channels, steps, width)``."""
        labels = sample_labels(self.spec, 1, labels, generator)
        (codes,) = closed_walk(lambda: (self._prior(1, generator),), frames)
        return self._decode(
            codes[:, 0], None if labels is None else labels.expand(frames), GREEDY, generator
        )

    def _decoder_logits(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.label_picture is None:
            return self.decoder(z, None).float()
        picture = self.label_picture(labels).view(len(labels), self.segment_steps, self.spec.width)
        return self.decoder(
            z, None, picture, torch.ones(len(labels), device=z.device), labels
        ).float()

    def _prior(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(count, self.latent, generator=generator)

    def _decode(self, z, labels, temperature, generator) -> torch.Tensor:
        device = self._device()
        labels = None if labels is None else labels.to(device)
        logits = self._decoder_logits(z.to(device), labels).cpu()
        if self.spec.data_kind == "continuous":
            return torch.sigmoid(logits)  # the decoder's means
        return torch.bernoulli(torch.sigmoid(logits / temperature), generator=generator)

    def _device(self) -> torch.device:
        return self.trained_steps.device
