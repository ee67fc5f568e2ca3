"""Tests for muse_gan.modalities.midi.metrics, and the distributions their values are compared
by (muse_gan.measures.distributions).

Every metric is checked on a small lopsided roll whose answer is worked out by hand in a
comment, so a metric that computes the complement (the non-empty share instead of the empty
one, say) or averages over the wrong set (all steps instead of sounding ones) fails.
"""

import math

import numpy as np
import pytest
import torch

from muse_gan.measures import distributions
from muse_gan.modalities.midi import metrics

C4 = 60


def roll_of(notes, tracks=1, steps=16, pitches=24):
    """A boolean roll from (track, pitch index, start step, end step) notes, end exclusive."""
    roll = np.zeros((tracks, steps, pitches), dtype=bool)
    for track, pitch, start, end in notes:
        roll[track, start:end, pitch] = True
    return roll


def chord(track, pitches, start, end):
    return [(track, pitch, start, end) for pitch in pitches]


# empty bars


def test_empty_bar_rate_counts_the_empty_share():
    # Two tracks, four bars of 4 steps. Track 0 sounds in bars 0, 1, 2; track 1 in bars 0, 2.
    # Empty (track, bar) pairs: (0, 3), (1, 1), (1, 3) → 3 of 8 = 0.375 (not 5/8).
    # Two extra steps (a partial fifth bar) sound in track 1 and are ignored.
    notes = [(0, 0, 0, 1), (0, 0, 4, 5), (0, 0, 8, 9), (1, 3, 1, 2), (1, 3, 9, 12), (1, 5, 16, 18)]
    roll = roll_of(notes, tracks=2, steps=18)
    assert metrics.empty_bar_rate(roll, steps_per_bar=4) == 0.375
    np.testing.assert_array_equal(metrics.empty_bar_rate(roll, 4, per_track=True), [0.25, 0.5])


def test_empty_bar_rate_three_of_four_bars_empty():
    roll = roll_of([(0, 7, 2, 3)], steps=16)  # only bar 0 sounds
    assert metrics.empty_bar_rate(roll, steps_per_bar=4) == 0.75


# used pitch classes


def test_used_pitch_classes_leaves_silent_bars_out():
    # pitch_low = C4; three bars of 4 steps.
    # track 0: bar 0 C E G (3 classes), bar 1 C4 + C5 (1 class: an octave), bar 2 silent
    # track 1: bar 0 D (1), bar 1 C# D D# E F (5), bar 2 silent
    # over the 4 sounding pairs: (3 + 1 + 1 + 5) / 4 = 2.5; per track (3+1)/2 = 2, (1+5)/2 = 3
    notes = (
        chord(0, [0, 4, 7], 0, 4)
        + chord(0, [0, 12], 4, 6)
        + [(1, 2, 1, 3)]
        + chord(1, [1, 2, 3, 4, 5], 4, 5)
    )
    roll = roll_of(notes, tracks=2, steps=12)
    assert metrics.used_pitch_classes(roll, steps_per_bar=4, pitch_low=C4) == 2.5
    np.testing.assert_array_equal(
        metrics.used_pitch_classes(roll, 4, C4, per_track=True), [2.0, 3.0]
    )
    # MuseGAN's average over all 6 bars, 10 / 6, follows from the documented identity
    all_bars = metrics.used_pitch_classes(roll, 4, C4) * (1 - metrics.empty_bar_rate(roll, 4))
    assert all_bars == pytest.approx(10 / 6)


# qualified notes


def test_long_note_rate_counts_notes_of_an_eighth_or_more():
    # 16th-note steps (4 per beat): an eighth is 2 steps. Notes of 1, 2, 1, 4 and 3 steps in two
    # tracks → 3 of 5 are at least an eighth = 0.6 (a 16th-note threshold would give 1.0).
    roll = roll_of(
        [(0, 0, 0, 1), (0, 0, 2, 4), (0, 2, 4, 5), (1, 5, 0, 4), (1, 7, 8, 11)], tracks=2
    )
    assert metrics.long_note_rate(roll, steps_per_beat=4) == pytest.approx(0.6)
    # eighth-note steps: every note is at least one step, an eighth
    assert metrics.long_note_rate(roll, steps_per_beat=2) == 1.0
    assert math.isnan(metrics.long_note_rate(np.zeros((1, 8, 4), bool), steps_per_beat=4))


