"""Hard limits a sample must keep, honoured while it is drawn: ``CellRules``.

A modality turns what a user asks (a key, voice ranges, chords, a density) into rules over the
grid view's cells ``(channels, steps, width)``; a family honours them as it draws, by masking
logits or probabilities before a cell is chosen, never by removing cells afterwards. Three
kinds of rule, all in the family's own terms:

- ``allowed``: the cells that may sound at all;
- ``most``: how many cells of a channel may sound at one step (0: any);
- ``starts``: how many cells of a channel start sounding in each period (a bar) (-1: any).

A cell *starts* where it sounds and did not at the step before. Only the first ``counted``
columns of the width count for ``most`` and ``starts`` (a piano roll's sounding pitches, not
its onset or velocity columns).

Frame-by-frame families ask a ``FrameGate`` which cells are open as they add cells to a frame;
families that score every cell at once (a GAN) decode with ``decode_scores``.

Beside the hard limits, rules may carry a *leaning*: a soft preference that a frame-by-frame
family adds to its logits before each draw (``FrameGate.offsets``), such as a piano roll's lean
toward the key its notes so far are in, and, per channel, toward a channel sounding or resting
(``FrameGate.sounding``: the frame-by-frame heads add it); a family that redraws a whole draft
again and again (Gibbs sampling) asks it of the draft as it stands (``draft_offsets``). It
forbids nothing; families that score every cell once (a GAN) ignore it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

NO_LIMIT = -1
TRIED_THRESHOLDS = 32  # per track and bar, when the nearest count misses


class KeepsRules:
    """A family whose ``sample(..., rules=...)`` keeps ``CellRules`` (for one sample at a time,
    where it draws frame by frame)."""


class Leans(KeepsRules):
    """A family that adds the rules' leaning to its logits as it draws."""


class DrawsFrames(Leans):
    """A family that draws a sample frame by frame, each within a ``FrameGate``: it keeps the
    rules and adds their leaning to its logits."""


@dataclass(frozen=True)
class CellRules:
    """Limits on a sample ``(channels, steps, width)``: ``allowed`` ``(channels, steps, width)``
    bool; ``most`` ``(channels,)`` cells sounding at once (0: any); ``starts`` ``(channels,
    periods)`` cells starting per period of ``period`` steps (``NO_LIMIT``: any)."""

    allowed: torch.Tensor
    most: torch.Tensor
    starts: torch.Tensor
    period: int
    counted: int
    # frames so far (steps, channels * width) -> a Leaning, or None
    leaning: Callable[[torch.Tensor], Leaning] | None = None

    @classmethod
    def unlimited(cls, channels: int, steps: int, width: int, counted: int, leaning=None):
        """Rules that limit nothing: every cell allowed, any number at once, any starts."""
        return cls(
            torch.ones(channels, steps, width, dtype=torch.bool),
            torch.zeros(channels, dtype=torch.long),
            torch.full((channels, 1), NO_LIMIT),
            max(steps, 1),
            counted,
            leaning,
        )

    @property
    def channels(self) -> int:
        return self.allowed.shape[0]

    @property
    def free(self) -> bool:
        """Whether these rules limit nothing (a leaning at most)."""
        return bool(
            self.allowed.all() and (self.most == 0).all() and (self.starts == NO_LIMIT).all()
        )

    def draft_offsets(self, draft: torch.Tensor) -> torch.Tensor | None:
        """The leaning's logits ``(channels, width)`` for a sample as drafted so far, all its
        frames ``(steps, channels * width)`` at once; None without a leaning (or evidence)."""
        return None if self.leaning is None else self.leaning(draft).offsets()

    def gate(self, history: torch.Tensor) -> FrameGate:
        """A gate for drawing the frames after ``history`` ``(steps, channels * width)``, the
        frames already there (a primer; none for a new piece)."""
        return FrameGate(self, history)


