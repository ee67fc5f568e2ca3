"""Keys of piano rolls: move a piece to a common key, and transpose training windows.

A model trained on pieces all moved to C major or A minor (``midi.common_key``) learns one
set of pitch classes instead of twelve; that matters most for convolutional GANs, whose
layers slide along the pitch axis and know nothing of absolute pitch on their own. Such a
model composes in C major or A minor, and a primer in another key is moved there and back.

Rolls here are ``(tracks, steps, pitches)``, pitch index 0 being MIDI pitch ``pitch_low``.
"""

from __future__ import annotations

import math

import torch

from .metrics import PITCH_CLASSES, scale_fits, scale_masks

NEAR_SHIFTS = range(-6, 6)  # semitones that move any tonic to C (or A minor's to A) the near way


def common_key_shift(roll: torch.Tensor, pitch_low: int) -> int:
    """Semitones (-6 to +5) that move ``roll`` to C major or A minor: the shift that puts the
    largest share of its sounding time on the white keys (C major's pitch classes, and A natural
    minor's), the smallest such shift on ties. When that would push a note out of the roll, the
    same pitch classes an octave the other way; 0 for a silent roll or one that fits neither way.
    """
    fits = scale_fits(roll, pitch_low)  # (tonic,)
    if not fits.any():
        return 0
    to_c = [near_way(-tonic) for tonic in range(PITCH_CLASSES)]  # each tonic's shift to C
    best = to_c[min(range(PITCH_CLASSES), key=lambda tonic: (-fits[tonic], abs(to_c[tonic])))]
    for shift in (best, best - PITCH_CLASSES if best > 0 else best + PITCH_CLASSES):
        if fits_shifted(roll, shift):
            return shift
    return 0


def near_way(semitones: int) -> int:
    """The shift in ``NEAR_SHIFTS`` that moves pitch classes as ``semitones`` does."""
    return NEAR_SHIFTS.start + (semitones - NEAR_SHIFTS.start) % PITCH_CLASSES


def shift_nats(shift: int) -> float:
    """What the key a piece was moved from by ``common_key_shift`` costs, in nats: a model of
    pieces in C major / A minor is a model of pieces in every key once the shift is drawn too.
    Its pitch class is one of 12 (uniform); the octave the other way, taken when the near way
    (-6 to +5) leaves the range, has 1/64 of the mass, so that over the 24 shifts the shares
    sum to one and a piece and its octave (one view) never count twice."""
    near = shift in NEAR_SHIFTS
    return math.log(PITCH_CLASSES) - math.log(63 / 64 if near else 1 / 64)


def fits_shifted(roll: torch.Tensor, semitones: int) -> bool:
    """Whether every note of ``roll`` stays inside its pitch range when moved ``semitones``
    (``shift_pitches`` drops those that don't); a silent roll always fits."""
    if not roll.any():
        return True
    low, high = _extent(roll)
    return 0 <= low + semitones and high + semitones < roll.shape[-1]


def shift_pitches(roll: torch.Tensor, semitones: int) -> torch.Tensor:
    """``roll`` moved ``semitones`` up (down if negative) along its last axis; notes pushed
    past either end are dropped, and the cells they leave are silent. By 0: ``roll`` itself."""
    if not semitones:
        return roll
    shifted = torch.zeros_like(roll)
    if semitones >= 0:
        shifted[..., semitones:] = roll[..., : roll.shape[-1] - semitones]
    else:
        shifted[..., :semitones] = roll[..., -semitones:]
    return shifted


def _extent(roll: torch.Tensor) -> tuple[int, int]:
    """The lowest and highest pitch index that sounds anywhere in ``roll``."""
    used = roll.reshape(-1, roll.shape[-1]).any(dim=0).nonzero().flatten()
    return int(used[0]), int(used[-1])


