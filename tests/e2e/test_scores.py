"""Scores that take seconds to read: a long ABC tune (the unit tier's test_scores.py has the rest)."""

import time

from muse_gan.modalities.midi.scores import read_scores


def test_a_long_tune_reads_quickly_without_beaming(tmp_path):
    path = tmp_path / "long.abc"
    # with music21's beaming: 7 s
    path.write_text("X:1\nM:4/4\nL:1/8\nK:G\n" + "GABc dedB|" * 512 + "\n")
    started = time.monotonic()
    (piece,) = read_scores(path)
    assert len(piece.instruments[0].notes) == 8 * 512
    assert time.monotonic() - started < 5