class Leaning(Protocol):
    """A soft preference over the next frame's cells, given the frames drawn so far."""

    def offsets(self) -> torch.Tensor | None:
        """Logits ``(channels, width)`` to add to the next frame's cells, or None (none yet).
        The pitchwise head moves probability among one channel's cells only
        (``models.heads.leaned``); a masked model's track may rest instead."""

    def sounding(self) -> torch.Tensor | None:
        """Logits ``(channels, width)`` that move probability between a channel sounding in
        the next frame and resting, or None: added to its cells after ``offsets`` are, alike
        for the cells a note sounds in (0 for columns that mark something of a note already
        sounding, such as its onset). Frame-by-frame samplers only."""

    def advance(self, frame: torch.Tensor) -> None:
        """Take ``frame`` ``(channels * width,)`` as drawn."""


class Leanings:
    """Several leanings as one: their offsets summed (those that have none yet left out)."""

    def __init__(self, parts: list[Leaning]):
        self.parts = parts

    @classmethod
    def made_by(cls, factories: list) -> Callable[[torch.Tensor], Leaning] | None:
        """One leaning factory (frames so far → leaning) from several: the only one, or all
        of them summed; None for none."""
        if len(factories) < 2:
            return factories[0] if factories else None
        return functools.partial(cls._of, factories)

    @classmethod
    def _of(cls, factories: list, history: torch.Tensor) -> Leanings:
        return cls([make(history) for make in factories])

    def offsets(self) -> torch.Tensor | None:
        return self._summed(part.offsets() for part in self.parts)

    def sounding(self) -> torch.Tensor | None:
        return self._summed(part.sounding() for part in self.parts)

    @staticmethod
    def _summed(found) -> torch.Tensor | None:
        found = [logits for logits in found if logits is not None]
        return torch.stack(found).sum(0) if found else None

    def advance(self, frame: torch.Tensor) -> None:
        for part in self.parts:
            part.advance(frame)


