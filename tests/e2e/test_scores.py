"""Scores that take seconds to read: a long ABC tune (the unit tier's test_scores.py has the rest)."""

from muse_gan.modalities.midi.scores import read_scores


def test_a_long_tune_reads_without_music21s_beaming(tmp_path, monkeypatch):
    """music21 beams every ABC tune it reads, in time quadratic in its bars (this tune: 7 s
    with beaming, 2.5 s without on a busy machine). Whether beaming ran is checked, not the
    time taken: a wall-clock bound moves with the machine and whatever else it runs."""
    from music21 import stream

    beamed = []
    beam = stream.Stream.makeBeams

    def counted(self, *arguments, **options):
        beamed.append(self)
        return beam(self, *arguments, **options)

    monkeypatch.setattr(stream.Stream, "makeBeams", counted)
    path = tmp_path / "long.abc"
    path.write_text("X:1\nM:4/4\nL:1/8\nK:G\n" + "GABc dedB|" * 512 + "\n")
    (piece,) = read_scores(path)
    assert len(piece.instruments[0].notes) == 8 * 512
    assert not beamed
