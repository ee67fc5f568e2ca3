"""Output heads: a distribution over one frame given a context vector. Binary frames
(multi-hot piano-roll frames, binarized image rows): "bernoulli", "pitchwise", "voicewise"; continuous
frames (image rows): "gaussian". ``nll`` is in nats per frame, summed over cells.

The heads with logits divide them by their ``calibration`` (``model.calibration``, set by
`muse calibrate`), in ``nll`` and in sampling alike: the calibrated distribution is the model's,
and a sampling temperature tempers it further."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import Registry

HEADS = Registry("head")
DATA_KINDS = {
    "bernoulli": "binary",
    "pitchwise": "binary",
    "voicewise": "binary",
    "gaussian": "continuous",
    "softmax": "categorical",
}
AUTO = {"binary": "pitchwise", "continuous": "gaussian", "categorical": "softmax"}


def build_head(
    name: str, data_kind: str, context_size: int, frame_size: int, hidden: int, channels: int = 1
) -> nn.Module:
    """The head ``model.head`` names ("auto": ``AUTO`` by the kind of data), checked against
    the kind of data it has to model; a frame holds ``channels`` voices of equal width."""
    if name == "auto":
        name = AUTO[data_kind]
    head = HEADS.get(name)
    if DATA_KINDS[name] != data_kind:
        fitting = ", ".join(other for other, kind in DATA_KINDS.items() if kind == data_kind)
        raise ConfigError(
            f"model.head: '{name}' models {DATA_KINDS[name]} data; this data is {data_kind} "
            f"(use {fitting})"
        )
    if getattr(head, "takes_voices", False):
        if frame_size % channels:
            raise ConfigError(f"model.head: '{name}' needs a frame of equal voices")
        return head(context_size, frame_size, hidden, voices=channels)
    return head(context_size, frame_size, hidden)


class Calibrated(nn.Module):
    """A head whose ``out`` layer gives logits, divided by ``calibration`` (1: as trained)."""

    calibration = 1.0

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        scores = self.out(hidden)
        return scores if self.calibration == 1.0 else scores.float() / self.calibration


def leaned(logits: torch.Tensor, offsets: torch.Tensor, sounding=None) -> torch.Tensor:
    """Logits over cells and, last, "stop", with a leaning's ``offsets`` ``(channels, width)``
    added to the cells and each channel's cells moved alike, so that every channel keeps its
    probability and "stop" its own: a lean toward some notes moves probability among one
    voice's notes (flat offsets ``(channels * width,)``, with no ``sounding``, move it across the
    whole frame).
    Lowering the out-of-key notes' logits alone handed probability to "stop" (frames held fewer
    notes); moved across the whole frame, a voice's share went to the next voice's held notes,
    which silenced palestrina's voices. ``sounding`` ``(channels, width)`` is then added: the
    one lean that moves probability between a voice sounding and resting."""
    notes = logits[..., :-1].unflatten(-1, offsets.shape)
    moved = notes + offsets
    shift = (notes.logsumexp(-1, keepdim=True) - moved.logsumexp(-1, keepdim=True)).nan_to_num(0.0)
    moved = moved + shift
    if sounding is not None:
        moved = moved + sounding
    return torch.cat([moved.flatten(-offsets.dim()), logits[..., -1:]], dim=-1)


@HEADS.register("bernoulli")
class BernoulliHead(Calibrated):
    """Every cell of the frame on or off independently."""

    def __init__(self, context_size: int, frame_size: int, hidden: int):
        super().__init__()
        self.out = nn.Linear(context_size, frame_size)

    def nll(self, contexts: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        logits = self.logits(contexts).float()
        return F.binary_cross_entropy_with_logits(logits, frames, reduction="none").sum(-1)

    @torch.no_grad()
    def sample(
        self, contexts: torch.Tensor, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        probabilities = torch.sigmoid(self.logits(contexts).float() / temperature)
        return torch.bernoulli(probabilities, generator=generator)

    @torch.no_grad()
    def sample_gated(
        self, context: torch.Tensor, temperature: float, generator: torch.Generator, gate
    ) -> torch.Tensor:
        """``sample`` for a batch of one within a ``core.rules.FrameGate``: cells are drawn in
        ascending order, each only while the gate leaves it open; while the gate owes a note,
        the next one is drawn among the open cells in proportion to their probabilities."""
        logits = self.logits(context).float()[0]
        if (offsets := gate.offsets()) is not None:
            logits = logits + offsets.flatten()
        # a channel's pitches likelier alike (cells are drawn independently here: a voice
        # that sounds is also likelier to sound two pitches)
        if (sounding := gate.sounding()) is not None:
            logits = logits + sounding.flatten()
        probabilities = torch.sigmoid(logits / temperature)
        draws = torch.rand(probabilities.shape, generator=generator)
        frame = torch.zeros(1, len(probabilities))
        cell = 0
        while cell < len(probabilities):
            cells, may_stop = gate.open_cells(frame[0])
            owed = (probabilities * cells)[cell:]
            if not may_stop and owed.sum() > 0:
                cell += int(torch.multinomial(owed, 1, generator=generator))
                frame[0, cell] = 1
            elif cells[cell] and draws[cell] < probabilities[cell]:
                frame[0, cell] = 1
            cell += 1
        return frame


@HEADS.register("pitchwise")
class PitchwiseHead(Calibrated):
    """The frame's sounding cells one at a time in ascending order, then a stop symbol.

    Each choice is a softmax over the cells above the last one chosen plus "stop", given the
    context and the cells chosen so far, so the notes of a chord are modelled jointly. Because
    the order is fixed, every set of cells has exactly one sequence: the probabilities of all
    frames sum to one and ``nll`` is an exact frame likelihood. Cell index = track * pitches + pitch.

    The frame is read as ``voices`` blocks of cells (here one: the whole frame), each closed by
    its own "stop": a choice is among the cells of the block being drawn, above the last one.
    """

    def __init__(self, context_size: int, frame_size: int, hidden: int):
        super().__init__()
        self.voices = 1
        self.voice = None  # the embedding of the block being drawn, for more than one
        self.frame_size = frame_size
        self.stop = frame_size
        self.none_yet = frame_size + 1  # ``previous`` at a block's first choice
        self.from_context = nn.Linear(context_size, hidden)
        self.chosen = nn.Embedding(frame_size + 1, hidden)  # sum over the choices so far
        self.last = nn.Embedding(frame_size + 2, hidden)  # the latest cell, or none yet
        self.out = nn.Sequential(
            nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, frame_size + 1)
        )

    def nll(self, contexts: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        shape = frames.shape[:-1]
        contexts, frames = (
            contexts.reshape(-1, contexts.shape[-1]),
            frames.reshape(-1, frames.shape[-1]),
        )
        # (frames, choices): each block's cells and its stop, then stop padding
        targets, voices = self._choice_sequences(frames)
        previous = torch.cat([torch.full_like(targets[:, :1], self.none_yet), targets[:, :-1]], 1)
        previous = previous.masked_fill(previous == self.stop, self.none_yet)  # a new block
        chosen = torch.cumsum(self.chosen(targets), dim=1) - self.chosen(targets)
        logits = self._logits(self.from_context(contexts)[:, None], chosen, previous, voices)
        log_probabilities = logits.float().log_softmax(-1).gather(-1, targets[..., None])[..., 0]
        count = frames.sum(-1, keepdim=True).long()
        # the cells and one stop per block
        real = torch.arange(targets.shape[1], device=frames.device) < count + self.voices
        return -(log_probabilities * real).sum(-1).reshape(shape)

    @torch.no_grad()
    def sample(
        self, contexts: torch.Tensor, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        if len(contexts) == 1:
            return self._sample_one(contexts, temperature, generator)
        return self._sample_batch(contexts, temperature, generator)

    def _sample_batch(
        self, contexts: torch.Tensor, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        batch, device = len(contexts), contexts.device
        frames = torch.zeros(batch, self.frame_size, device=device)
        previous = torch.full((batch,), self.none_yet, device=device)
        chosen = torch.zeros(batch, self.chosen.embedding_dim, device=device)
        voice = torch.zeros(batch, dtype=torch.long, device=device)
        projected = self.from_context(contexts)  # once per frame, not once per note
        while (drawing := voice < self.voices).any():
            logits = self._logits(projected, chosen, previous, voice.clamp(max=self.voices - 1))
            choice = self._choose(logits.float(), temperature, generator)
            stopped = choice == self.stop
            live = (drawing & ~stopped).nonzero().flatten()
            frames[live, choice[live]] = 1
            chosen[drawing] += self.chosen(choice[drawing])
            previous = torch.where(drawing, choice, previous)
            previous = previous.masked_fill(drawing & stopped, self.none_yet)
            voice += drawing & stopped
        return frames

    def _sample_one(
        self, context: torch.Tensor, temperature: float, generator: torch.Generator, gate=None
    ) -> torch.Tensor:
        """``sample`` for a batch of one, as composing a piece asks: the same arithmetic and
        draws, without the batch's bookkeeping, and the mask of cells still allowed looked up
        (each op costs microseconds here, and a frame takes one choice per note). Within
        ``gate`` (a ``core.rules.FrameGate``), the cells it closes (and "stop", while it owes a
        note in this block) are masked too, before each draw."""
        frame = torch.zeros(1, self.frame_size, device=context.device)
        chosen = torch.zeros(1, self.chosen.embedding_dim, device=context.device)
        previous = torch.full((1,), self.none_yet, device=context.device)
        voice = 0
        projected = self.from_context(context)
        forbidden = self._forbidden(context.device)
        offsets, sounding = (None, None) if gate is None else (gate.offsets(), gate.sounding())
        if sounding is not None and offsets is None:  # a leaning: the same for the frame
            offsets = torch.zeros_like(sounding)
        while True:
            closed = forbidden[voice, previous]
            if gate is not None and not gate.free:  # a free gate (a lean alone) closes nothing
                cells, may_stop = gate.open_cells(frame[0])
                may_stop = may_stop or self._may_end_block(cells, closed, voice)
                closed = closed | ~torch.cat([cells, torch.tensor([may_stop])])
                if closed.all():
                    return frame
            logits = self.logits(self._hidden(projected, chosen, previous, voice))
            logits = logits.masked_fill(closed, float("-inf"))
            if offsets is not None:
                logits = leaned(logits, offsets, self._entering(frame, sounding))
            choice = self._choose(logits.float(), temperature, generator)
            cell = int(choice)
            if cell == self.stop and voice == self.voices - 1:
                return frame
            chosen += self.chosen.weight[cell]
            if cell == self.stop:
                voice, previous = voice + 1, torch.full_like(previous, self.none_yet)
            else:
                frame[0, cell] = 1
                previous = choice

    @property
    def block_width(self) -> int:
        """Cells in one block (a voice)."""
        return self.frame_size // self.voices

    def _may_end_block(self, cells: torch.Tensor, closed: torch.Tensor, voice: int) -> bool:
        """Whether the block being drawn may end although the gate owes a note: when the note
        owed is in a later block (the gate leaves cells open there), or none is left here."""
        if self.voices == 1:
            return False
        here = cells & ~closed[0, :-1]
        return bool(cells[(voice + 1) * self.block_width :].any() or not here.any())

    @staticmethod
    def _entering(frame: torch.Tensor, sounding):
        """``sounding`` for the channels with no cell in ``frame`` yet: the lean is on whether a
        voice sounds at all, not on a second pitch or an onset mark once it does."""
        if sounding is None:
            return None
        return sounding * (frame.view(len(sounding), -1).sum(1) == 0)[:, None]

    @torch.no_grad()
    def sample_gated(
        self, context: torch.Tensor, temperature: float, generator: torch.Generator, gate
    ) -> torch.Tensor:
        """``sample`` for a batch of one within a ``core.rules.FrameGate``."""
        return self._sample_one(context, temperature, generator, gate)

    def _forbidden(self, device) -> torch.Tensor:
        """``(voices, frame_size + 2, frame_size + 1)``: row ``[voice, previous]`` is
        ``_logits``' mask of the choices not allowed then."""
        table = getattr(self, "_forbidden_table", None)
        if table is None or table.device != torch.device(device):
            previous = torch.arange(self.frame_size + 2, device=device)
            voices = torch.arange(self.voices, device=device)
            table = ~self._allowed(previous[None, :], voices[:, None])
            self._forbidden_table = table
        return table

    def _choose(
        self, logits: torch.Tensor, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        """One choice per row: first "another note or stop?", then which note.

        At temperature 1 this draws exactly from the softmax over notes and stop. Tempering the
        two decisions apart keeps low temperatures from favouring "stop" just because it is one
        option against many notes: near 0 a frame goes on while going on is likelier than
        stopping, taking the likeliest note each time.
        """
        log_probabilities = logits.log_softmax(-1)
        stop = log_probabilities[:, self.stop]
        go = torch.log1p(-stop.exp().clamp(max=1 - 1e-7))
        going = torch.rand(len(logits), generator=generator, device=logits.device) < torch.sigmoid(
            (go - stop) / temperature
        )
        # no note left above the last one
        going &= torch.isfinite(log_probabilities[:, : self.stop]).any(-1)
        notes = (log_probabilities[:, : self.stop] / temperature).softmax(-1)
        note = torch.multinomial(notes.nan_to_num(0.0) + 1e-30, 1, generator=generator)[:, 0]
        return torch.where(going, note, self.stop)

    def _logits(self, projected_context, chosen, previous, voices) -> torch.Tensor:
        logits = self.logits(self._hidden(projected_context, chosen, previous, voices))
        return logits.masked_fill(~self._allowed(previous, voices), float("-inf"))

    def _hidden(self, projected_context, chosen, previous, voices) -> torch.Tensor:
        """What a choice is made from: the context, the choices so far, the last cell chosen
        in this block and (for more than one) which block it is; ``voices`` an index or a
        tensor of them."""
        hidden = projected_context + chosen + self.last(previous)
        return hidden if self.voice is None else hidden + self.voice.weight[voices]

    def _allowed(self, previous: torch.Tensor, voices: torch.Tensor) -> torch.Tensor:
        """``(*previous.shape, frame_size + 1)``: the cells of block ``voices`` above the cell
        ``previous`` (all of them when none is chosen yet in it), and stop."""
        cells = torch.arange(self.frame_size + 1, device=previous.device)
        first = (voices * self.block_width)[..., None]
        last_cell = torch.where(previous >= self.stop, -1, previous)[..., None]
        block = (cells >= first) & (cells < first + self.block_width)
        return ((cells > last_cell) & block) | (cells == self.stop)

    def _choice_sequences(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each frame's choices: every block's sounding cells in ascending order, then its stop,
        padded with stop, ``(frames, max count + voices)``; and the block each is drawn in."""
        width = self.block_width
        # sort keys: cell c at 2c, block v's stop just below its next block's first cell,
        # silent cells past every stop
        cells = torch.arange(self.frame_size, device=frames.device).expand_as(frames)
        keys = torch.where(frames > 0.5, 2 * cells, 2 * self.frame_size + 1)
        stops = 2 * width * torch.arange(1, self.voices + 1, device=frames.device) - 1
        keys = torch.cat([keys, stops.expand(len(frames), -1)], dim=1)
        longest = int((frames > 0.5).sum(-1).max().item()) if len(frames) else 0
        keys = keys.sort(dim=-1).values[:, : longest + self.voices]
        targets = torch.where(keys % 2 == 0, keys // 2, self.stop)
        return targets, (keys // 2 // width).clamp(max=self.voices - 1)


@HEADS.register("voicewise")
class VoicewiseHead(PitchwiseHead):
    """``pitchwise`` with a "stop" for each voice (channel) in turn: a voice's notes, low to
    high, then whether the next voice sounds. With one stop for the frame, a stop silenced
    every voice not yet drawn, and the last voices of palestrina's six dropped out most."""

    takes_voices = True

    def __init__(self, context_size: int, frame_size: int, hidden: int, voices: int):
        super().__init__(context_size, frame_size, hidden)
        self.voices = voices
        self.voice = nn.Embedding(voices, hidden)


@HEADS.register("gaussian")
class GaussianHead(nn.Module):
    """Every cell an independent Gaussian with its own mean and spread, for values from 0 to 1
    (pixels). ``nll`` is a density's: it can go below zero once the spreads are small. Draws
    are clamped into 0..1; temperature scales the spread."""

    MIN_LOG_SCALE = -7.0  # a floor on the spread, so a certain cell can't drive the loss to -inf

    def __init__(self, context_size: int, frame_size: int, hidden: int):
        super().__init__()
        self.out = nn.Linear(context_size, 2 * frame_size)

    def _mean_and_log_scale(self, contexts):
        mean_logit, log_scale = self.out(contexts).float().chunk(2, dim=-1)
        return torch.sigmoid(mean_logit), log_scale.clamp(min=self.MIN_LOG_SCALE)

    def nll(self, contexts: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        mean, log_scale = self._mean_and_log_scale(contexts)
        z = (frames - mean) * torch.exp(-log_scale)
        return (0.5 * z.square() + log_scale + 0.5 * math.log(2 * math.pi)).sum(-1)

    @torch.no_grad()
    def sample(
        self, contexts: torch.Tensor, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        mean, log_scale = self._mean_and_log_scale(contexts)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        return (mean + temperature * log_scale.exp() * noise).clamp(0, 1)


@HEADS.register("softmax")
class SoftmaxHead(Calibrated):
    """One token per frame (a one-hot frame), from a softmax over the vocabulary. Sampling
    honours ``top_k`` (only the k likeliest tokens) and ``top_p`` (the fewest likeliest tokens
    holding that much probability), and ``grammar`` (only the tokens its ``allowed()`` leaves
    open; it then ``advance``s past the drawn ones), which callers may set for a while (see
    ``api.MuseModel``)."""

    def __init__(self, context_size: int, frame_size: int, hidden: int):
        super().__init__()
        self.out = nn.Linear(context_size, frame_size)
        self.top_k, self.top_p, self.grammar = 0, 1.0, None

    def nll(self, contexts: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        logits = self.logits(contexts).float()
        return F.cross_entropy(
            logits.flatten(0, -2), frames.argmax(-1).flatten(), reduction="none"
        ).view(frames.shape[:-1])

    @torch.no_grad()
    def sample(
        self, contexts: torch.Tensor, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        logits = self.logits(contexts).float() / temperature
        if self.grammar is not None:
            logits = logits.masked_fill(~self.grammar.allowed().to(logits.device), float("-inf"))
        if self.top_k:
            kth = logits.topk(min(self.top_k, logits.shape[-1]), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1:
            ordered, order = logits.sort(dim=-1, descending=True)
            # probability of the likelier tokens
            before = ordered.softmax(-1).cumsum(-1) - ordered.softmax(-1)
            drop = torch.zeros_like(logits, dtype=torch.bool).scatter(
                -1, order, before >= self.top_p
            )
            logits = logits.masked_fill(drop, float("-inf"))
        choice = torch.multinomial(logits.softmax(-1), 1, generator=generator)[..., 0]
        if self.grammar is not None:
            self.grammar.advance(choice)
        return F.one_hot(choice, logits.shape[-1]).float()