def test_notes_per_bar_counts_starts_in_complete_bars():
    # Bars of 4 steps. Track 0: a held note over bars 0-1 (one start), two notes in bar 1;
    # track 1: one note in bar 0. A note starting in the partial bar (steps 8-9) is not counted.
    # → 4 starts over 2 bars = 2.0 (counting sounding steps instead would give 5.5).
    roll = roll_of(
        [(0, 0, 0, 6), (0, 3, 4, 5), (0, 4, 6, 8), (1, 2, 1, 3), (1, 2, 8, 10)], tracks=2, steps=10
    )
    assert metrics.notes_per_bar(roll, steps_per_bar=4) == 2.0
    assert math.isnan(metrics.notes_per_bar(roll[:, :3], steps_per_bar=4))


def test_note_weighted_pitch_classes_count_each_note_once():
    # C held 13 steps, then C#, D, E each one step: by duration 13/16 of the cells are C, by
    # notes 1/4. The best major scale by notes holds C, D, E (C major: 3 of 4 notes = 0.75);
    # by duration C major holds 15 of 16 cells.
    roll = roll_of([(0, 0, 0, 13), (0, 1, 13, 14), (0, 2, 14, 15), (0, 4, 15, 16)])
    assert metrics.scale_consistency(roll, C4, by="notes") == pytest.approx(0.75)
    assert metrics.scale_consistency(roll, C4) == pytest.approx(15 / 16)
    assert metrics.pitch_class_entropy(roll, C4, by="notes") == pytest.approx(
        2.0
    )  # four classes, once each
    assert metrics.pitch_class_entropy(roll, C4) < 1.0
    with pytest.raises(ValueError, match="by must be"):
        metrics.scale_consistency(roll, C4, by="cells")


def test_qualified_note_rate_at_eight_steps_per_beat():
    # steps_per_beat = 8, so a 16th note is 2 steps. Notes: track 0 pitch 0 lengths 1 and 2
    # (a one-step gap splits them), track 0 pitch 5 length 1, track 1 pitch 3 length 3 (still
    # sounding at the roll's end). Qualified (>= 2 steps): 2 of 4 = 0.5; per track 1/3 and 1/1.
    notes = [(0, 0, 0, 1), (0, 0, 2, 4), (0, 5, 0, 1), (1, 3, 5, 8)]
    roll = roll_of(notes, tracks=2, steps=8)
    assert metrics.qualified_note_rate(roll, steps_per_beat=8) == 0.5
    np.testing.assert_allclose(metrics.qualified_note_rate(roll, 8, per_track=True), [1 / 3, 1.0])
    assert metrics.qualified_note_rate(roll, steps_per_beat=12) == 0.25  # 16th = 3 steps
    assert metrics.qualified_note_rate(roll, steps_per_beat=8, min_steps=3) == 0.25
    assert metrics.qualified_note_rate(roll, steps_per_beat=4) == 1.0  # 16th = 1 step


# polyphony


def test_polyphony_over_sounding_steps_and_rate_over_all_steps():
    # 8 steps, two tracks. step 0: C in both tracks (a unison, 1 pitch); step 1: C E G (3);
    # step 3: C E (2); steps 2, 4-7 silent.
    # polyphony = (1 + 3 + 2) / 3 sounding steps = 2.0 (over all 8 steps it would be 0.75)
    # polyphony_rate = steps with >= 2 pitches / all 8 steps = 2/8 = 0.25 (not 2/3)
    notes = [(0, 0, 0, 2), (1, 0, 0, 1), (1, 4, 1, 2), (0, 7, 1, 2), (0, 0, 3, 4), (1, 4, 3, 4)]
    roll = roll_of(notes, tracks=2, steps=8)
    assert metrics.polyphony(roll) == 2.0
    assert metrics.polyphony_rate(roll) == 0.25
    assert metrics.polyphony_rate(roll, min_pitches=3) == 0.125


