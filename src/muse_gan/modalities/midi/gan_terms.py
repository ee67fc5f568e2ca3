"""What piano rolls add to a GAN's training (``[midi.gan]``): loss terms that hold the generator to
statistics of the music, a critic stream that reads harmony, and voices kept to their ranges.

All work on rolls in the grid view ``(batch, tracks, steps, pitches)`` of 0/1 notes or note
probabilities; the GAN family plugs them in through ``DomainTerms`` and knows nothing of music.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.objective import DomainTerms, GeneratorTerm
from ...errors import ConfigError
from ...models.conv import LEAK, downsampled
from .metrics import PITCH_CLASSES, TONAL_TRANSFORM

# the logit of a pitch outside a voice's range: p ~ 1e-13, never above any threshold
UNHEARD = -30.0
STRIDED_LAYERS = 3  # the chroma stream halves time as often as the critic's own layers do


def domain_terms(settings, steps_per_bar: int) -> DomainTerms:
    """The terms ``settings`` (a ``RollGanTerms``) turn on, in the order their losses add up."""
    for name in ("activity", "harmony", "rhythm"):
        if getattr(settings, f"{name}_weight") < 0:  # a negative weight would reward the mismatch
            raise ConfigError(
                f"midi.gan.{name}_weight: {getattr(settings, f'{name}_weight')} must be at least 0"
            )
    mismatches = {
        "activity": activity_mismatch,
        "harmony": lambda fake, real: harmony_mismatch(fake, real, steps_per_bar),
        "rhythm": lambda fake, real: rhythm_mismatch(fake, real, steps_per_bar),
    }
    terms = tuple(
        GeneratorTerm(name, getattr(settings, f"{name}_weight"), mismatch)
        for name, mismatch in mismatches.items()
        if getattr(settings, f"{name}_weight")
    )
    streams = {"chroma": ChromaReader} if settings.critic_chroma else {}
    one_note = settings.one_note_per_voice
    output_filter = (
        (
            lambda tracks, pitches: Voices(
                tracks, pitches, settings.voice_ranges, one_note, settings.note_change_cost
            )
        )
        if settings.voice_ranges or one_note
        else None
    )
    return DomainTerms(terms, streams, output_filter)


def activity_mismatch(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Squared differences, summed over tracks, between the share of steps at which each track
    sounds in the fakes and in the real batch; a step's chance to sound is its likeliest note's.

    Why: a critic tells fakes mostly by their softness (probabilities against 0/1 notes), so a
    voice that is unsure looks less real to it than one that is silent, and the bundled bach-gan
    learnt to leave its unaccompanied soprano silent on half its steps while the critic scored a
    blanked soprano nearly as real as Bach's. Real voices rarely rest; this says so directly.
    """
    return (_activity(fake) - _activity(real)).square().sum()


def _activity(rolls: torch.Tensor) -> torch.Tensor:
    """Each track's mean over items and steps of its likeliest note's probability, ``(tracks,)``."""
    return rolls.float().amax(dim=-1).mean(dim=(0, 2))


def harmony_mismatch(fake: torch.Tensor, real: torch.Tensor, steps_per_bar: int) -> torch.Tensor:
    """Squared differences, summed over pairs of tracks, between each pair's mean tonal distance
    per bar in the fakes (on note probabilities) and in the real batch.

    Why: the critic's chroma stream brought bach-gan's voices only part of the way into one
    harmony (tonal distance 0.997 against Bach's 0.904); this holds the statistic itself to the
    data's. Alone it is gamed (stray notes of a chord's pitch class in far registers lower a
    bar's distance, and the meter dissolves), so it comes with ``Voices`` (their ranges) and
    ``rhythm_mismatch``.
    """
    return (
        (pair_tonal_distances(fake, steps_per_bar) - pair_tonal_distances(real, steps_per_bar))
        .square()
        .sum()
    )


