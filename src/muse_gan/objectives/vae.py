"""A MusicVAE-style variational autoencoder over segments of ``data.window_bars`` bars.

A bidirectional RNN reads a whole segment into a Gaussian over a code z; an autoregressive
``FrameRNN`` (the RNN family's network, with z added to every step's input) and the configured
head (``model.head``) rebuild the segment frame by frame. Units: every loss is in nats per frame,
the KL term included (a segment's KL divided by its steps), so the terms add up.

z enters the decoder through its input at every step and not through its initial state: a
decoder carried on from the previous segment's state (``sample``) is then still steered fully
by the new segment's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.config import check_ranges, register_section
from ..core.objective import GREEDY, NO_TERMS, Interpolates, Likelihood, Objective, Phase
from ..core.rules import DrawsFrames
from ..errors import ConfigError
from ..models.heads import SoftmaxHead, build_head
from ..models.rnn import FrameRNN
from ..models.vae import SegmentEncoder
from .elbo import annealed_beta, free_bits_kl, gaussian_kl
from .latent import WALK_SEGMENTS, slerp
from .registry import OBJECTIVES
from .rnn import draw_frame, sequence_view


@dataclass
class DecoderState:
    """Where decoding stopped: the recurrent state, the latest frame (not yet fed back in),
    ``(batch, frame_size)``, and the step that comes next, counted from the piece's start."""

    recurrent: object
    last_frame: torch.Tensor
    next_step: int


