"""Draw a multi-track piano roll as a PNG, with PIL only.

This sits on the fast ``muse compose -o song.png`` path, so it stays clear of matplotlib.
A roll is indexed (tracks, steps, pitches), as everywhere in muse_gan: a step is one time
cell of the grid and pitch index 0 is MIDI pitch ``pitch_low``.

Picture layout: one horizontal lane per track, top to bottom in track order; time runs left
to right, higher pitches higher up. Each lane shows only the pitch rows its track uses (plus
a margin), so four sparse chorale voices over a wide pitch range stay readable.
"""

import numpy as np

STEP_PX = 4  # width of one step, for pieces short enough to fit MAX_WIDTH_PX
MAX_WIDTH_PX = 4000  # longer pieces get narrower steps, down to 1 px per step
ROW_PX = 3  # height of one pitch row
BAND_MARGIN = 2  # semitones shown beyond a track's lowest and highest note
EMPTY_BAND = 12  # rows shown for a silent track: one octave around the middle of the range
GAP_PX = 3  # separator between lanes
LABEL_PAD_PX = 4

BACKGROUND = (255, 255, 255)
C_LINE = (222, 222, 222)
BAR_LINE = (160, 160, 160)
SEPARATOR = (120, 120, 120)
LABEL_BACKGROUND = (245, 245, 245)
# Dark enough to read as text on white, distinct from each other; cycled past eight tracks.
TRACK_COLOURS = (
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
    (255, 127, 14),
    (140, 86, 75),
    (227, 119, 194),
    (23, 150, 170),
)


def write_pianoroll_png(
    roll, file, *, pitch_low: int, steps_per_bar: int, track_names: list[str] | None = None
) -> None:
    """Write ``roll`` as a PNG piano roll to ``file`` (a path or a binary file object).

    ``roll`` is array-like (numpy array, torch tensor, nested lists) of shape
    (tracks, steps, pitches); a cell counts as a sounding note when its value is >= 0.5,
    so bool, 0/1 and probability rolls all work. Axis 2 index 0 is MIDI pitch ``pitch_low``.
    A vertical line marks the start of every bar of ``steps_per_bar`` steps, a faint
    horizontal line marks the bottom of every C row, and ``track_names`` (one per track)
    label the lanes on the left. The same roll always gives the same bytes.

    Example: four chorale voices over 4 bars of sixteenth-note steps::

        write_pianoroll_png(roll, "chorale.png", pitch_low=36, steps_per_bar=16,
                            track_names=["soprano", "alto", "tenor", "bass"])
    """
    notes = _as_note_array(roll)
    _check_roll(notes, steps_per_bar, track_names)
    step_px = _step_width(notes.shape[1])
    lanes = [
        _draw_lane(track, TRACK_COLOURS[i % len(TRACK_COLOURS)], pitch_low, steps_per_bar, step_px)
        for i, track in enumerate(notes)
    ]
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    label_width = _label_width(track_names, font)
    canvas, lane_tops = _stack_lanes(lanes, label_width)
    image = Image.fromarray(canvas)
    if track_names:
        _draw_labels(ImageDraw.Draw(image), font, track_names, lanes, lane_tops)
    # PIL writes no time or software chunks unless asked, which keeps the bytes reproducible.
    image.save(file, format="PNG")


def _as_note_array(roll) -> np.ndarray:
    """Return ``roll`` as a numpy bool array, True where a note sounds."""
    if hasattr(roll, "detach"):  # a torch tensor, maybe on the GPU, maybe bfloat16
        roll = roll.detach().cpu().float()
    return np.asarray(roll) >= 0.5


def _check_roll(notes: np.ndarray, steps_per_bar: int, track_names) -> None:
    if notes.ndim != 3:
        raise ValueError(
            f"piano roll must be 3-D (tracks, steps, pitches), got shape {notes.shape}"
        )
    if min(notes.shape) == 0:
        raise ValueError(
            f"piano roll needs at least one track, step and pitch, got shape {notes.shape}"
        )
    if steps_per_bar < 1:
        raise ValueError(f"steps_per_bar must be at least 1, got {steps_per_bar}")
    if track_names is not None and len(track_names) != notes.shape[0]:
        raise ValueError(f"got {len(track_names)} track names for {notes.shape[0]} tracks")


def _step_width(steps: int) -> int:
    """Pixels per step: STEP_PX, narrower for long pieces, never under 1."""
    return max(1, min(STEP_PX, MAX_WIDTH_PX // steps))


def _pitch_band(track: np.ndarray) -> tuple[int, int]:
    """Lowest and highest pitch index (inclusive) to show for one (steps, pitches) track."""
    pitches = track.shape[1]
    used = np.flatnonzero(track.any(axis=0))
    if used.size:
        low, high = int(used[0]) - BAND_MARGIN, int(used[-1]) + BAND_MARGIN
    else:
        low = pitches // 2 - EMPTY_BAND // 2
        high = low + EMPTY_BAND - 1
    # Slide a band that sticks out of the range back inside instead of cutting it,
    # so a track at the edge of the range keeps a lane tall enough for its label.
    if low < 0:
        low, high = 0, high - low
    if high > pitches - 1:
        low, high = max(0, low - (high - pitches + 1)), pitches - 1
    return low, high


def _draw_lane(
    track: np.ndarray, colour, pitch_low: int, steps_per_bar: int, step_px: int
) -> np.ndarray:
    """Draw one (steps, pitches) track as an RGB array (rows * ROW_PX, steps * step_px, 3)."""
    low, high = _pitch_band(track)
    rows = track[:, low : high + 1].T[::-1]  # (rows, steps), highest pitch in row 0
    lane = np.empty((rows.shape[0] * ROW_PX, rows.shape[1] * step_px, 3), dtype=np.uint8)
    lane[:] = BACKGROUND
    for pitch in range(low, high + 1):
        if (pitch_low + pitch) % 12 == 0:
            lane[(high - pitch + 1) * ROW_PX - 1] = C_LINE
    lane[:, :: steps_per_bar * step_px] = BAR_LINE
    lane[np.repeat(np.repeat(rows, ROW_PX, axis=0), step_px, axis=1)] = colour
    return lane


def _label_width(track_names, font) -> int:
    if not track_names:
        return 0
    return int(max(font.getlength(name) for name in track_names)) + 2 * LABEL_PAD_PX


def _stack_lanes(lanes: list[np.ndarray], label_width: int) -> tuple[np.ndarray, list[int]]:
    """Stack lanes top to bottom with separators, after a label column; return canvas and lane tops."""
    height = sum(lane.shape[0] for lane in lanes) + GAP_PX * (len(lanes) - 1)
    canvas = np.empty((height, label_width + lanes[0].shape[1], 3), dtype=np.uint8)
    canvas[:] = SEPARATOR
    tops, top = [], 0
    for lane in lanes:
        canvas[top : top + lane.shape[0], :label_width] = LABEL_BACKGROUND
        canvas[top : top + lane.shape[0], label_width:] = lane
        tops.append(top)
        top += lane.shape[0] + GAP_PX
    return canvas, tops


def _draw_labels(draw, font, track_names, lanes, lane_tops) -> None:
    for i, (name, lane, top) in enumerate(zip(track_names, lanes, lane_tops)):
        # Centre by the ink's bounding box: text anchors need FreeType, which PIL may lack.
        _, ink_top, _, ink_bottom = font.getbbox(name)
        y = top + (lane.shape[0] - (ink_bottom - ink_top)) // 2 - ink_top
        draw.text((LABEL_PAD_PX, y), name, fill=TRACK_COLOURS[i % len(TRACK_COLOURS)], font=font)