class FrameGate:
    """Which cells a frame-by-frame sampler may add to the frame it is drawing, given the cells
    already in it, and whether it may stop; ``advance(frame)`` once the frame is drawn.

    Frames are flat, ``channels * width`` cells, cell = channel * width + column, and are drawn
    in ascending cell order (as the pitchwise head does). A channel behind its starts for the
    period (by a whole cell on an even schedule, or with as many starts owed as steps left) is
    owed one now: the sampler may then not stop, nor pass beyond that channel, until it starts
    a cell there or has no open one left above the last cell it chose.
    """

    def __init__(self, rules: CellRules, history: torch.Tensor):
        self.rules = rules
        self.free = rules.free  # then every cell is open: no bookkeeping per cell
        self.leaning = rules.leaning(history) if rules.leaning else None
        self.width = rules.allowed.shape[-1]
        self.step = len(history)
        self.started = torch.zeros(rules.channels, dtype=torch.long)
        if self.free:  # nothing to count: no start is limited
            return
        silence = torch.zeros(rules.channels, rules.counted, dtype=torch.bool)
        self.before = self._sounding(history[-1]) if len(history) else silence
        period_start = self.step - self.step % rules.period
        for step in range(period_start, self.step):
            previous = self._sounding(history[step - 1]) if step else silence
            self.started += (self._sounding(history[step]) & ~previous).sum(1)

    def _sounding(self, frame: torch.Tensor) -> torch.Tensor:
        return frame.view(self.rules.channels, self.width)[:, : self.rules.counted] > 0.5

    def open_cells(self, frame: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """The cells ``(channels * width,)`` that may be added to ``frame`` now, and whether the
        frame may end here."""
        rules = self.rules
        if self.free:
            return rules.allowed[:, self.step].flatten(), True
        sounding = self._sounding(frame)
        allowed = rules.allowed[:, self.step].clone()
        allowed[(rules.most > 0) & (sounding.sum(1) >= rules.most)] = False
        quota = rules.starts[:, self.step // rules.period]
        starting = (sounding & ~self.before).sum(1)
        counted = allowed[:, : rules.counted]  # a view: what is closed here is closed in allowed
        capped = (quota != NO_LIMIT) & (self.started + starting >= quota)
        counted[capped] &= self.before[capped]  # held notes go on, no new ones
        starts = torch.zeros_like(allowed)
        starts[:, : rules.counted] = counted & ~self.before
        last = int(frame.nonzero().max()) if frame.any() else -1
        above = (torch.arange(allowed.numel()) > last).view_as(allowed)
        owing = self._owed(quota) & (starting == 0) & (starts & above).any(1)
        if not owing.any():
            return allowed.flatten(), True
        first = int(owing.nonzero()[0])
        allowed[first] &= starts[first]  # a new note, not the held one going on
        allowed[first + 1 :] = False
        return allowed.flatten(), False

    def _owed(self, quota: torch.Tensor) -> torch.Tensor:
        """Channels that must start a cell at this step to keep their period's count."""
        period = self.rules.period
        position = self.step % period
        left = period - position
        behind = self.started + 1 <= quota * (position + 1) / period - 1
        return (
            (quota != NO_LIMIT) & (self.started < quota) & ((quota - self.started >= left) | behind)
        )

    def offsets(self) -> torch.Tensor | None:
        """The leaning's logits for the cells of the frame being drawn, or None."""
        return None if self.leaning is None else self.leaning.offsets()

    def sounding(self) -> torch.Tensor | None:
        """The leaning's logits ``(channels, width)`` for each channel sounding in the frame
        being drawn, or None."""
        return None if self.leaning is None else self.leaning.sounding()

    def advance(self, frame: torch.Tensor) -> None:
        """Take ``frame`` as drawn at this step and move to the next."""
        if self.leaning is not None:
            self.leaning.advance(frame)
        if self.free:
            self.step += 1
            return
        sounding = self._sounding(frame)
        self.started += (sounding & ~self.before).sum(1)
        self.before = sounding
        self.step += 1
        if self.step % self.rules.period == 0:
            self.started.zero_()


def decode_scores(scores: torch.Tensor, rules: CellRules) -> torch.Tensor:
    """Cells ``(count, channels, steps, width)`` of 0/1 from scores of the same shape, a cell
    sounding where its score is above 0 (a logit: p > 0.5; a logit plus logistic noise: a
    Bernoulli draw), within ``rules``: cells not allowed score -inf; at each step only a
    channel's ``most`` best-scoring cells may sound; where a period's starts are limited, the
    channel's threshold for that period moves from 0 to the one giving the count nearest the
    limit (the nearest to 0 among equals), a held note is split by a one-step rest where too
    few start and held through the note after it where too many do (``_cells_for``)."""
    scores = scores.masked_fill(~rules.allowed[None], float("-inf"))
    scores = _best_per_step(scores, rules)
    rolls = (scores > 0).float()
    for item in range(len(scores)):
        for channel in range(rules.channels):
            if (rules.starts[channel] != NO_LIMIT).any():
                _meet_starts(scores[item, channel], rolls[item, channel], rules, channel)
    return rolls


def _best_per_step(scores: torch.Tensor, rules: CellRules) -> torch.Tensor:
    """``scores`` with all but each channel's ``most`` best counted cells per step at -inf."""
    counted = scores[..., : rules.counted]
    for channel in (rules.most > 0).nonzero().flatten().tolist():
        most = min(int(rules.most[channel]), rules.counted)
        kth = counted[:, channel].topk(most, dim=-1).values[..., -1:]
        counted[:, channel] = counted[:, channel].masked_fill(
            counted[:, channel] < kth, float("-inf")
        )
    return scores


def _meet_starts(scores: torch.Tensor, roll: torch.Tensor, rules: CellRules, channel: int):
    """``roll`` ``(steps, width)`` rethresholded period by period to meet its starts, in place."""
    period, counted = rules.period, rules.counted
    before = torch.zeros(counted, dtype=torch.bool)
    for index in range(0, scores.shape[0], period):
        quota = int(rules.starts[channel, index // period])
        block = scores[index : index + period, :counted]
        allowed = rules.allowed[channel, index : index + period, :counted]
        if quota != NO_LIMIT:
            roll[index : index + period, :counted] = _cells_for(
                block, before, quota, allowed
            ).float()
        before = roll[index + len(block) - 1, :counted] > 0.5


def _starts(on: torch.Tensor, before: torch.Tensor) -> int:
    previous = torch.cat([before[None], on[:-1]])
    return int((on & ~previous).sum())


def _split_longest(on: torch.Tensor, block: torch.Tensor) -> bool:
    """One more start in ``on`` ``(steps, columns)``, in place: the longest run of a column
    held three steps or more loses its lowest-scoring inner cell, leaving two notes with a rest
    between (a cell held on cannot start again without one). False when no run is that long."""
    runs = _runs(on)
    if not runs:
        return False
    # the longest; among equals the lowest column, then the earliest
    first, end, column = max(runs, key=lambda run: (run[1] - run[0], -run[2], -run[0]))
    length = end - first
    if length < 3:
        return False
    inner = block[first + 1 : first + length - 1, column]
    on[first + 1 + int(inner.argmin()), column] = False
    return True


def _runs(on: torch.Tensor) -> list[tuple[int, int, int]]:
    """The runs of ``on`` ``(steps, columns)``: (first step, one past the last, column), in
    order of their first step."""
    runs = []
    for column in on.any(0).nonzero().flatten().tolist():
        lane = on[:, column].tolist() + [False]
        first = None
        for step, sounding in enumerate(lane):
            if sounding and first is None:
                first = step
            elif not sounding and first is not None:
                runs.append((first, step, column))
                first = None
    return sorted(runs)


def _merge_shortest(on: torch.Tensor, allowed: torch.Tensor) -> bool:
    """One start fewer in ``on`` ``(steps, columns)``, in place: the shortest run that follows
    another at once (or after a rest) takes the earlier run's column, where ``allowed`` lets
    every cell that needs sound, so the earlier note is held through it. False when no run can."""
    runs = _runs(on)
    candidates = []
    for (_, end, column), (first, last, later) in itertools.pairwise(runs):
        if first >= end and allowed[end:last, column].all() and not on[end:first].any():
            candidates.append((last - first, first, end, last, column, later))
    if not candidates:
        return False
    _, first, end, last, column, later = min(candidates)
    on[first:last, later] = False
    on[end:last, column] = True
    return True


def _cells_for(
    block: torch.Tensor, before: torch.Tensor, quota: int, allowed: torch.Tensor
) -> torch.Tensor:
    """The cells of ``block`` ``(steps, columns)`` that sound, for ``quota`` starts after
    ``before`` (the step before the block): at or above a threshold, the one whose count comes
    nearest (the nearest to 0 among equals), held notes split where that leaves too few; the
    next thresholds are tried while the count is missed."""
    best, best_miss = None, None
    for on in _by_nearest_count(block, before, quota)[:TRIED_THRESHOLDS]:
        while _starts(on, before) < quota and _split_longest(on, block):
            pass
        while _starts(on, before) > quota and _merge_shortest(on, allowed):
            pass
        miss = abs(_starts(on, before) - quota)
        if best is None or miss < best_miss:
            best, best_miss = on, miss
        if not miss:
            break
    return best


def _by_nearest_count(block: torch.Tensor, before: torch.Tensor, quota: int) -> torch.Tensor:
    """``(thresholds, steps, columns)``: the cells at or above each threshold (every cell's
    score, and one above all), those whose count of starts is nearest ``quota`` first."""
    finite = block[torch.isfinite(block)].unique()
    thresholds = torch.cat([finite, torch.tensor([float("inf")])])
    on = block[None] >= thresholds[:, None, None]
    previous = torch.cat([before[None, None].expand(len(on), 1, -1), on[:, :-1]], dim=1)
    counts = (on & ~previous).sum((1, 2))
    # the miss, then the distance of the threshold from 0 (the model's own decoding)
    miss = (counts - quota).abs().double() * 1e6 + thresholds.double().abs().clamp(max=1e5)
    return on[miss.argsort()]