ARCHITECTURES = ("auto", "recurrent", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")


def check(settings: VaeConfig) -> None:
    """The ``[vae]`` section, refused with the offending key when out of range."""
    for key, known in (("architecture", ARCHITECTURES), ("likelihood", LIKELIHOODS)):
        if getattr(settings, key) not in known:
            raise ConfigError(
                f"vae.{key}: unknown '{getattr(settings, key)}' (known: {', '.join(known)})"
            )
    check_ranges(
        "vae",
        settings,
        {"beta": (0, 1000), "beta_anneal_steps": (0, 10**9), "free_bits": (0, 1000)},
    )


@register_section("vae", check=check)
@dataclass(frozen=True)
class VaeConfig:
    beta: float = 1.0  # weight of the KL term once annealed
    beta_anneal_steps: int = 1000  # beta rises linearly from 0 over these steps
    free_bits: float = 0.0  # nats per latent dimension the KL term does not charge for
    architecture: str = "auto"  # "recurrent" (MusicVAE-style, any length), "conv" (fixed size); auto: conv for images
    # conv VAE: "bernoulli" (cross-entropy) or "gaussian" (learned variance)
    likelihood: str = "bernoulli"


@OBJECTIVES.register("vae")
def build_vae(spec, config, terms=NO_TERMS) -> Objective:
    """The VAE ``vae.architecture`` names; "auto" is convolutional for fixed-size items (images)
    and recurrent for music, which has any length."""
    from .conv_vae import ConvVAEObjective

    check(config.vae)
    architecture = config.vae.architecture
    if architecture == "conv" or (architecture == "auto" and spec.length):
        return ConvVAEObjective(spec, config)
    return VAEObjective(spec, config)


class VAEObjective(Objective, Likelihood, Interpolates, DrawsFrames):
    family = "vae"

    def __init__(self, spec, config):
        super().__init__()
        model, self.settings = config.model, config.vae
        self.spec, self.latent = spec, model.latent
        self.segment_steps = spec.segment
        self.decoder = FrameRNN(
            spec.frame_size,
            spec.steps_per_bar,
            model.cell,
            model.hidden,
            model.layers,
            model.dropout,
            condition_size=model.latent,
            weight_drop=model.weight_drop,
        )
        self.head = build_head(
            model.head,
            spec.data_kind,
            model.hidden,
            spec.frame_size,
            model.head_hidden,
            spec.channels,
        )
        self.encoder = SegmentEncoder(
            spec.frame_size, model.cell, model.hidden, model.layers, model.dropout, model.latent
        )
        # Training steps taken, for the beta schedule; a buffer, so checkpoints keep it.
        self.register_buffer("trained_steps", torch.zeros((), dtype=torch.long))

    # training

    def parameter_groups(self):
        return {"model": list(self.parameters())}

    def token_head(self):
        return self.head if isinstance(self.head, SoftmaxHead) else None

    def phases(self, batch, labels=None, spans=None):
        return [Phase("model", lambda: self._loss(batch))]

    def beta(self) -> float:
        """The KL weight now: rises linearly from 0 to ``vae.beta`` over ``vae.beta_anneal_steps``."""
        return annealed_beta(self.settings, self.trained_steps.item())

    def _loss(self, batch):
        self.trained_steps += 1
        frames = sequence_view(batch)
        nll, kl, _ = self._terms(frames)
        reconstruction, beta = nll.mean(), self.beta()
        loss = reconstruction + beta * free_bits_kl(kl, self.settings.free_bits) / frames.shape[1]
        return loss, {
            "loss": loss.item(),
            "reconstruction": reconstruction.item(),
            "kl": kl.sum(-1).mean().item() / frames.shape[1],
            "beta": beta,
        }

    def _terms(self, frames: torch.Tensor, generator: torch.Generator | None = None):
        """For frames ``(batch, steps, frame_size)`` and one draw of z from q(z | frames): the
        reconstruction NLL of every frame ``(batch, steps)``, the KL of every latent dimension
        ``(batch, latent)`` (nats per segment) and the posterior mean."""
        mean, log_variance = self.encoder(frames)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        z = mean + noise * (0.5 * log_variance).exp()
        contexts, _ = self.decoder(frames, condition=z)
        return self.head.nll(contexts, frames), gaussian_kl(mean, log_variance), mean

    # measuring

    @torch.no_grad()
    def evaluate(self, batch, labels=None, spans=None):
        """Validation scalars, per frame: "loss" is the negative ELBO (reconstruction + the full,
        unweighted KL: an upper bound on the frame NLL, comparable with the RNN family's).
        "accuracy" is the share of ALL cells, silent ones included, on which the greedy
        reconstruction from the posterior mean equals the input; since most cells are silent,
        "note_accuracy" counts only the cells sounding in the input or the reconstruction."""
        frames = sequence_view(batch)
        # the same z draws at every validation
        generator = torch.Generator(frames.device).manual_seed(0)
        nll, kl, mean = self._terms(frames, generator)
        rebuilt, _ = self._decode_frames(mean, frames.shape[1], GREEDY, generator)
        reconstruction, kl = nll.mean().item(), kl.sum(-1).mean().item() / frames.shape[1]
        return {
            "loss": reconstruction + kl,
            "reconstruction": reconstruction,
            "kl": kl,
        } | agreement(frames, rebuilt)

    @torch.no_grad()
    def frame_nll(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Negative ELBO of every frame of grid-view pieces of any length, ``(batch, steps)``
        nats: the piece is read as consecutive segments, each encoded and rebuilt on its own;
        a segment's KL is shared evenly by its frames. z is drawn with a fixed seed."""
        generator = torch.Generator(batch.device).manual_seed(0)
        per_segment = []
        for start in range(0, batch.shape[2], self.segment_steps):
            nll, kl, _ = self._terms(
                sequence_view(batch[:, :, start : start + self.segment_steps]), generator
            )
            per_segment.append(nll + kl.sum(-1, keepdim=True) / nll.shape[1])
        return torch.cat(per_segment, dim=1)

    # the library's face

    @torch.no_grad()
    def encode(self, rolls: torch.Tensor) -> torch.Tensor:
        """Posterior means ``(batch, latent)`` of grid-view rolls ``(batch, tracks, steps, pitches)``.

        A roll is fitted to one segment first: a longer one is cut to its first
        ``segment_steps`` steps, a shorter one padded with silence at its end.
        """
        rolls = rolls.to(self._device()).float()[:, :, : self.segment_steps]
        rolls = F.pad(rolls, (0, 0, 0, self.segment_steps - rolls.shape[2]))
        return self.encoder(sequence_view(rolls))[0]

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        steps: int,
        temperature: float,
        generator: torch.Generator,
        state: DecoderState | None = None,
    ) -> tuple[torch.Tensor, DecoderState]:
        """Rolls ``(batch, tracks, steps, pitches)`` decoded frame by frame from codes ``z``
        ``(batch, latent)``, and the decoder's state after them: pass it back in to continue
        into the next segment (the position in the bar carries on). ``temperature`` scales the
        head's choices (``GREEDY``: the most likely one); all randomness comes from ``generator``.

            >>> roll, state = vae.decode(z, 16, 1.0, generator)
            >>> more, state = vae.decode(next_z, 16, 1.0, generator, state)
        """
        frames, state = self._decode_frames(
            z.to(self._device()), steps, temperature, generator, state
        )
        return self._grid_view(frames), state

    @torch.no_grad()
    def reconstruct(
        self, rolls: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Greedy reconstructions ``(batch, tracks, segment_steps, pitches)`` of rolls, from their
        posterior means (rolls fitted to one segment as ``encode`` does)."""
        generator = generator or torch.Generator(self._device()).manual_seed(0)
        return self.decode(self.encode(rolls), self.segment_steps, GREEDY, generator)[0]

    @torch.no_grad()
    def sample(self, count, steps, temperature, generator, primer=None, labels=None, rules=None):
        """``count`` rolls ``(count, tracks, steps, pitches)`` of 0/1, for any ``steps`` >= 1.

        Decoded segment by segment, each decoder carrying on from the previous one's state,
        with the segments' codes on a smooth walk through latent space (``latent_walk``). A
        ``primer`` ``(tracks, primer_steps, pitches)`` starts the output as it is: its segments'
        codes are its own encodings (``_primer_codes``), the decoder reads its frames (teacher
        forcing), and the walk sets off from the code of its last segment.
        """
        if primer is None:
            primer = torch.zeros(self.spec.channels, 0, self.spec.width)
        known = sequence_view(primer[None, :, :steps].to(self._device()).float()).expand(
            count, -1, -1
        )
        codes = self._segment_codes(count, steps, generator, known)
        gate = None if rules is None else rules.gate(known[0])
        pieces, state = [], None
        for index, z in enumerate(codes):
            start, end = index * self.segment_steps, min((index + 1) * self.segment_steps, steps)
            given = known[:, start:end]
            if given.shape[1]:
                pieces.append(given)
                state = self._teacher_force(z, given, state)
            if end > start + given.shape[1]:
                frames, state = self._decode_frames(
                    z, end - start - given.shape[1], temperature, generator, state, gate
                )
                pieces.append(frames)
        return self._grid_view(torch.cat(pieces, dim=1))

    @torch.no_grad()
    def interpolate(
        self,
        roll_a: torch.Tensor,
        roll_b: torch.Tensor,
        steps_between: int,
        temperature: float,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Segments ``(steps_between + 2, tracks, segment_steps, pitches)`` morphing
        from roll a to roll b (each ``(tracks, steps, pitches)``, fitted as ``encode`` does).

        The ends are greedy reconstructions of a and b from their posterior means; the ones
        between are decoded at ``temperature`` from codes spherically interpolated between them.
        """
        code_a, code_b = self.encode(roll_a[None]), self.encode(roll_b[None])
        fractions = torch.linspace(0, 1, steps_between + 2).tolist()
        path = torch.cat([slerp(code_a, code_b, fraction) for fraction in fractions])
        ends, _ = self.decode(path[[0, -1]], self.segment_steps, GREEDY, generator)
        if not steps_between:
            return ends
        between, _ = self.decode(path[1:-1], self.segment_steps, temperature, generator)
        return torch.cat([ends[:1], between, ends[1:]])

    # decoding

    def _segment_codes(
        self, count: int, steps: int, generator: torch.Generator, known: torch.Tensor
    ):
        """One code ``(count, latent)`` per segment of ``steps``: the primer's own codes for the
        segments it reaches, then a latent walk from the last of them (or from a random code)."""
        segments = math.ceil(steps / self.segment_steps)
        primed = self._primer_codes(known)
        walk = self.latent_walk(
            count, segments - max(len(primed) - 1, 0), generator, primed[-1] if primed else None
        )
        return primed[:-1] + walk

    def _primer_codes(self, known: torch.Tensor) -> list[torch.Tensor]:
        """Codes of the segments a primer's frames ``(count, primer_steps, frame_size)`` reach:
        each from the ``segment_steps`` frames ending where the primer leaves that segment. A
        primer shorter than a segment is repeated to fill one: a loop of it says "more like
        this", where silence after it would say "then stop"."""
        codes = []
        for start in range(0, known.shape[1], self.segment_steps):
            end = min(start + self.segment_steps, known.shape[1])
            window = known[:, max(0, end - self.segment_steps) : end]
            window = window.repeat(1, math.ceil(self.segment_steps / window.shape[1]), 1)[
                :, : self.segment_steps
            ]
            codes.append(self.encoder(window)[0])
        return codes

    def latent_walk(
        self,
        count: int,
        segments: int,
        generator: torch.Generator,
        start: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """``segments`` codes ``(count, latent)`` on a smooth path: spherical interpolation
        between anchors drawn from the prior N(0, I), one reached every ``WALK_SEGMENTS``
        segments. The first code is the first anchor: ``start`` when given."""
        anchors = torch.randn(
            segments // WALK_SEGMENTS + 2,
            count,
            self.latent,
            generator=generator,
            device=generator.device,
        ).to(self._device())
        if start is not None:
            anchors[0] = start
        return [
            slerp(
                anchors[index // WALK_SEGMENTS],
                anchors[index // WALK_SEGMENTS + 1],
                index % WALK_SEGMENTS / WALK_SEGMENTS,
            )
            for index in range(segments)
        ]

    def _decode_frames(self, z, steps, temperature, generator, state=None, gate=None):
        """Frames ``(batch, steps, frame_size)`` chosen one by one (within ``gate``, a
        ``core.rules.FrameGate``, when given), fed back in, and the state after."""
        frames = []
        for _ in range(steps):
            if state is None:
                context, recurrent = self.decoder.begin(len(z), 0, condition=z)
                step = 0
            else:
                context, recurrent = self.decoder.advance(
                    state.last_frame, state.next_step, state.recurrent, condition=z
                )
                step = state.next_step
            frames.append(draw_frame(self.head, context, temperature, generator, gate))
            state = DecoderState(recurrent, frames[-1], step + 1)
        return torch.stack(frames, dim=1), state

    def _teacher_force(self, z, frames, state=None) -> DecoderState:
        """The state after the decoder has read ``frames`` ``(batch, steps, frame_size)`` as its own."""
        if state is None:
            _, recurrent = self.decoder(frames, condition=z)
            return DecoderState(recurrent, frames[:, -1], frames.shape[1])
        inputs = torch.cat([state.last_frame[:, None], frames[:, :-1]], dim=1)
        _, recurrent = self.decoder(
            inputs, state.next_step, state.recurrent, starting=False, condition=z
        )
        return DecoderState(recurrent, frames[:, -1], state.next_step + frames.shape[1])

    def _grid_view(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, steps, channels * width) → (batch, channels, steps, width): the inverse of ``sequence_view``."""
        return frames.reshape(
            len(frames), frames.shape[1], self.spec.channels, self.spec.width
        ).transpose(1, 2)

    def _device(self) -> torch.device:
        return self.trained_steps.device


def agreement(original: torch.Tensor, rebuilt: torch.Tensor) -> dict[str, float]:
    """How alike two 0/1 tensors of the same shape are. "accuracy": the share of all cells
    equal in both; "note_accuracy": of the cells sounding in either, the share sounding in both."""
    original, rebuilt = original > 0.5, rebuilt > 0.5
    either = (original | rebuilt).sum().item()
    both = (original & rebuilt).sum().item()
    return {
        "accuracy": (original == rebuilt).float().mean().item(),
        "note_accuracy": both / either if either else 1.0,
    }
