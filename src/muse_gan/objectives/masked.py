"""An orderless masked model of piano rolls, in the manner of Coconet (Huang et al. 2017).

Every track sounds one choice at each step: one of its pitches (the highest, where a roll holds
more) or silence. Training masks a random share of the (track, step) choices of each window
and learns to fill them given the rest, so one network serves any order and any gap: a
continuation, bars in the middle of a piece, a whole voice under a melody. Pieces are drawn by
blocked Gibbs sampling with an annealed mask (Yao et al. 2014): at first nearly every cell to
fill is drawn at once, then ever smaller blocks are drawn again given the others.

Units: losses are nats per frame (one step of all tracks): the mean over masked choices times
the number of tracks.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..core.objective import NO_TERMS, FillsMasks, Likelihood, Objective, Phase
from ..core.rules import NO_LIMIT, Leans
from ..errors import ConfigError
from ..models.masked import MaskedRollNet
from .registry import OBJECTIVES

# The annealed block share of Yao et al., as Coconet uses it: from nearly all of the cells to
# fill down to 5% over the first 3/4 of the steps, then 5%.
FIRST_SHARE, LAST_SHARE, ANNEALED_PART = 0.999, 0.05, 0.75
# Gibbs steps per fill: one per choice to fill (Coconet's count), at most this many, so that
# a long piece costs a bounded number of passes
MOST_GIBBS_STEPS = 128
VALIDATION_SEED = 0  # the same masks at every validation, so its losses compare


@OBJECTIVES.register("coconet")
class MaskedObjective(Objective, FillsMasks, Likelihood, Leans):
    family = "coconet"

    def __init__(self, spec, full_config, terms=NO_TERMS):
        super().__init__()
        if spec.data_kind != "binary" or not spec.channel_tracks:
            raise ConfigError(
                f"model.family: 'coconet' fills piano rolls (a note or silence per track and "
                f"step); this data is {spec.data_kind} (use rnn, gan or vae)"
            )
        config = full_config.model
        self.spec, self.silent = spec, spec.width
        self.network = MaskedRollNet(
            spec.channels,
            spec.width + 1,
            config.layers,
            config.channels,
            spec.longest_period,
            config.dropout,
        )

    @property
    def a_family(self) -> str:
        return "a Coconet"

    def parameter_groups(self):
        return {"model": list(self.parameters())}

    def phases(self, batch, labels=None, spans=None):
        return [Phase("model", lambda: self._loss(batch))]

    def _loss(self, batch):
        choices = self.choices_of(batch)
        nll = self.masked_nll(choices, random_masks(choices.shape, choices.device))
        return nll, {"loss": nll.item()}

    @torch.no_grad()
    def evaluate(self, batch, labels=None, spans=None):
        choices = self.choices_of(batch)
        generator = torch.Generator().manual_seed(VALIDATION_SEED)
        mask = random_masks(choices.shape, "cpu", generator).to(choices.device)
        return {"loss": self.masked_nll(choices, mask).item()}

    def masked_nll(self, choices: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Nats per frame of the masked choices given the others: their mean times the tracks."""
        logits = self.network(self.one_hot(choices, mask), mask)
        nll = F.cross_entropy(logits.float().flatten(0, 2), choices.flatten(), reduction="none")
        masked = mask.flatten().float()
        return (nll * masked).sum() / masked.sum().clamp(min=1) * self.spec.channels

    # rolls ⇄ choices

    def choices_of(self, rolls: torch.Tensor) -> torch.Tensor:
        """Each track's choice at each step ``(batch, tracks, steps)``: its highest sounding cell
        of ``rolls`` ``(batch, tracks, steps, width)``, else ``silent``."""
        sounding = rolls > 0.5
        highest = self.silent - 1 - sounding.flip(-1).int().argmax(-1)
        return torch.where(sounding.any(-1), highest, self.silent)

    def one_hot(self, choices: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The known choices one-hot ``(batch, tracks, steps, width + 1)``, zero where masked."""
        known = F.one_hot(choices, self.silent + 1).float()
        return known * (~mask)[..., None]

    def roll_of(self, choices: torch.Tensor) -> torch.Tensor:
        """Choices back as roll cells ``(batch, tracks, steps, width)``."""
        return F.one_hot(choices, self.silent + 1)[..., : self.silent].float()

    # drawing

    @torch.no_grad()
    def sample(self, count, steps, temperature, generator, primer=None, labels=None, rules=None):
        """``count`` pieces of ``steps`` steps: everything after ``primer`` filled, within
        ``rules`` (a ``core.rules.CellRules``) when given."""
        rolls = torch.zeros(count, self.spec.channels, steps, self.spec.width)
        mask = torch.ones(count, self.spec.channels, steps, dtype=torch.bool)
        if primer is not None:
            primed = min(primer.shape[1], steps)
            rolls[:, :, :primed] = primer[:, :primed]
            mask[:, :, :primed] = False
        return self.fill(rolls, mask, temperature, generator, rules)

    @torch.no_grad()
    def fill(self, rolls, mask, temperature, generator, rules=None):
        """See ``FillsMasks.fill``; ``rules`` (a ``core.rules.CellRules`` over the whole roll)
        are kept by the drawn notes: the logits of cells they close are masked before each
        draw (silence is always open) and their leaning, asked of the draft as it stands, is
        added at each Gibbs step. A count of notes per bar, which blocks drawn across a bar
        cannot keep, is kept by a last sweep that draws the filled steps again one at a time,
        in time order, each within the rules' ``FrameGate``."""
        choices, mask = self.choices_of(rolls), mask.bool()
        start, end = _extent(mask)
        if start is None:
            return rolls.clone()
        # a step's logits depend on `reach` steps on either side: the rest need not be computed
        first, last = (
            max(0, start - self.network.reach),
            min(rolls.shape[2], end + self.network.reach),
        )
        opened = None if rules is None else rules.allowed[None, :, first:last]
        # a lean alone allows every cell: nothing to mask at each of the Gibbs passes
        closed = None if opened is None or opened.all() else _closed(opened)
        choices[:, :, first:last] = self._gibbs(
            choices[:, :, first:last],
            mask[:, :, first:last],
            first,
            temperature,
            generator,
            closed,
            rules,
        )
        if rules is not None and (rules.starts != NO_LIMIT).any():
            choices = self._sweep(choices, mask, (start, end), temperature, generator, rules)
        filled = rolls.clone()
        filled[mask] = self.roll_of(choices).to(rolls.dtype)[mask]
        return filled

    def _gibbs(self, choices, mask, first_step, temperature, generator, closed=None, rules=None):
        """Blocked Gibbs sampling of the ``mask``ed choices, the block share annealed; never a
        ``closed`` choice ``(batch, tracks, steps, choices)``; leaning as ``rules`` lean."""
        count = int(mask.sum(dim=(1, 2)).max())
        steps = min(count, MOST_GIBBS_STEPS)
        leans = rules is not None and rules.leaning is not None
        for number in range(steps):
            share = block_share(number, steps)
            block = mask & (torch.rand(mask.shape, generator=generator) < share)
            if number == 0:
                block = mask  # nothing to fill is known yet: all of it is drawn at once
            logits = self.network(self.one_hot(choices, block), block, first_step).float()
            if leans:
                logits = self._leaned(logits, choices, rules)
            if closed is not None:
                logits = logits.masked_fill(closed, float("-inf"))
            drawn = _draw(logits / temperature, generator)
            choices = torch.where(block, drawn, choices)
        return choices

    def _leaned(self, logits: torch.Tensor, choices: torch.Tensor, rules) -> torch.Tensor:
        """``logits`` ``(batch, tracks, steps, choices)`` plus ``rules``' leaning toward what
        each draft in ``choices`` holds (a key: the one its notes are in), at every step;
        silence is not leaned on."""
        for row, draft in enumerate(choices):
            offsets = rules.draft_offsets(self._frames(draft))
            if offsets is not None:
                logits[row] += _with_silence(offsets)[:, None]
        return logits

    def _frames(self, draft: torch.Tensor) -> torch.Tensor:
        """The choices ``(tracks, steps)`` of one piece as flat frames ``(steps, tracks * width)``."""
        return self.roll_of(draft).transpose(0, 1).flatten(1)

    def _sweep(self, choices, mask, span, temperature, generator, rules):
        """``choices`` with the ``mask``ed ones of the steps in ``span`` (first, one past the last)
        drawn again one step at a time, in time order, given all the others, within the gate of
        ``rules`` (which counts the notes started in each bar so far); a piece with no count
        left to keep (none in a bar it fills whole) is left as Gibbs drew it."""
        start, end = span
        reach, steps = self.network.reach, choices.shape[2]
        for row in range(len(choices)):
            counting = _counting_drawn(rules, mask[row])
            if (counting.starts == NO_LIMIT).all():
                continue
            gate = counting.gate(self._frames(choices[row, :, :start]))
            for step in range(start, end):
                hidden = mask[row, :, step]
                if hidden.any():
                    first, last = max(0, step - reach), min(steps, step + reach + 1)
                    block = torch.zeros(1, self.spec.channels, last - first, dtype=torch.bool)
                    block[0, :, step - first] = hidden
                    known = self.one_hot(choices[row : row + 1, :, first:last], block)
                    logits = self.network(known, block, first)[0, :, step - first].float()
                    choices[row, :, step] = self._gated_step(
                        logits, temperature, choices[row, :, step], hidden, gate, generator
                    )
                gate.advance(self._frames(choices[row, :, step : step + 1])[0])
        return choices

    def _gated_step(self, logits, temperature, known, hidden, gate, generator) -> torch.Tensor:
        """One step's choices ``(tracks,)``: the ``hidden`` tracks' drawn from ``logits``
        ``(tracks, choices)`` (leaned, then at ``temperature``, as the Gibbs passes draw) one
        after another, lowest track first (the order a ``FrameGate`` takes cells in), each among
        the cells the gate leaves open; silence is open unless the gate owes the track a new
        note; the others' ``known`` choices kept."""
        tracks, width = self.spec.channels, self.silent
        frame, chosen = torch.zeros(tracks * width), known.clone()
        offsets = gate.offsets()
        lean = None if offsets is None else _with_silence(offsets)
        for track in range(tracks):
            if hidden[track]:
                open_cells, may_end = gate.open_cells(frame)
                open_cells = open_cells.view(tracks, width)
                silence_open = may_end or bool(open_cells[track + 1 :].any())
                choosable = torch.cat([open_cells[track], torch.tensor([silence_open])])
                leaned = logits[track] if lean is None else logits[track] + lean[track]
                if choosable.any():
                    leaned = (leaned / temperature).masked_fill(~choosable, float("-inf"))
                    chosen[track] = _draw(leaned, generator)
                else:
                    chosen[track] = self.silent
            if chosen[track] != self.silent:
                frame[track * width + chosen[track]] = 1.0
        return chosen

    def frame_nll(self, batch, labels=None):
        """Nats of every frame ``(batch, steps)`` under one random ordering of its choices
        (Coconet's estimate: each choice scored given those earlier in the order); the same
        ordering every time, so a score repeats."""
        return self.ordered_nll(batch, torch.Generator().manual_seed(VALIDATION_SEED))

    @torch.no_grad()
    def ordered_nll(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``frame_nll`` under an ordering drawn from ``generator``: one pass per choice, each
        over only the bars within the network's reach of the choice it scores."""
        choices = self.choices_of(batch)
        count, tracks, steps = choices.shape
        order = torch.rand(count, tracks * steps, generator=generator).argsort(dim=1)
        mask = torch.ones_like(choices, dtype=torch.bool)
        nll = torch.zeros(count, tracks * steps)
        rows = torch.arange(count)
        for position in range(tracks * steps):
            cell = order[:, position]  # track * steps + step
            first, span = self._scored_window(cell % steps, steps)
            window = (first[:, None] + torch.arange(span))[:, None].expand(-1, tracks, -1)
            known, hidden = choices.gather(2, window), mask.gather(2, window)
            logits = self.network(self.one_hot(known, hidden), hidden)
            scored = logits[rows, cell // steps, cell % steps - first]
            truth = choices.flatten(1)[rows, cell]
            nll[rows, cell] = F.cross_entropy(scored.float(), truth, reduction="none")
            mask.view(count, -1)[rows, cell] = False
        return nll.view(count, tracks, steps).sum(dim=1)

    def _scored_window(self, step: torch.Tensor, steps: int) -> tuple[torch.Tensor, int]:
        """Where the steps ``(rows,)`` are scored: each row's first step and the span, whole
        bars starting on a bar line (so every row's position in the bar is alike) that hold
        ``reach`` steps either side of the step; the whole piece where that is no shorter."""
        bar, reach = self.network.steps_per_bar, self.network.reach
        span = -(-(2 * reach + bar) // bar) * bar
        if steps <= span or steps % bar:
            return torch.zeros_like(step), steps
        first = torch.div(step - reach, bar, rounding_mode="floor") * bar
        return first.clamp(0, steps - span), span


def block_share(number: int, steps: int) -> float:
    """The share of the cells to fill drawn again at Gibbs step ``number`` of ``steps``."""
    falling = FIRST_SHARE - number / (ANNEALED_PART * steps) * (FIRST_SHARE - LAST_SHARE)
    return max(LAST_SHARE, falling)


def random_masks(shape, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """Masks ``shape`` ``(batch, tracks, steps)``, each hiding a share of its cells drawn
    uniformly from 0 to 1: Coconet's orderless training, every number of known cells alike."""
    shares = torch.rand(shape[0], 1, 1, generator=generator, device=device)
    return torch.rand(shape, generator=generator, device=device) < shares


def _draw(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One choice per cell ``(..., choices)`` → ``(...)``, by the Gumbel-max trick."""
    uniform = torch.rand(logits.shape, generator=generator).clamp(min=1e-20)
    return (logits - torch.log(-torch.log(uniform))).argmax(-1)


def _counting_drawn(rules, mask: torch.Tensor):
    """``rules`` with the notes counted only in the bars a track is drawn in whole (``mask``
    ``(tracks, steps)``): a kept voice's notes are the user's, and a count they miss must not
    close the voices drawn above it (a gate owing a note shuts every track after it)."""
    tracks, periods = rules.starts.shape
    over = periods * rules.period - mask.shape[1]  # steps past the end count as drawn
    drawn = F.pad(mask, (0, over), value=True).view(tracks, periods, rules.period).all(-1)
    return dataclasses.replace(rules, starts=torch.where(drawn, rules.starts, NO_LIMIT))


def _with_silence(offsets: torch.Tensor) -> torch.Tensor:
    """A leaning's offsets ``(tracks, pitches)`` as offsets over a track's choices (its pitches,
    then silence, which is not leaned on)."""
    return F.pad(offsets, (0, 1))


def _closed(allowed: torch.Tensor) -> torch.Tensor:
    """The choices ``(batch, tracks, steps, width + 1)`` that ``allowed`` cells rule out; the
    last one, silence, never is."""
    return F.pad(~allowed.bool(), (0, 1), value=False)


def _extent(mask: torch.Tensor) -> tuple[int | None, int]:
    """The first and one past the last step that ``mask`` ``(batch, tracks, steps)`` marks."""
    steps = mask.any(dim=1).any(dim=0).nonzero().flatten()
    if not len(steps):
        return None, 0
    return int(steps[0]), int(steps[-1]) + 1