def test_pitch_range_in_semitones_across_tracks():
    roll = roll_of([(0, 10, 0, 1), (1, 3, 4, 5), (1, 6, 4, 5)], tracks=2)
    assert metrics.pitch_range(roll) == 7.0
    assert metrics.pitch_range(roll_of([(0, 4, 0, 3)])) == 0.0


# pitch classes


def test_pitch_class_entropy_is_duration_weighted_bits():
    # C held 3 steps, G 1 step: p = (3/4, 1/4), H = -(3/4 log2 3/4 + 1/4 log2 1/4) ≈ 0.8113 bits
    # (counting onsets instead would give 1 bit)
    roll = roll_of([(0, 0, 0, 3), (0, 7, 3, 4)])
    assert metrics.pitch_class_entropy(roll, pitch_low=C4) == pytest.approx(0.811278, abs=1e-6)
    chromatic = roll_of(chord(0, range(12), 0, 1))
    assert metrics.pitch_class_entropy(chromatic, C4) == pytest.approx(math.log2(12))
    assert metrics.pitch_class_entropy(roll_of([(0, 0, 0, 1), (0, 12, 1, 2)]), C4) == 0.0


def test_scale_consistency():
    # a chromatic cluster, one cell per class: the best scale holds 7 of 12
    assert metrics.scale_consistency(roll_of(chord(0, range(12), 0, 1)), C4) == pytest.approx(
        7 / 12
    )
    # C major scale, each note 2 steps (14 cells), plus one step of F#: C major holds 14 of 15
    # (G major, with F# but not F, holds 13 of 15)
    c_major = [0, 2, 4, 5, 7, 9, 11]
    notes = [(0, pitch, 2 * i, 2 * i + 2) for i, pitch in enumerate(c_major)] + [(0, 6, 14, 15)]
    assert metrics.scale_consistency(roll_of(notes), C4) == pytest.approx(14 / 15)
    a_natural_minor = roll_of(
        [(0, pitch, i, i + 1) for i, pitch in enumerate([9, 11, 12, 14, 16, 17, 19])]
    )
    assert metrics.scale_consistency(a_natural_minor, C4) == 1.0


# groove


def test_groove_consistency_of_consecutive_bars():
    # Bars of 4 steps. bar 0 onsets 1010; bar 1 onsets 1010 (a note at step 6 is held to step 9,
    # across the bar line, so it is no onset at step 8); bar 2 onset at step 9 from track 1: 0100.
    # Hamming/4: bar 0→1 = 0, bar 1→2 = 3/4; mean 3/8; 1 - 3/8 = 0.625
    # (counting the held note as an onset at step 8 would give 1 - (0 + 2/4)/2 = 0.75)
    notes = [(0, 0, 0, 1), (0, 0, 2, 3), (0, 0, 4, 5), (0, 0, 6, 10), (1, 2, 9, 10)]
    roll = roll_of(notes, tracks=2, steps=12)
    assert metrics.groove_consistency(roll, steps_per_bar=4) == 0.625
    assert math.isnan(metrics.groove_consistency(roll[:, :7], steps_per_bar=4))  # one whole bar


# tonal distance