def pair_tonal_distances(rolls: torch.Tensor, steps_per_bar: int) -> torch.Tensor:
    """``metrics.tonal_distance`` of every pair of tracks, ``(pairs,)``, over all items of
    ``rolls`` ``(batch, tracks, steps, pitches)`` (0/1 notes or probabilities) and their bars;
    bars where either track holds less than half a sounding cell are left out (0 for a pair
    with none). Pitch classes are counted from the lowest pitch, not from C: distances between
    tonal centroids do not change when every pitch class is shifted alike."""
    bars = rolls.float().unflatten(2, (-1, steps_per_bar)).sum(3)  # (batch, tracks, bars, pitches)
    chroma = pitch_classes(bars)
    totals = chroma.sum(-1, keepdim=True)
    transform = torch.as_tensor(TONAL_TRANSFORM, dtype=torch.float32, device=rolls.device)
    centroids = (chroma / totals.clamp_min(1e-6)) @ transform.T  # (batch, tracks, bars, 6)
    first, second = torch.combinations(torch.arange(rolls.shape[1], device=rolls.device)).T
    # the square root of a sum padded by 1e-12: a plain norm's gradient at distance 0 is NaN
    distances = ((centroids[:, first] - centroids[:, second]).square().sum(-1) + 1e-12).sqrt()
    sounding = totals[..., 0] >= 0.5
    both = (sounding[:, first] & sounding[:, second]).float()  # (batch, pairs, bars)
    return (distances * both).sum((0, 2)) / both.sum((0, 2)).clamp_min(1)


def rhythm_mismatch(fake: torch.Tensor, real: torch.Tensor, steps_per_bar: int) -> torch.Tensor:
    """Squared differences, summed over tracks and the steps of a bar, between how many notes
    each track starts at that step of the bar in the fakes (expected, from note probabilities)
    and in the real batch.

    Why: Bach's voices move in quarters and eighths: at each odd 16th of the bar some voice
    starts a note in 0-6% of bars (bach-gan before this term: 24-38%), and the harmony term
    alone flattened the meter completely (notes started as often off the beat as on it).
    """
    return (
        (_onset_profile(fake, steps_per_bar) - _onset_profile(real, steps_per_bar)).square().sum()
    )


def _onset_profile(rolls: torch.Tensor, steps_per_bar: int) -> torch.Tensor:
    """``(tracks, steps_per_bar)``: notes started per item and bar at each step of the bar; a
    cell starts a note with chance p(now) · (1 − p(step before)), a window's first step with p."""
    rolls = rolls.float()
    before = F.pad(rolls[:, :, :-1], (0, 0, 1, 0))
    starts = (rolls * (1 - before)).sum(-1)  # (batch, tracks, steps)
    return starts.unflatten(2, (-1, steps_per_bar)).mean(dim=(0, 2))


def pitch_classes(rolls: torch.Tensor) -> torch.Tensor:
    """``rolls`` with the last (pitch) axis folded onto 12 pitch classes, summing: sounding
    cells per class. Classes are counted from the lowest pitch, not from C (the roll's pitch
    range is padded up to whole octaves)."""
    return (
        F.pad(rolls, (0, -rolls.shape[-1] % PITCH_CLASSES))
        .unflatten(-1, (-1, PITCH_CLASSES))
        .sum(dim=-2)
    )


class ChromaReader(nn.Module):
    """A critic stream: a roll ``(batch, tracks, steps, pitches)`` folded to pitch classes → flat features.

    MuseGAN's discriminators (Dong et al. 2018) add such a chroma stream. Why here: 3×3
    convolutions see a few semitones at a time, so whether a soprano two octaves above the bass
    is in its harmony is nearly out of their sight; folded to 12 classes, every voice's chord
    tones meet in one kernel. The classes are counted from the roll's lowest pitch, not from C:
    a fixed rotation, the same for every item, changes nothing for a critic.
    """

    def __init__(self, tracks: int, steps: int, pitches: int, channels: int, wrap):
        super().__init__()
        # all voices' pitch classes at each step
        across = wrap(nn.Conv2d(tracks, channels, (1, PITCH_CLASSES)))
        along = [
            wrap(nn.Conv2d(channels, channels, (3, 1), (2, 1), (1, 0)))
            for _ in range(STRIDED_LAYERS)
        ]
        self.convs = nn.ModuleList([across] + along)
        self.size = channels * downsampled(steps)

    def forward(self, rolls: torch.Tensor) -> torch.Tensor:
        features = pitch_classes(rolls)  # (batch, tracks, steps, 12)
        for conv in self.convs:
            features = F.leaky_relu(conv(features), LEAK)
        return features.flatten(1)


