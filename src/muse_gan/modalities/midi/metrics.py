"""Objective quality metrics for symbolic music, computed on multi-track piano rolls.

The metrics follow their papers' definitions: Dong et al. 2018 (MuseGAN: empty bars, used
pitch classes, qualified notes, polyphony, drum pattern, tonal distance), Yang & Lerch 2018
("On the evaluation of generative models in music": pitch range, pitch-class entropy,
grooving pattern similarity; their overlap area and KL divergence of metric distributions are
in ``muse_gan.measures.distributions``) and
Harte et al. 2006 (the 6-D tonal centroid).

Input. A roll is a numpy array or torch tensor of shape ``(tracks, steps, pitches)``; a
nonzero cell sounds (binarise probabilities first, e.g. ``roll > 0.5``). Pitch index 0 is
MIDI pitch ``pitch_low``; a step is 1/``steps_per_beat`` of a quarter note, and step 0 is a
downbeat. Functions about one track (``tonal_distance``, ``tonal_centroids``,
``drum_pattern_rate``) take a ``(steps, pitches)`` array. A note is a maximal run of
consecutive sounding steps of one pitch in one track, as ``PianoRollAdapter.decode`` reads it.

Bars. A bar is a block of ``steps_per_bar`` steps starting at step 0. An incomplete final
bar is ignored by the metrics that work bar by bar (it would count as a short, emptier bar);
metrics over steps or notes use every step of the roll.

Empty input. A metric is NaN exactly when the things it averages over do not exist: no
notes, no sounding steps, no non-empty bars, no bars at all, no pair of bars to compare.
A share over steps or bars that do exist is a real number, so a silent roll has
``empty_bar_rate`` 1.0 and ``polyphony_rate`` 0.0, and NaN for every other metric (a silent
piece has no groove, pitch range or tonal centroid). NaN, not 0, so a missing value never
passes for a measured one; average with ``np.nanmean``.

Example::

    roll = PianoRollAdapter().encode(read_scores(bwv10_7)[0])   # a four-part Bach chorale
    describe(roll, steps_per_beat=4, steps_per_bar=16, pitch_low=28)
    # {'empty_bar_rate': 0.011, 'used_pitch_classes': 2.14, 'qualified_note_rate': 1.0,
    #  'polyphony': 3.82, ..., 'scale_consistency': 0.96, 'mean_tonal_distance': 1.12, ...}
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

PITCH_CLASSES = 12
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)  # semitones above the tonic

# Harte et al. 2006: pitch class l sits on three circles, of fifths (angle 7πl/6), minor thirds
# (3πl/2) and major thirds (2πl/3), with radii r1, r2, r3.
_CIRCLES = ((7 * math.pi / 6, 1.0), (3 * math.pi / 2, 1.0), (2 * math.pi / 3, 0.5))


def _tonal_transform() -> np.ndarray:
    """The 6×12 matrix that maps a chroma vector to its tonal centroid (rows: sin, cos per circle)."""
    classes = np.arange(PITCH_CLASSES)
    rows = [
        [radius * np.sin(angle * classes), radius * np.cos(angle * classes)]
        for angle, radius in _CIRCLES
    ]
    return np.concatenate(rows)


TONAL_TRANSFORM = _tonal_transform()


# per piece: bars


def empty_bar_rate(roll, steps_per_bar: int, per_track: bool = False):
    """Share of (track, bar) pairs in which no cell sounds: 1.0 means every bar is silent.

    A value in [0, 1]; NaN when the roll holds no complete bar. With ``per_track``, an array
    with one share per track (MuseGAN's "EB" is reported this way).

    Example: two tracks of four bars with three silent (track, bar) pairs give 3/8 = 0.375.
    """
    bars = _bars(_tracks(roll), steps_per_bar)
    silent = ~bars.any(axis=(2, 3))  # (tracks, bars)
    return _pooled_or_per_track(
        silent.sum(axis=1), np.full(len(silent), silent.shape[1]), per_track
    )


def filled_bar_rate(roll, steps_per_bar: int) -> float:
    """Share of the (track, bar) pairs where something sounds whose notes fill the bar's whole
    length: a note sounds at every step, as the notes of a written bar add up to its meter with
    no rest. In [0, 1]; NaN when no bar sounds. A melody's phrase-end rests and a voice's
    entries lower it; chopped rhythms and bars cut short lower it more.

    Example: one track of two 4-step bars, the first held through, the second with a rest at
    its last step, gives 1/2."""
    sounding = _bars(_tracks(roll), steps_per_bar).any(axis=3)  # (tracks, bars, steps)
    heard = sounding.any(axis=2)
    if not heard.any():
        return math.nan
    return float(sounding.all(axis=2)[heard].mean())


def used_pitch_classes(roll, steps_per_bar: int, pitch_low: int, per_track: bool = False):
    """Mean number of distinct pitch classes (0-12) sounding in a bar, over the (track, bar)
    pairs where something sounds.

    Silent bars are left out, so the number describes the bars that have music in them and
    does not mix in the empty-bar rate; MuseGAN's "UPC", which averages over all bars, equals
    ``used_pitch_classes * (1 - empty_bar_rate)``. NaN when no bar sounds. With
    ``per_track``, an array with one mean per track.
    """
    bars = _bars(_tracks(roll), steps_per_bar)
    classes = _chroma(bars.any(axis=2), pitch_low) > 0  # (tracks, bars, 12)
    counts = classes.sum(axis=2)
    return _pooled_or_per_track(counts.sum(axis=1), (counts > 0).sum(axis=1), per_track)


def groove_consistency(roll, steps_per_bar: int) -> float:
    """Grooving pattern similarity of consecutive bars (Yang & Lerch 2018), in [0, 1].

    A bar's groove is its onset pattern: step ``s`` has an onset when any note of any track
    starts there (a note held over the bar line does not). The result is 1 minus the mean,
    over pairs of consecutive bars, of the Hamming distance between their patterns divided
    by ``steps_per_bar``; 1.0 means every bar has the same rhythm. NaN with fewer than two
    complete bars, or when no note starts in them (silence has no groove to repeat).
    """
    onsets = _onsets(_tracks(roll)).any(axis=(0, 2))
    patterns = onsets[: _whole_bars(onsets.size, steps_per_bar) * steps_per_bar].reshape(
        -1, steps_per_bar
    )
    if len(patterns) < 2 or not patterns.any():
        return math.nan
    distances = (patterns[1:] != patterns[:-1]).sum(axis=1) / steps_per_bar
    return float(1.0 - distances.mean())


# per piece: notes and steps


def qualified_note_rate(
    roll, steps_per_beat: int, min_steps: int | None = None, per_track: bool = False
):
    """Share of notes at least ``min_steps`` steps long, in [0, 1].

    ``min_steps`` defaults to a 16th note, ``ceil(steps_per_beat / 4)`` steps (at least 1);
    with 16th-note steps every note qualifies. Notes of all tracks are pooled (MuseGAN's
    "QN"); with ``per_track``, an array with one share per track. A note still sounding at
    the roll's last step counts with the length it has in the roll. NaN when there are no notes.
    """
    _check_positive(steps_per_beat=steps_per_beat)
    tracks = _tracks(roll)
    min_steps = max(1, math.ceil(steps_per_beat / 4)) if min_steps is None else min_steps
    track_of_note, lengths = _notes(tracks)
    qualified = np.bincount(track_of_note[lengths >= min_steps], minlength=len(tracks))
    return _pooled_or_per_track(
        qualified, np.bincount(track_of_note, minlength=len(tracks)), per_track
    )


def long_note_rate(roll, steps_per_beat: int) -> float:
    """Share of notes at least an eighth note long (``ceil(steps_per_beat / 2)`` steps), in
    [0, 1]: a chorale's voices move mostly in quarters and eighths (about 0.98 of its notes), a
    rhythm chopped into sixteenths reads far lower. Notes of all tracks pooled; NaN when there
    are none."""
    return qualified_note_rate(
        roll, steps_per_beat, min_steps=max(1, math.ceil(steps_per_beat / 2))
    )


def notes_per_bar(roll, steps_per_bar: int) -> float:
    """Notes started per complete bar, all tracks together (a four-voice chorale: about 4 per
    voice). Notes starting in a partial last bar are not counted; NaN when there is no
    complete bar."""
    bars = _bars(_tracks(roll), steps_per_bar)
    if not bars.shape[1]:
        return math.nan
    return float(_onsets(bars.reshape(len(bars), -1, bars.shape[-1])).sum() / bars.shape[1])


def polyphony(roll) -> float:
    """Mean number of distinct pitches sounding at a step, tracks merged, over the steps where
    at least one sounds (a unison of two tracks counts once). NaN when nothing sounds."""
    counts = _pitches_per_step(roll)
    sounding = counts[counts > 0]
    return float(sounding.mean()) if sounding.size else math.nan


def polyphony_rate(roll, min_pitches: int = 2) -> float:
    """Share of ALL steps, silent ones included, at which at least ``min_pitches`` distinct
    pitches sound, tracks merged (MuseGAN's "polyphonicity"), in [0, 1]. NaN for a roll of
    no steps; 0.0 for a silent one."""
    _check_positive(min_pitches=min_pitches)
    counts = _pitches_per_step(roll)
    return float((counts >= min_pitches).mean()) if counts.size else math.nan


def pitch_range(roll) -> float:
    """Highest minus lowest sounding pitch over all tracks, in semitones (so ``pitch_low``
    is not needed: it cancels). 0.0 for a single pitch; NaN when nothing sounds."""
    used = np.flatnonzero(_tracks(roll).any(axis=(0, 1)))
    return float(used[-1] - used[0]) if used.size else math.nan


# per piece: pitch classes


def pitch_class_entropy(roll, pitch_low: int, by: str = "duration") -> float:
    """Shannon entropy, in bits, of the piece's pitch-class histogram: 0 for one pitch class,
    log2(12) ≈ 3.585 for all twelve equally.

    The histogram is duration-weighted by default: it counts sounding cells (track, step,
    pitch), so a whole note weighs as much as four quarter notes and a pitch doubled in two
    tracks twice. ``by="notes"`` counts each note once, whatever its length (as a listener
    counting notes, or a tool reading a MIDI file's note list, does). NaN when nothing sounds.
    """
    histogram = _pitch_class_histogram(roll, pitch_low, by)
    total = histogram.sum()
    if total == 0:
        return math.nan
    shares = histogram[histogram > 0] / total
    return float(-(shares * np.log2(shares)).sum())


def scale_consistency(roll, pitch_low: int, by: str = "duration") -> float:
    """The largest share of sounding cells (duration-weighted, as in ``pitch_class_entropy``;
    ``by="notes"``: of notes) whose pitch class lies in one major or natural minor scale, in
    [7/12, 1]: 1.0 for a piece wholly in C major (or any one key). Each natural minor scale
    has the pitch classes of its relative major, so the 12 major scales cover all 24. NaN
    when nothing sounds.
    """
    histogram = _pitch_class_histogram(roll, pitch_low, by)
    total = histogram.sum()
    if total == 0:
        return math.nan
    return float((scale_masks() @ histogram).max() / total)


def scale_fits(roll, pitch_low: int) -> np.ndarray:
    """``(12,)``: how many sounding cells lie in the major scale on each tonic (C first), and
    so in its relative natural minor."""
    return scale_masks() @ _pitch_class_histogram(roll, pitch_low)


# between tracks


def tonal_centroids(track, steps_per_bar: int, pitch_low: int) -> np.ndarray:
    """The 6-D tonal centroid (Harte et al. 2006) of each complete bar of one ``(steps,
    pitches)`` track, shape ``(bars, 6)``; rows of NaN for silent bars.

    A bar's chroma counts sounding cells per pitch class (duration-weighted), is normalised
    to sum 1 and projected with ``TONAL_TRANSFORM``: sine and cosine of the pitch class on
    the circle of fifths (radius 1), of minor thirds (radius 1) and of major thirds (0.5).
    """
    bars = _bars(_lane(track)[None], steps_per_bar)[0]  # (bars, steps_per_bar, pitches)
    chroma = _chroma(bars.sum(axis=1), pitch_low)
    totals = chroma.sum(axis=1, keepdims=True)
    normalised = np.divide(chroma, totals, out=np.full(chroma.shape, np.nan), where=totals > 0)
    return normalised @ TONAL_TRANSFORM.T


def tonal_distance(track_a, track_b, steps_per_bar: int, pitch_low: int) -> float:
    """Mean over bars of the Euclidean distance between two tracks' tonal centroids
    (MuseGAN's "TD"); 0 for the same harmony, larger for harmonically further apart tracks.

    Both tracks are ``(steps, pitches)`` of the same shape. Bars where either track is silent
    are skipped; NaN when no bar has both sounding.
    """
    a, b = _lane(track_a), _lane(track_b)
    if a.shape != b.shape:
        raise ValueError(f"the tracks differ in shape: {a.shape} and {b.shape}")
    distances = np.linalg.norm(
        tonal_centroids(a, steps_per_bar, pitch_low) - tonal_centroids(b, steps_per_bar, pitch_low),
        axis=1,
    )
    shared = distances[np.isfinite(distances)]
    return float(shared.mean()) if shared.size else math.nan


def mean_tonal_distance(roll, steps_per_bar: int, pitch_low: int) -> float:
    """Mean of ``tonal_distance`` over all pairs of tracks, each pair weighing the same.
    Pairs that never sound together are left out; NaN when no pair does (or the roll has
    fewer than two tracks)."""
    tracks = _tracks(roll)
    distances = [
        tonal_distance(tracks[i], tracks[j], steps_per_bar, pitch_low)
        for i, j in itertools.combinations(range(len(tracks)), 2)
    ]
    finite = [distance for distance in distances if not math.isnan(distance)]
    return float(np.mean(finite)) if finite else math.nan


# drums


def drum_pattern_rate(drum_track, steps_per_beat: int, grid: int = 8) -> float:
    """Share of drum onsets that fall on a grid of ``1/grid`` notes (``grid=8``: eighth
    notes, MuseGAN's "DP"; ``grid=16``: sixteenths), counted from step 0, in [0, 1].

    ``drum_track`` is one ``(steps, pitches)`` track; every note start counts, each drum
    sound separately. The grid is measured in beats, not bars, so it holds in any x/4 metre;
    with triplet steps (``steps_per_beat=3``) only the beats lie on a 16th grid. NaN when
    there are no onsets.
    """
    _check_positive(steps_per_beat=steps_per_beat, grid=grid)
    steps, _ = np.nonzero(_onsets(_lane(drum_track)[None])[0])
    if not steps.size:
        return math.nan
    whole_note = 4 * steps_per_beat  # steps
    return float(((steps * grid) % whole_note == 0).mean())


# summaries


def describe(
    roll,
    *,
    steps_per_beat: int,
    steps_per_bar: int,
    pitch_low: int,
    drum_tracks: Sequence[int] = (),
) -> dict[str, float]:
    """The piece-level metrics of one roll, by name (all floats, NaN where undefined).

    Tracks in ``drum_tracks`` are left out of the pitch metrics and merged for
    ``drum_pattern_rate`` (eighth-note grid), which is NaN when there are none;
    ``groove_consistency`` uses every track.
    """
    tracks = _tracks(roll)
    drums = sorted(set(drum_tracks))
    if any(not 0 <= track < len(tracks) for track in drums):
        raise ValueError(
            f"drum_tracks {list(drum_tracks)}: the roll has tracks 0-{len(tracks) - 1}"
        )
    pitched = np.delete(tracks, drums, axis=0)
    return {
        "empty_bar_rate": empty_bar_rate(pitched, steps_per_bar),
        "filled_bar_rate": filled_bar_rate(pitched, steps_per_bar),
        "used_pitch_classes": used_pitch_classes(pitched, steps_per_bar, pitch_low),
        "qualified_note_rate": qualified_note_rate(pitched, steps_per_beat),
        "long_note_rate": long_note_rate(pitched, steps_per_beat),
        "notes_per_bar": notes_per_bar(pitched, steps_per_bar),
        "polyphony": polyphony(pitched),
        "polyphony_rate": polyphony_rate(pitched),
        "pitch_range": pitch_range(pitched),
        "pitch_class_entropy": pitch_class_entropy(pitched, pitch_low),
        "scale_consistency": scale_consistency(pitched, pitch_low),
        "note_pitch_class_entropy": pitch_class_entropy(pitched, pitch_low, by="notes"),
        "note_scale_consistency": scale_consistency(pitched, pitch_low, by="notes"),
        "groove_consistency": groove_consistency(tracks, steps_per_bar),
        "mean_tonal_distance": mean_tonal_distance(pitched, steps_per_bar, pitch_low),
        "drum_pattern_rate": drum_pattern_rate(tracks[drums].any(axis=0), steps_per_beat)
        if drums
        else math.nan,
    }


# helpers


def _tracks(roll) -> np.ndarray:
    """The roll as a boolean ``(tracks, steps, pitches)`` numpy array; torch tensors on any device."""
    if hasattr(roll, "detach"):  # a torch tensor; torch itself is not needed to read numpy rolls
        roll = roll.detach().cpu().numpy()
    roll = np.asarray(roll)
    if roll.ndim != 3:
        raise ValueError(f"a roll has shape (tracks, steps, pitches), got {roll.shape}")
    return roll != 0


def _lane(track) -> np.ndarray:
    """One track as a boolean ``(steps, pitches)`` array."""
    if hasattr(track, "detach"):
        track = track.detach().cpu().numpy()
    track = np.asarray(track)
    if track.ndim != 2:
        raise ValueError(f"a track has shape (steps, pitches), got {track.shape}")
    return track != 0


def _whole_bars(steps: int, steps_per_bar: int) -> int:
    _check_positive(steps_per_bar=steps_per_bar)
    return steps // steps_per_bar


def _bars(tracks: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """``(tracks, bars, steps_per_bar, pitches)``: the complete bars; a partial last bar is cut."""
    count, steps, pitches = tracks.shape
    bars = _whole_bars(steps, steps_per_bar)
    return tracks[:, : bars * steps_per_bar].reshape(count, bars, steps_per_bar, pitches)


def _onsets(tracks: np.ndarray) -> np.ndarray:
    """Cells where a note starts: sounding, and not sounding at the step before."""
    before = np.zeros_like(tracks)
    before[:, 1:] = tracks[:, :-1]
    return tracks & ~before


def _notes(tracks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Track index and length in steps of every note (run of sounding steps of one pitch)."""
    count, steps, pitches = tracks.shape
    padded = np.zeros((count, pitches, steps + 2), dtype=np.int8)
    padded[:, :, 1:-1] = tracks.transpose(0, 2, 1)
    change = np.diff(padded, axis=2)
    starts, ends = np.argwhere(change == 1), np.argwhere(change == -1)  # same (track, pitch) order
    return starts[:, 0], ends[:, 2] - starts[:, 2]


def _pitches_per_step(roll) -> np.ndarray:
    return _tracks(roll).any(axis=0).sum(axis=1)


def _chroma(by_pitch: np.ndarray, pitch_low: int) -> np.ndarray:
    """Fold the last (pitch) axis onto the 12 pitch classes, summing; C is class 0."""
    classes = (pitch_low + np.arange(by_pitch.shape[-1])) % PITCH_CLASSES
    return by_pitch.astype(np.int64) @ np.eye(PITCH_CLASSES, dtype=np.int64)[classes]


def _pitch_class_histogram(roll, pitch_low: int, by: str = "duration") -> np.ndarray:
    """Sounding cells (``by="duration"``) or note starts (``by="notes"``) per pitch class."""
    if by not in ("duration", "notes"):
        raise ValueError(f'by must be "duration" or "notes", got {by!r}')
    tracks = _tracks(roll)
    return _chroma((_onsets(tracks) if by == "notes" else tracks).sum(axis=(0, 1)), pitch_low)


def scale_masks() -> np.ndarray:
    """``(12, 12)``: row t marks the pitch classes of the major scale on tonic t."""
    major = np.zeros(PITCH_CLASSES)
    major[list(MAJOR_SCALE)] = 1
    return np.stack([np.roll(major, tonic) for tonic in range(PITCH_CLASSES)])


def _pooled_or_per_track(counts: np.ndarray, totals: np.ndarray, per_track: bool):
    """counts/totals per track (an array, NaN where a total is 0), or pooled over tracks (a float)."""
    if per_track:
        return np.divide(counts, totals, out=np.full(len(counts), np.nan), where=totals > 0)
    total = totals.sum()
    return float(counts.sum() / total) if total else math.nan


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value}")