# Tonal centroids by hand (Harte et al. 2006), coordinates (sin, cos) of 7πl/6, of 3πl/2 (radius 1)
# and of 2πl/3 (radius 0.5):
#   C (l=0): (0, 1, 0, 1, 0, 1/2)
#   E (l=4): (√3/2, -1/2, 0, 1, √3/4, -1/4)
#   G (l=7): (1/2, √3/2, 1, 0, √3/4, -1/4)
#   A (l=9): (1, 0, -1, 0, 0, 1/2)
# C major = (C + E + G)/3 = (1/2 + √3/2, 1/2 + √3/2, 1, 2, √3/2, 0) / 3
# A minor = (A + C + E)/3 = (1 + √3/2, 1/2, -1, 2, √3/4, 3/4) / 3
# difference·3 = (-1/2, √3/2, 2, 0, √3/4, -3/4); squared norm 1/4 + 3/4 + 4 + 3/16 + 9/16 = 5.75
# distance = √5.75 / 3 ≈ 0.799305
C_MAJOR_TO_A_MINOR = math.sqrt(5.75) / 3
C_MAJOR_CENTROID = (
    np.array([0.5 + math.sqrt(3) / 2, 0.5 + math.sqrt(3) / 2, 1, 2, math.sqrt(3) / 2, 0]) / 3
)


def test_tonal_centroid_of_a_c_major_triad():
    low = 48  # C3
    track = roll_of(chord(0, [0, 4, 7], 0, 4), steps=8)[0]  # bar 1 silent
    centroids = metrics.tonal_centroids(track, steps_per_bar=4, pitch_low=low)
    np.testing.assert_allclose(centroids[0], C_MAJOR_CENTROID, atol=1e-12)
    assert np.isnan(centroids[1]).all()
    # with pitch_low = A2 the same indices are A C# E, another triad: pitch_low is used
    assert not np.allclose(metrics.tonal_centroids(track, 4, 45)[0], C_MAJOR_CENTROID)


def test_tonal_distance_skips_bars_where_a_track_is_silent():
    # pitch_low = C3; bars of 4 steps.
    # bar 0: C major (C3 E3 G3) against A minor (A3 C4 E4): √5.75/3
    # bar 1: track b silent, skipped; bar 2: C major against C major voiced C4 E4 G4: 0
    # mean over bars 0 and 2 = √5.75/6 ≈ 0.399653
    a = roll_of(chord(0, [0, 4, 7], 0, 12), steps=12)[0]
    b = roll_of(chord(0, [9, 12, 16], 0, 4) + chord(0, [12, 16, 19], 8, 12), steps=12)[0]
    assert metrics.tonal_distance(a, b, 4, 48) == pytest.approx(C_MAJOR_TO_A_MINOR / 2)
    assert metrics.tonal_distance(b, a, 4, 48) == pytest.approx(C_MAJOR_TO_A_MINOR / 2)
    assert metrics.tonal_distance(a[:4], b[:4], 4, 48) == pytest.approx(0.799305, abs=1e-6)
    assert math.isnan(metrics.tonal_distance(a[4:8], b[4:8], 4, 48))
    # three tracks a, b, a: pairs (a, b) and (b, a') ≈ 0.399653, (a, a') = 0 → mean 2/3 of it
    roll = np.stack([a, b, a])
    assert metrics.mean_tonal_distance(roll, 4, 48) == pytest.approx(C_MAJOR_TO_A_MINOR / 3)


# drums


def test_drum_pattern_rate_on_an_eighth_note_grid():
    # steps_per_beat = 4: an eighth note is 2 steps. Onsets at steps 0, 2, 5 (pitch 0), 3 (pitch 1),
    # 4 (pitch 2) and 7 (pitch 3, held to step 9: step 8 is no onset).
    # On the grid: 0, 2, 4 → 3 of 6 = 0.5
    notes = [(0, 0, 0, 1), (0, 0, 2, 3), (0, 0, 5, 6), (0, 1, 3, 4), (0, 2, 4, 5), (0, 3, 7, 9)]
    drums = roll_of(notes, steps=12)[0]
    assert metrics.drum_pattern_rate(drums, steps_per_beat=4) == 0.5
    assert metrics.drum_pattern_rate(drums, steps_per_beat=4, grid=16) == 1.0
    # triplet steps: only the beats (steps 0, 3, 6, ...) lie on a 16th grid → 0 and 3 of 6
    assert metrics.drum_pattern_rate(drums, steps_per_beat=3, grid=16) == pytest.approx(2 / 6)