class Transposition:
    """Training windows moved by a random interval of up to ± ``semitones``, as far as each
    window's notes stay inside the roll. A window's width is ``planes`` planes of ``pitches``
    columns (where notes sound; where they start), each moved alike, then columns that stay
    where they are (velocities)."""

    def __init__(self, semitones: int, pitches: int, planes: int = 1):
        self.semitones, self.pitches, self.planes = semitones, pitches, planes

    def __call__(self, windows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``windows`` ``(batch, tracks, steps, width)``, each moved; one draw of ``generator`` per window."""
        columns = self.planes * self.pitches
        planes = windows[..., :columns].unflatten(-1, (self.planes, self.pitches))
        low, high = _extents(planes[..., 0, :])
        lowest = torch.clamp(-low, min=-self.semitones)
        highest = torch.clamp(self.pitches - 1 - high, max=self.semitones)
        span = (highest - lowest + 1).clamp(min=1)
        shift = lowest + (torch.rand(len(windows), generator=generator) * span).long()
        # (batch, pitches): where each pitch comes from
        source = torch.arange(self.pitches) - shift[:, None]
        inside = ((source >= 0) & (source < self.pitches))[:, None, None, None, :]
        index = source.clamp(0, self.pitches - 1)[:, None, None, None, :].expand_as(planes)
        moved = (planes.gather(-1, index) * inside).flatten(-2)
        return torch.cat([moved, windows[..., columns:]], dim=-1)


def _extents(windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest and highest sounding pitch index of each window ``(batch,)`` (silent: the full range)."""
    used = windows.amax(dim=(1, 2)).bool()  # (batch, pitches)
    pitches = used.shape[1]
    number = torch.arange(pitches)
    silent = ~used.any(dim=1)
    low = torch.where(used, number, pitches).amin(dim=1).masked_fill(silent, 0)
    high = torch.where(used, number, -1).amax(dim=1).masked_fill(silent, pitches - 1)
    return low, high


class _Pull:
    """What a leaning over a piano roll's frames knows: their shape (``tracks`` of ``width``
    columns, the first ``pitches`` of them sounding pitches), the ``pitched`` tracks it pulls
    (not drums), and how hard (``strength``, in logits)."""

    def __init__(self, *, tracks: int, width: int, pitches: int, pitched: list, strength: float):
        self.tracks, self.width, self.pitches = tracks, width, pitches
        self.pitched, self.strength = pitched, float(strength)  # an int from a caller: rest_hold=2

    def _cells(self, frames: torch.Tensor) -> torch.Tensor:
        """The pitched tracks' sounding cells ``(frames, pitched, pitches)`` of flat ``frames``."""
        frames = frames.reshape(len(frames), self.tracks, self.width)
        return frames[:, self.pitched, : self.pitches] > 0.5

    def sounding(self) -> torch.Tensor | None:
        """No pull between a voice sounding and resting (``RestHold`` has one)."""
        return None

    def _sounding(self, pulls: torch.Tensor) -> torch.Tensor:
        """``sounding`` ``(tracks, width)`` from one pull per track ``(tracks,)``: on its pitches,
        not on its onset or velocity columns, which a note only marks once its pitch sounds (a
        pull on them drew an onset mark alone, a note of no pitch: silence)."""
        lean = torch.zeros(self.tracks, self.width)
        lean[:, : self.pitches] = pulls[:, None]
        return lean

    def _offsets(self, pulled: torch.Tensor) -> torch.Tensor:
        """Offsets ``(tracks, width)`` from ``pulled`` ``(pitched, pitches)`` (or a row of
        pitches for every pitched track), elsewhere 0."""
        offsets = torch.zeros(self.tracks, self.width)
        offsets[self.pitched, : self.pitches] = pulled.float()
        return offsets


class KeyLeaning(_Pull):
    """A soft pull toward the key a piece is in, for models that draw it frame by frame or
    redraw a whole draft (``core.rules.Leaning``): once the notes so far number ``EVIDENCE``, every pitch outside the
    major / natural minor scale that holds most of them has ``strength`` taken off its logit in
    the pitched tracks. Nothing is forbidden: a chromatic passing note, or a modulation the model
    insists on, stays possible, only less likely; and the key is the piece's own (its primer's, or
    what the model chose in its first notes), counted again at every frame.

    Why: an LSTM trained on 64-step windows forgets over 16 bars which key it set out in
    (bach-rnn's 16-bar pieces: 0.865 of their notes in one scale, held-out chorales 0.915), and a VAE's
    segments are drawn two bars at a time from points of a latent walk that each imply a key.
    """

    EVIDENCE = 8  # notes before the key counts: the first bar is the model's own choice

    def __init__(self, history: torch.Tensor, *, pitch_low: int, **shape):
        super().__init__(**shape)
        pitches, pitched = self.pitches, self.pitched
        self.classes = (pitch_low + torch.arange(pitches)) % PITCH_CLASSES
        self.scales = torch.as_tensor(scale_masks(), dtype=torch.float32)
        self.tonic, self.made = None, None  # the offsets last made, and for which key
        # the history's notes counted at once (a Gibbs sampler asks of a whole draft each pass)
        cells = self._cells(history)  # (steps, pitched, pitches)
        silence = torch.zeros(1, len(pitched), pitches, dtype=torch.bool)
        self.counts = self._classes_of(cells & ~torch.cat([silence, cells[:-1]]))
        self.before = torch.cat([silence, cells])[-1]

    def offsets(self) -> torch.Tensor | None:
        if self.counts.sum() < self.EVIDENCE:
            return None
        tonic = int((self.scales @ self.counts).argmax())  # the first of equals: deterministic
        if tonic != self.tonic:  # the key seldom moves: the offsets are made again when it does
            outside = self.scales[tonic][self.classes] == 0  # (pitches,)
            self.tonic = tonic
            self.made = self._offsets(torch.where(outside, -self.strength, 0.0))
        return self.made

    def advance(self, frame: torch.Tensor) -> None:
        """Counts the notes ``frame`` ``(tracks * width,)`` starts in the pitched tracks."""
        cells = self._cells(frame[None])[0]
        self.counts += self._classes_of(cells & ~self.before)
        self.before = cells

    def _classes_of(self, starts: torch.Tensor) -> torch.Tensor:
        """How many of the cells ``starts`` (``(..., pitches)``) marks fall on each pitch class."""
        return torch.bincount(
            self.classes[starts.nonzero()[:, -1]], minlength=PITCH_CLASSES
        ).float()


class HeldNotes(_Pull):
    """A pull toward holding the notes that sound, for models that draw a piece frame by frame
    (``core.rules.Leaning``): each pitch that sounded in the frame before has ``strength`` added
    to its logit in the pitched tracks, so a voice goes on with its note more often than it
    leaves it. Nothing is forbidden, and a new note or a rest stays the model's choice.

    Why: palestrina's voices flickered between pitches from one eighth-note step to the next
    (25 notes a bar in 8-bar pieces where the held-out masses have 10), which the ear hears as
    nervous ornament in a style of long held lines. A negative ``strength`` does the opposite:
    folk-melody, drawn on a sixteenth-note grid, held its notes longer than its tunes do.
    """

    def __init__(self, history: torch.Tensor, **shape):
        super().__init__(**shape)
        self.before = history[-1] if len(history) else None

    def offsets(self) -> torch.Tensor | None:
        if self.before is None:
            return None
        return self._offsets(self._cells(self.before[None])[0] * self.strength)

    def advance(self, frame: torch.Tensor) -> None:
        self.before = frame


class VoiceSpan(_Pull):
    """A pull that keeps each voice in its register, for models that draw a piece frame by
    frame (``core.rules.Leaning``): a pitch that would make a pitched track's notes so far span
    more than ``span`` semitones has ``strength`` taken off its logit for every semitone more.
    Within the span nothing changes, and a voice may still leave it where the model insists.

    Why: folk-melody's 8-bar tunes spanned 15-17 semitones where its held-out tunes span 12-16,
    from leaps of up to two octaves (after a rest most of all: the frame fed back is empty)
    and a slow drift of the register, which a melody's ambitus does not do.
    """

    COST = 1.0  # logits per semitone beyond the span: 3 beyond, e^-3 (a twentieth) as likely

    def __init__(self, history: torch.Tensor, *, span: int, **shape):
        super().__init__(**shape, strength=self.COST)
        self.span = span
        self.pitch = torch.arange(self.pitches, dtype=torch.float32)
        self.low = torch.full((len(self.pitched),), float("inf"))
        self.high = torch.full((len(self.pitched),), float("-inf"))
        for frame in history:
            self.advance(frame)

    def offsets(self) -> torch.Tensor | None:
        if not torch.isfinite(self.low).any():
            return None  # no note yet: the first one sets the register
        pitch = self.pitch
        spanned = torch.maximum(self.high[:, None], pitch) - torch.minimum(self.low[:, None], pitch)
        # a silent track spans max(-inf, p) - min(inf, p) = 0: no pull
        beyond = (spanned - self.span).clamp(min=0)
        return self._offsets(-self.strength * beyond)

    def advance(self, frame: torch.Tensor) -> None:
        """Widens each pitched track's extent by the notes that sound in ``frame``."""
        cells = self._cells(frame.reshape(1, -1))[0]  # (pitched, pitches)
        lowest = torch.where(cells, self.pitch, float("inf")).amin(dim=1)
        highest = torch.where(cells, self.pitch, float("-inf")).amax(dim=1)
        self.low, self.high = torch.minimum(self.low, lowest), torch.maximum(self.high, highest)


class EnsembleSpan(VoiceSpan):
    """``VoiceSpan`` over all pitched tracks together: a pitch that would make the notes so far
    of every voice span more than ``span`` semitones has a logit taken off for every semitone
    more, in every pitched track. A voice keeps its own register within the ensemble's compass.

    Why: palestrina's 5- and 6-voice pieces spanned 32 and 34 semitones where the held-out
    masses' 8-bar windows span 28 and 29 (tuning seeds 0-19); its adjacent voices lie no
    further apart than Palestrina's (4.7 and 4.2 semitones on average; the masses 4.7 and 4.1) but
    cross less, so they stack wider. A voice's own span (``VoiceSpan``) left that untouched.
    """

    def advance(self, frame: torch.Tensor) -> None:
        """Widens the ensemble's extent, shared by every pitched track, by ``frame``'s notes."""
        cells = self._cells(frame.reshape(1, -1))[0]
        lowest = torch.where(cells, self.pitch, float("inf")).amin()
        highest = torch.where(cells, self.pitch, float("-inf")).amax()
        self.low = torch.minimum(self.low, lowest)
        self.high = torch.maximum(self.high, highest)


class RestHold(_Pull):
    """A pull toward each voice going on as it was, for models that draw a piece frame by frame
    (``core.rules.Leaning.sounding``): a pitched track that sounded in the frame before has
    ``strength`` added to the logits of its pitches, one that rested has it taken off. Its
    rests grow fewer and longer (below 0: more and shorter); which notes it sounds is left to
    the other pulls.

    Why: palestrina's 6-voice pieces dropped a voice for a beat or two over and over (10.5
    rests in 8 bars, a quarter of them one or two eighths long; the held-out masses: 5.6 rests,
    none that short), so few bars were sung through and few rested whole, where Palestrina's
    voices rest for whole phrases.
    """

    def __init__(self, history: torch.Tensor, **shape):
        super().__init__(**shape)
        self.before = history[-1] if len(history) else None

    def offsets(self) -> torch.Tensor | None:
        return None

    def sounding(self) -> torch.Tensor | None:
        if self.before is None:
            return None
        sounded = self._cells(self.before[None])[0].any(-1)  # (pitched,)
        pulls = torch.zeros(self.tracks)
        pulls[self.pitched] = torch.where(sounded, self.strength, -self.strength)
        return self._sounding(pulls)

    def advance(self, frame: torch.Tensor) -> None:
        self.before = frame


class EveryBarSounds(_Pull):
    """Every bar of a piece composed frame by frame sounds (``core.rules.Leaning.sounding``):
    while no pitched track has sounded in the bar being drawn, its last step has ``strength``
    added to the first pitched track's sounding (near-hard at ``SILENCE_STRENGTH``). Bars are
    counted from the piece's first step; a primer's steps count as drawn.

    Why: no bar of the held-out folk tunes or masses is silent in every voice. A model told which
    bar it is in (``model.bar_numbers``) learns that a tune often opens with a pickup, a note or
    two at the first bar's end after a rest; drawing those rests one step at a time, folk-melody
    passed the pickup's step in 2.3% of its openings and left the first bar silent (once, on the
    tuning seeds, six bars). Later, palestrina's voices all came to rest together in one 6-voice
    piece of 30 (tuning seeds 0-29) and stayed silent for the rest of it: a state no mass it
    learnt from is in, and one the model does not leave.
    """

    def __init__(self, history: torch.Tensor, *, bar: int, **shape):
        super().__init__(**shape)
        self.bar, self.step = bar, len(history)
        self.heard = bool(self._cells(history[self.step - self.step % bar :]).any())

    def offsets(self) -> torch.Tensor | None:
        return None

    def sounding(self) -> torch.Tensor | None:
        if self.heard or self.step % self.bar != self.bar - 1:
            return None
        pulls = torch.zeros(self.tracks)
        pulls[self.pitched[0]] = self.strength
        return self._sounding(pulls)

    def advance(self, frame: torch.Tensor) -> None:
        self.heard = self.heard or bool(self._cells(frame[None]).any())
        self.step += 1
        if self.step % self.bar == 0:  # a new bar: nothing heard in it yet
            self.heard = False


SILENCE_STRENGTH = 30.0  # logits: e^-30 of a chance left to silence
