"""Sampling ABC tokens that read as music: ``AbcGrammar`` masks the tokens a tune may not take next.

A model over ABC tokens (``text.vocabulary = "abc"``) draws one token at a time; the grammar
follows each tune as it is drawn and leaves open only the tokens that keep it well formed:

- the header is the start line (``X:1``), then one ``M:`` line (a meter music21 and abc2midi
  read: ``n/d``, ``C`` or ``C|``), one ``L:`` line and the ``K:`` line, in that order;
- a bar holds exactly the meter: a note or a duration that would overflow it is closed, and a
  bar line is open only once it is full. The first bar may be shorter (a pickup); the last may
  be the rest of the pickup's bar (as real tunes close), and then the tune ends;
- lengths stay on a grid of an eighth of the unit length, so a bar can always be filled;
- a tie (``-``) follows a note and is followed by that same note (across a bar line too);
  broken rhythm (``>``, ``<``) joins two plain notes written with the same length (abc2midi
  refuses others); a triplet is ``(3`` and three plain notes; a staccato ``.`` comes just
  before a note (which then takes no tie and no broken rhythm);
- ``|:`` opens a repeat only when none is open (also right after a bar line, as ``:| |:``),
  ``:|`` and ``::`` close one that is; the first ``:|`` may also repeat from the start; a tune
  that begins with a pickup repeats only as a whole, with a ``:|`` after the last bar that
  makes the pickup up (abc2midi wants each repeated part to make it up);
- chords, grace notes, rolls, slurs, quoted text, inline fields and endings are left out (in the
  corpus mostly annotations; unclosed ones were what broke generated tunes);
- the tune ends (the end token) right after a bar line, with no repeat or tie open, after at
  least ``MIN_BARS`` bars; when the tokens asked for are nearly used up, it is closed
  deterministically (``_closing_moves``: the last note that is not a rest repeated to fill the
  bar, then ``:|`` or ``|]``), so a tune is never cut in the middle of a bar.

The masks are the same for the same tokens, so sampling stays deterministic for a seed.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from fractions import Fraction

import torch

from .pieces import abc_fraction, abc_length

MIN_BARS = 4  # the fewest bars a tune may end after
GRID = Fraction(1, 8)  # of the unit length: every note and bar count is a multiple of it
CLOSING_WINDOW = 64  # tokens before the end at which closing moves are worked out
CLOSING_SLACK = 16  # more than one token can add to the closing moves
TRIPLET = Fraction(2)  # units taken by a triplet of three plain notes
BAR_LINES = ("|", "|:", ":|", "::", "||", "|]")
HEADER = re.compile(r"([MLK]):\s*(\S*)\s*\n")
PITCH = re.compile(r"[\^=_]*[A-Ga-g][,']*|z")
DURATION = re.compile(r"[1-9]\d*/\d+|[1-9]\d*|/+\d*")


@dataclass
class TuneState:
    """Where one tune is: its phase ("start", "header", "body", "closing", "ended", "free"),
    the meter's bar in units of ``L:``, and the bar being filled. Lengths are in units."""

    forced: tuple = ()  # token ids that must come next, in order
    phase: str = "start"
    meter: Fraction | None = None
    unit: Fraction | None = None
    full: Fraction = Fraction(0)
    count: Fraction = Fraction(0)  # the bar so far, the note being drawn included
    bars: int = 0
    pickup: Fraction = Fraction(0)
    previous: str = "header"  # pitch, duration, space, newline, bar, tie, broken, ...
    note_factor: Fraction = Fraction(1)  # of the note being drawn (broken rhythm)
    factor: Fraction = Fraction(1)  # of the next note
    last_length: Fraction = Fraction(0)
    last_pitch: int = -1
    last_note: int = -1  # the last pitch that is not a rest
    second_of_pair: bool = False
    decorated: bool = False
    pair_length: Fraction = Fraction(0)  # the written length a broken rhythm's second note takes
    tuplet_left: int = 0
    tied: int = -1  # the pitch a tie waits for
    repeat_open: bool = False
    repeated: bool = False  # a repeat sign has been drawn
    position: int = 0  # tokens so far