class Voices(nn.Module):
    """The generator's output filter: what a track of one voice may sound.

    With ``ranges``, each track sounds only the pitches it has sounded in the training batches
    seen so far (a running union, ``heard``, saved with the model); the logits of the others
    are set to ``UNHEARD``. Why: with the harmony term, bach-gan's voices reached for chord
    tones in far registers (pitch range 49-60 semitones against Bach's 31); a voice's range is
    a fact of the data.

    With ``one_note``, a track's pitches at a step share one softmax with a rest whose logit is
    0: each pitch's probability is its share of that softmax, returned as a logit, so at most
    one pitch per track can pass a threshold of 0.5. Why: with a sigmoid per cell, bach-gan's
    voices sounded two or more pitches at a quarter of their steps and flickered between
    neighbouring pitches, which decoded as a third of their notes one 16th long (Bach: 2%).
    """

    def __init__(
        self,
        tracks: int,
        pitches: int,
        ranges: bool = True,
        one_note: bool = False,
        change_cost: float = 0.0,
    ):
        super().__init__()
        self.ranges, self.one_note, self.change_cost = ranges, one_note, change_cost
        self.register_buffer("heard", torch.ones(tracks, 1, pitches, dtype=torch.bool))
        if ranges:
            self.heard.zero_()

    @torch.no_grad()
    def observe(self, rolls: torch.Tensor) -> None:
        """Adds the pitches each track sounds in ``rolls`` ``(batch, tracks, steps, pitches)`` to its range."""
        if self.ranges:
            self.heard |= rolls.detach().amax(dim=(0, 2))[:, None].bool()

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.masked_fill(~self.heard, UNHEARD)
        return one_note_logits(logits) if self.one_note else logits

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Cells ``(count, tracks, steps, pitches)`` from this filter's logits: with
        ``one_note``, each voice's likeliest path through rest and its pitches (Viterbi), every
        change of note or into a rest costing ``change_cost`` nats; else each cell against 0.5.

        Why: decoded step by step, a voice whose likeliest pitch wavers for one step between
        two held notes breaks them into three, and one that rests for a step where its
        probabilities are spread breaks a note in two; bach-gan's voices held 0.75 of their
        notes an eighth or longer decoded so, against Bach's 0.97."""
        if not self.one_note:
            return (logits > 0).float()
        return viterbi_voices(note_log_shares(logits), self.change_cost)


def note_log_shares(logits: torch.Tensor) -> torch.Tensor:
    """``(..., 1 + pitches)``: the log-probability of a rest, then of each pitch, from one-note
    logits (whose sigmoids are a softmax's shares)."""
    shares = torch.sigmoid(logits.float())
    rest = (1 - shares.sum(-1, keepdim=True)).clamp_min(1e-9)
    return torch.cat([rest, shares.clamp_min(1e-12)], dim=-1).log()


def viterbi_voices(log_shares: torch.Tensor, change_cost: float) -> torch.Tensor:
    """0/1 cells ``(count, tracks, steps, pitches)``: for each track the sequence of states
    (0: rest, 1 + p: pitch p) of ``log_shares`` ``(count, tracks, steps, 1 + pitches)`` with the
    highest sum of log-probabilities less ``change_cost`` per change of state."""
    count, tracks, steps, states = log_shares.shape
    best = log_shares[:, :, 0]
    back = torch.zeros(count, tracks, steps, states, dtype=torch.long)
    staying = torch.arange(states).expand_as(best)
    for step in range(1, steps):
        top, where = best.max(dim=-1, keepdim=True)
        moving = top - change_cost
        moves = moving > best  # ties stay: the held note goes on
        back[:, :, step] = torch.where(moves, where.expand_as(best), staying)
        best = torch.where(moves, moving, best) + log_shares[:, :, step]
    state = best.argmax(dim=-1)
    path = [state]
    for step in range(steps - 1, 0, -1):
        state = back[:, :, step].gather(-1, state[..., None])[..., 0]
        path.append(state)
    chosen = torch.stack(path[::-1], dim=2)  # (count, tracks, steps)
    return F.one_hot(chosen, states)[..., 1:].float()


def one_note_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-cell logits ``(..., pitches)`` whose sigmoids are the shares of a softmax over the
    pitches and a rest of logit 0: ``log q - log(1 - q)``, computed in log space."""
    floats = logits.float()
    with_rest = F.pad(floats, (1, 0))  # the rest's logit, 0, in front
    # log q, at most -1e-6: q is 1 only where a logit dwarfs the rest's, and a logit of 14 says as much
    log_share = (floats - with_rest.logsumexp(-1, keepdim=True)).clamp(max=-1e-6)
    # log(1 - q), stably: log(-expm1(x)) near 0, log1p(-exp(x)) further down; each branch fed
    # only inputs where it is finite, or where() would pass a NaN gradient back from the other
    near, far = log_share.clamp(min=-0.6931), log_share.clamp(max=-0.6931)
    log_rest = torch.where(log_share > -0.6931, (-torch.expm1(near)).log(), torch.log1p(-far.exp()))
    return (log_share - log_rest).to(logits.dtype)