# the empty-input convention


def test_a_silent_roll_follows_the_documented_convention():
    silent = np.zeros((2, 32, 24), dtype=np.uint8)
    values = metrics.describe(silent, steps_per_beat=4, steps_per_bar=16, pitch_low=C4)
    assert values.pop("empty_bar_rate") == 1.0
    assert values.pop("polyphony_rate") == 0.0
    assert values.pop("notes_per_bar") == 0.0  # two bars exist, and hold no note
    assert all(math.isnan(value) for value in values.values()), values
    np.testing.assert_array_equal(metrics.empty_bar_rate(silent, 16, per_track=True), [1.0, 1.0])
    assert np.isnan(metrics.used_pitch_classes(silent, 16, C4, per_track=True)).all()


def test_a_roll_shorter_than_a_bar_has_no_bar_metrics():
    short = roll_of([(0, 0, 0, 3)], steps=3)
    assert math.isnan(metrics.empty_bar_rate(short, steps_per_bar=4))
    assert math.isnan(metrics.used_pitch_classes(short, 4, C4))
    assert metrics.polyphony(short) == 1.0


def test_bad_shapes_and_settings_are_refused():
    with pytest.raises(ValueError, match="tracks, steps, pitches"):
        metrics.polyphony(np.zeros((16, 24)))
    with pytest.raises(ValueError, match="steps, pitches"):
        metrics.drum_pattern_rate(np.zeros((1, 16, 24)), steps_per_beat=4)
    with pytest.raises(ValueError, match="steps_per_bar"):
        metrics.empty_bar_rate(np.zeros((1, 16, 24)), steps_per_bar=0)
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.tonal_distance(np.zeros((16, 24)), np.zeros((8, 24)), 4, C4)
    with pytest.raises(ValueError, match="drum_tracks"):
        metrics.describe(
            np.zeros((2, 16, 24)), steps_per_beat=4, steps_per_bar=16, pitch_low=C4, drum_tracks=[2]
        )


# inputs and summaries


def test_torch_and_numpy_rolls_give_the_same_numbers():
    roll = np.random.default_rng(0).random((3, 64, 24)) < 0.1
    settings = {"steps_per_beat": 4, "steps_per_bar": 16, "pitch_low": C4}
    expected = metrics.describe(roll.astype(np.uint8), **settings)
    for tensor in (
        torch.from_numpy(roll.astype(np.uint8)),
        torch.from_numpy(roll).float().requires_grad_(),
    ):
        assert metrics.describe(tensor, **settings) == pytest.approx(expected, nan_ok=True)
    assert all(isinstance(value, float) for value in expected.values())


def test_describe_keeps_drum_tracks_out_of_the_pitch_metrics():
    # track 0: a held C major triad over two bars; track 1 (drums): a hit on every 16th
    notes = chord(0, [0, 4, 7], 0, 32) + [(1, 0, step, step + 1) for step in range(0, 32, 2)]
    notes += [(1, 1, step, step + 1) for step in range(1, 32, 2)]
    roll = roll_of(notes, tracks=2, steps=32)
    values = metrics.describe(
        roll, steps_per_beat=4, steps_per_bar=16, pitch_low=C4, drum_tracks=[1]
    )
    assert values["scale_consistency"] == 1.0
    assert values["polyphony"] == 3.0
    assert values["drum_pattern_rate"] == 0.5  # the odd steps are 16ths off the eighth grid
    assert values["groove_consistency"] == 1.0
    assert math.isnan(values["mean_tonal_distance"])  # one pitched track: no pair
    assert math.isnan(
        metrics.describe(roll, steps_per_beat=4, steps_per_bar=16, pitch_low=C4)[
            "drum_pattern_rate"
        ]
    )


