"""Tests for muse_gan.modalities.midi.png: layout, colours, determinism and input checks."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from muse_gan.modalities.midi import png as pianoroll_png
from muse_gan.modalities.midi.png import (
    BACKGROUND,
    BAND_MARGIN,
    EMPTY_BAND,
    GAP_PX,
    MAX_WIDTH_PX,
    ROW_PX,
    STEP_PX,
    TRACK_COLOURS,
    write_pianoroll_png,
)

PITCH_LOW = 36
STEPS_PER_BAR = 16


def one_note_roll(tracks=2, steps=32, pitches=49, pitch=20):
    """Every track holds pitch index ``pitch`` for steps 4..7."""
    roll = np.zeros((tracks, steps, pitches), dtype=bool)
    roll[:, 4:8, pitch] = True
    return roll


def render(roll, **kwargs) -> Image.Image:
    buffer = io.BytesIO()
    write_pianoroll_png(roll, buffer, pitch_low=PITCH_LOW, steps_per_bar=STEPS_PER_BAR, **kwargs)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def test_size_follows_step_width_and_pitch_bands():
    image = render(one_note_roll(tracks=2, steps=32))
    lane_height = (2 * BAND_MARGIN + 1) * ROW_PX  # one pitch plus a margin each side
    assert image.size == (32 * STEP_PX, 2 * lane_height + GAP_PX)


def test_long_pieces_are_squeezed_but_keep_one_pixel_per_step():
    assert render(one_note_roll(steps=2000)).width == 2000 * (MAX_WIDTH_PX // 2000)
    assert render(one_note_roll(steps=MAX_WIDTH_PX * 2)).width == MAX_WIDTH_PX * 2


def test_each_lane_shows_its_note_in_its_track_colour():
    image = render(one_note_roll(tracks=3))
    lane_height = (2 * BAND_MARGIN + 1) * ROW_PX
    x = 5 * STEP_PX + 1  # inside step 5, away from bar lines
    for track in range(3):
        note_row_y = track * (lane_height + GAP_PX) + BAND_MARGIN * ROW_PX + 1
        assert image.getpixel((x, note_row_y)) == TRACK_COLOURS[track]
        assert image.getpixel((x + 4 * STEP_PX, note_row_y)) == BACKGROUND  # after the note


def test_higher_pitches_are_drawn_higher():
    roll = np.zeros((1, 16, 24), dtype=bool)
    roll[0, 0:4, 10] = True  # low note first
    roll[0, 8:12, 14] = True  # high note later
    pixels = np.asarray(render(roll))

    def note_rows(step):
        return np.flatnonzero((pixels[:, step * STEP_PX + 1] == TRACK_COLOURS[0]).all(axis=1))

    assert note_rows(9).max() < note_rows(1).min()


def test_empty_track_gets_an_octave_lane():
    roll = one_note_roll(tracks=2)
    roll[1] = False
    note_lane = (2 * BAND_MARGIN + 1) * ROW_PX
    assert render(roll).height == note_lane + GAP_PX + EMPTY_BAND * ROW_PX


def test_band_slides_inside_the_range_at_its_edges():
    assert pianoroll_png._pitch_band(one_note_roll(pitch=0)[0]) == (0, 2 * BAND_MARGIN)
    assert pianoroll_png._pitch_band(one_note_roll(pitch=48)[0]) == (48 - 2 * BAND_MARGIN, 48)


def test_same_roll_gives_same_bytes(tmp_path):
    roll = np.random.default_rng(0).random((4, 64, 49)) > 0.9
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path in paths:
        write_pianoroll_png(
            roll,
            path,
            pitch_low=PITCH_LOW,
            steps_per_bar=STEPS_PER_BAR,
            track_names=["soprano", "alto", "tenor", "bass"],
        )
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_track_names_add_a_label_column():
    roll = one_note_roll(tracks=2)
    assert render(roll, track_names=["soprano", "bass"]).width > render(roll).width


def test_torch_probabilities_and_numpy_bools_draw_the_same():
    roll = one_note_roll()
    probabilities = torch.from_numpy(roll).float() * 0.8 + 0.1  # on: 0.9, off: 0.1
    assert np.array_equal(np.asarray(render(probabilities)), np.asarray(render(roll)))


@pytest.mark.parametrize("shape", [(32, 49), (2, 0, 49), (0, 32, 49)])
def test_rejects_rolls_without_tracks_steps_and_pitches(shape):
    with pytest.raises(ValueError, match="piano roll"):
        render(np.zeros(shape))


def test_rejects_wrong_number_of_track_names():
    with pytest.raises(ValueError, match="track names"):
        render(one_note_roll(tracks=2), track_names=["solo"])