class AbcGrammar:
    """The open tokens of ``count`` ABC tunes being drawn over ``vocabulary`` (with the
    ``<end>`` token), at most ``steps`` tokens each, after ``primer`` (token ids already
    there, a beginning of ``start``'s ids or more). ``allowed()`` before each draw,
    ``advance(choices)`` after it."""

    def __init__(self, vocabulary, start: list[int], primer: list[int], count: int, steps: int):
        self.vocabulary, self.steps = vocabulary, steps
        self.ids = {token: number for number, token in enumerate(vocabulary)}
        self._classify(vocabulary)
        state = TuneState(forced=tuple(start[len(primer) :]))
        state.phase = "start" if state.forced else "header"
        for token in primer:
            self._take(state, token)
        self.states = [copy.copy(state) for _ in range(count)]

    def allowed(self) -> torch.Tensor:
        """The open tokens ``(count, vocabulary)`` of every tune at its next step."""
        for state in self.states:
            self._plan_closing(state)
        return torch.stack([self._open(state) for state in self.states])

    def advance(self, choices: torch.Tensor) -> None:
        """Take the drawn token ids ``(count,)``."""
        for state, token in zip(self.states, choices.tolist()):
            self._take(state, token)

    # the vocabulary

    def _classify(self, vocabulary) -> None:
        size = len(vocabulary)
        self.pitches = torch.tensor([bool(PITCH.fullmatch(token)) for token in vocabulary])
        self.durations = torch.full((size,), float("nan"))
        self.meters, self.units, self.keys = {}, {}, []
        for number, token in enumerate(vocabulary):
            header = HEADER.fullmatch(token)
            if DURATION.fullmatch(token) and abc_length(token) <= 32:
                self.durations[number] = float(abc_length(token))
            elif header and header.group(1) in "ML" and abc_fraction(header.group(2)):
                table = self.meters if header.group(1) == "M" else self.units
                table[number] = abc_fraction(header.group(2))
            elif header and header.group(1) == "K":
                self.keys.append(number)
        self.rest, self.end = self.ids.get("z", -1), self.ids["<end>"]
        # by a note's factor: the lengths of the duration tokens after it, NaN off the grid,
        # and the shortest length it can have
        self.lengths, self.shortest = {}, {}
        for factor in (Fraction(1), Fraction(1, 2), Fraction(3, 2)):
            lengths = self.durations * float(factor)
            lengths[torch.remainder(lengths / float(GRID), 1) != 0] = float("nan")
            known = [Fraction(value) for value in lengths[~lengths.isnan()].tolist()]
            self.lengths[factor] = lengths
            self.shortest[factor] = min(known + [factor])

    # open tokens

    def _open(self, state: TuneState) -> torch.Tensor:
        mask = torch.zeros(len(self.vocabulary), dtype=torch.bool)
        if state.forced:
            mask[state.forced[0]] = True
        elif state.phase == "header":
            self._open_header(state, mask)
        elif state.phase == "body":
            self._open_body(state, mask)
        elif state.phase == "closing":
            self._set(mask, "\n" if state.previous == "bar" else None)
            mask[self.end] = True
        elif state.phase == "ended":
            mask[self.end] = True
        if not mask.any():  # a primer the grammar can't follow: the model's own choices
            state.phase = "free"
            mask[:] = True
        return mask

    def _set(self, mask: torch.Tensor, *tokens) -> None:
        for token in tokens:
            if token in self.ids:
                mask[self.ids[token]] = True

    def _open_header(self, state: TuneState, mask: torch.Tensor) -> None:
        if state.meter is None:
            mask[list(self.meters)] = True
        elif state.unit is None:
            mask[list(self.units)] = True
        else:
            mask[self.keys] = True

    def _open_body(self, state: TuneState, mask: torch.Tensor) -> None:
        previous = state.previous
        if previous == "tuplet":  # "(" waits for its 3
            self._set(mask, "3")
        elif state.tuplet_left:
            mask |= self.pitches
        elif previous == "broken":
            if state.count + state.pair_length * state.factor <= state.full:
                mask |= self.pitches
        elif previous == "decoration":
            self._open_notes(state, mask, Fraction(1), rests=False)
        elif state.tied >= 0:
            self._open_tied(state, mask)
        else:
            if previous == "pitch" and state.second_of_pair:
                mask |= self.durations == float(state.pair_length)
            elif previous == "pitch":
                lengths = self.lengths[state.note_factor]
                before = state.count - state.note_factor  # the bar without the note
                mask |= lengths <= float(state.full - before)
            if state.count <= state.full and state.pair_length in (0, 1):
                self._open_between(state, mask)

    def _open_between(self, state: TuneState, mask: torch.Tensor) -> None:
        """After a whole note, a space, a bar line or a line break."""
        previous = state.previous
        note_done = previous in ("pitch", "duration")
        plain = note_done and not state.decorated  # abc2midi ties or pairs no staccato note
        if plain and state.last_pitch != self.rest:
            self._set(mask, "-")
        if plain and not state.second_of_pair:
            self._open_broken(state, mask)
        if previous not in ("space", "newline", "header"):
            self._set(mask, " ")
        if previous == "bar":
            self._set(mask, "\n")
        if self._open_notes(state, mask, Fraction(1), rests=True):
            self._set(mask, ".")
        if state.count + TRIPLET <= state.full:
            self._set(mask, "(")
        self._open_bar_lines(state, mask)
        if self._may_end(state):
            mask[self.end] = True

    def _open_notes(self, state, mask, factor: Fraction, rests: bool) -> bool:
        if state.count + self.shortest[factor] > state.full:
            return False
        mask |= self.pitches
        if not rests and self.rest >= 0:
            mask[self.rest] = False
        return True

    def _open_tied(self, state: TuneState, mask: torch.Tensor) -> None:
        if state.count == state.full:
            self._set(mask, "|")
        elif state.count + self.shortest[Fraction(1)] <= state.full:
            mask[state.tied] = True

    def _open_broken(self, state: TuneState, mask: torch.Tensor) -> None:
        """``>`` or ``<`` where a second note as long as the first fits."""
        if _on_grid(state.last_length / 2) and state.count + state.last_length <= state.full:
            self._set(mask, ">", "<")

    def _open_bar_lines(self, state: TuneState, mask: torch.Tensor) -> None:
        # a tune with a pickup repeats only as a whole (below): abc2midi wants each repeated
        # part's last bar to make up its pickup, and a short bar inside the tune is not full
        repeats = not state.pickup and state.tied < 0
        if state.count == 0 and state.previous in ("header", "bar", "newline"):
            self._set(mask, "|:" if repeats and not state.repeat_open else None)  # opening one
        if state.count == 0:
            return
        full = state.count == state.full
        if state.bars == 0 and (full or not state.repeat_open):  # a pickup or a first whole bar
            self._set(mask, "|", "|:" if full and repeats and not state.repeat_open else None)
        elif state.bars and full:
            self._set(mask, "|")
            if repeats:
                self._set(mask, *((":|", "::") if state.repeat_open else ("|:", "||")))
                self._set(mask, ":|" if not state.repeated else None)  # from the start
            if state.bars + 1 >= MIN_BARS and not state.repeat_open and state.tied < 0:
                self._set(mask, "|]", "||")
        elif (
            state.bars + 1 >= MIN_BARS
            and state.pickup
            and state.count == state.full - state.pickup
            and state.tied < 0
        ):  # the rest of the pickup's bar, closing the tune (and repeating it all, maybe)
            self._set(mask, "|]", ":|" if not state.repeated else None)

    def _may_end(self, state: TuneState) -> bool:
        return (
            state.previous in ("bar", "newline")
            and state.count == 0
            and state.bars >= MIN_BARS
            and not state.repeat_open
        )

    # taking a token

    def _take(self, state: TuneState, token: int) -> None:
        state.position += 1
        state.forced = state.forced[1:] if state.forced and state.forced[0] == token else ()
        if token == self.end:
            state.phase = "ended"
        elif state.phase == "start":
            state.phase = "start" if state.forced else "header"
        elif state.phase == "header":
            self._take_header(state, token)
        elif state.phase == "body":
            self._take_body(state, token, self.vocabulary[token])
        elif state.phase == "closing" and self.vocabulary[token] == "\n":
            state.previous = "newline"

    def _take_header(self, state: TuneState, token: int) -> None:
        if token in self.meters:
            state.meter = self.meters[token]
        elif token in self.units:
            state.unit = self.units[token]
        elif token in self.keys and state.meter and state.unit:
            state.phase = "body"
            state.full = state.meter / state.unit

    def _take_body(self, state: TuneState, token: int, text: str) -> None:
        if state.previous == "tuplet" and text == "3":
            state.tuplet_left, state.previous = 3, "triplet"
        elif self.pitches[token]:
            self._take_pitch(state, token)
        elif state.previous == "pitch" and not self.durations[token].isnan():
            length = abc_length(text) * state.note_factor
            state.count += length - state.note_factor
            state.last_length = length
            state.previous = "duration"
            state.pair_length = Fraction(0)
        elif text in BAR_LINES:
            self._take_bar_line(state, text)
        else:
            self._take_sign(state, text)

    def _take_pitch(self, state: TuneState, token: int) -> None:
        state.last_pitch, state.tied = token, -1
        state.last_note = token if token != self.rest else state.last_note
        if state.tuplet_left:
            state.tuplet_left -= 1
            state.previous = "triplet"
            return
        state.second_of_pair = state.previous == "broken"
        state.decorated = state.previous == "decoration"
        if not state.second_of_pair:
            state.pair_length = Fraction(0)
        state.note_factor, state.factor = state.factor, Fraction(1)
        state.count += state.note_factor
        state.last_length = state.note_factor
        state.previous = "pitch"

    def _take_sign(self, state: TuneState, text: str) -> None:
        if text == "-":
            state.tied, state.previous = state.last_pitch, "tie"
        elif text in (">", "<"):
            half = state.last_length / 2
            state.count += half if text == ">" else -half
            state.factor = Fraction(1, 2) if text == ">" else Fraction(3, 2)
            state.pair_length = state.last_length
            state.previous = "broken"
        elif text == "(":
            state.count += TRIPLET
            state.previous = "tuplet"
        else:
            names = {".": "decoration", "\n": "newline", " ": "space"}
            state.previous = names.get(text, state.previous)

    def _take_bar_line(self, state: TuneState, text: str) -> None:
        state.previous = "bar"
        state.repeated = state.repeated or ":" in text
        if text in ("|:", "::"):
            state.repeat_open = True
        elif text == ":|":
            state.repeat_open = False
        if state.count == 0:  # the bar line opening the tune
            return
        closing = text == "|]" or (state.bars > 0 and state.count < state.full)
        if state.bars == 0 and state.count < state.full:
            state.pickup = state.count
        state.bars += 1
        state.count = Fraction(0)
        if closing:
            state.phase = "closing"

    # closing in time

    def _plan_closing(self, state: TuneState) -> None:
        """When the tokens left are nearly all the closing moves need, take those moves."""
        left = self.steps - state.position
        if state.phase != "body" or state.forced or left > CLOSING_WINDOW:
            return
        moves = self._closing_moves(state)
        if len(moves) + CLOSING_SLACK >= left:
            state.forced = tuple(moves)

    def _closing_moves(self, state: TuneState) -> list[int]:
        """The tokens that close the tune soonest from ``state``: the bar filled with the last
        note (longest lengths first), then ``:|`` or ``|]`` and the end."""
        state, moves = copy.copy(state), []
        while state.phase in ("body", "closing") and len(moves) < CLOSING_WINDOW:
            token = self._closing_move(state, self._open(state))
            moves.append(token)
            self._take(state, token)
        return moves

    def _closing_move(self, state: TuneState, mask: torch.Tensor) -> int:
        for token in ("<end>", ":|", "|]"):
            if token in self.ids and mask[self.ids[token]]:
                return self.ids[token]
        durations = torch.where(mask, self.durations, float("nan")).nan_to_num(-1)
        if state.previous == "pitch" and durations.max() > 0:
            longest = int(durations.argmax())
            if state.count > state.full or durations[longest] > 1:
                return longest
        for token in (state.tied, state.last_note, self.rest, self.ids.get("3", -1)):
            if token >= 0 and mask[token]:
                return token
        return self.ids["|"] if mask[self.ids["|"]] else int(mask.nonzero()[0])


def _on_grid(length: Fraction) -> bool:
    return (length / GRID).denominator == 1