@pytest.fixture(scope="module")
def chorale():
    pytest.importorskip("music21")
    from muse_gan.modalities.midi import MidiConfig, PianoRollAdapter
    from muse_gan.modalities.midi.scores import bach_chorales, read_scores

    (path,) = [path for path in bach_chorales() if path.name == "bwv10.7.mxl"]
    adapter = PianoRollAdapter(
        MidiConfig(
            track_mapping="keep", track_names=("Soprano", "Alto", "Tenor", "Bass"), meter="4/4"
        )
    )
    return adapter.roll(read_scores(path)[0]), adapter.steps_per_bar, adapter.settings


def test_a_bach_chorale_gets_sensible_values(chorale):
    roll, steps_per_bar, settings = chorale
    values = metrics.describe(
        roll,
        steps_per_beat=settings.steps_per_beat,
        steps_per_bar=steps_per_bar,
        pitch_low=settings.pitch_low,
    )
    assert values["empty_bar_rate"] < 0.1
    assert 1.5 < values["used_pitch_classes"] < 6
    assert values["qualified_note_rate"] == 1.0  # 16th-note steps: every note qualifies
    assert 3 <= values["polyphony"] <= 4
    assert values["polyphony_rate"] > 0.8
    assert 20 <= values["pitch_range"] <= 48
    assert 2.5 < values["pitch_class_entropy"] < math.log2(12)
    assert values["scale_consistency"] > 0.9
    assert 0.3 < values["groove_consistency"] <= 1
    assert 0 < values["mean_tonal_distance"] < 1.5
    assert math.isnan(values["drum_pattern_rate"])


# distributions


def test_overlap_area_and_kl_divergence_of_samples():
    rng = np.random.default_rng(1)
    sample = rng.normal(0, 1, 500)
    assert distributions.overlap_area(sample, sample) == pytest.approx(1.0, abs=1e-9)
    assert distributions.kl_divergence(sample, sample) == pytest.approx(0.0, abs=1e-9)
    far = rng.normal(100, 1, 500)
    assert distributions.overlap_area(sample, far) < 1e-6
    assert distributions.kl_divergence(sample, far) > 100
    # N(0, 1) against N(1, 1): overlap 2Φ(-1/2) ≈ 0.617 and KL 1/2 nat, blurred a little by the kernels
    a, b = rng.normal(0, 1, 2000), rng.normal(1, 1, 2000)
    assert distributions.overlap_area(a, b) == pytest.approx(0.617, abs=0.04)
    assert distributions.kl_divergence(a, b) == pytest.approx(0.5, abs=0.08)


def test_distributions_of_constant_and_missing_values():
    zeros = np.zeros(20)  # e.g. every piece at empty_bar_rate 0: no spread at all
    assert distributions.overlap_area(zeros, zeros) == pytest.approx(1.0)
    assert distributions.kl_divergence(zeros, zeros) == pytest.approx(0.0, abs=1e-9)
    assert distributions.overlap_area(zeros, np.ones(20)) < 1e-6
    with_nan = np.array([0.1, 0.2, np.nan, 0.3])
    assert distributions.overlap_area(with_nan, [0.1, 0.2, 0.3]) == pytest.approx(1.0)
    assert math.isnan(distributions.overlap_area([np.nan], [0.5]))
    assert math.isnan(distributions.kl_divergence([], [0.5]))


def test_filled_bar_rate_counts_bars_a_line_sounds_through():
    roll = np.zeros((2, 8, 12), dtype=np.uint8)
    roll[0, 0:4, 3] = 1  # bar 1 held through
    roll[0, 4:7, 5] = 1  # bar 2: a rest at its last step
    roll[1, 0:2, 7] = roll[1, 2:4, 8] = (
        1  # the second track fills bar 1 with two notes, rests in bar 2
    )
    assert metrics.filled_bar_rate(roll, steps_per_bar=4) == pytest.approx(2 / 3)
    assert math.isnan(metrics.filled_bar_rate(np.zeros((1, 8, 12)), steps_per_bar=4))
