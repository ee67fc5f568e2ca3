"""Text without training: ABC and plain text files written here and the built-in folk tunes
read into pieces, tokens and a vocabulary; ABC → MIDI; the text metrics (tests/e2e/test_text.py
trains each family on real ABC, saves, reloads and samples it)."""

import math
from collections import Counter

import pytest

from muse_gan.core.store import Piece, load_pieces
from muse_gan.errors import DataError
from muse_gan.modalities.text import TextAdapter, TextConfig
from muse_gan.modalities.text.adapter import music_only, text_of, tune_bytes
from muse_gan.modalities.text.quality import (
    abc_parse_rate,
    bar_lengths,
    headers_complete,
    inner_bars_full,
    js_divergence,
    ngram_js_divergence,
)

SESSION = """X: 7
T: The Kesh
R: jig
M: 6/8
L: 1/8
K: G
% a comment
|:GAG GAB|ABA ABd|edd gdd|edB dBA:|

X: 8
T: Out on the Ocean
M: 6/8
L: 1/8
K: G
|:D|GAB ^c2d|e2f g3:|
"""


def adapter(**settings) -> TextAdapter:
    return TextAdapter(TextConfig(**settings))


def test_abc_files_split_into_tunes_with_only_the_music_headers(tmp_path):
    (tmp_path / "session.abc").write_text(SESSION)
    tunes = adapter().read(tmp_path / "session.abc")
    assert len(tunes) == 2
    assert tunes[0] == "X:1\nM: 6/8\nL: 1/8\nK: G\n|:GAG GAB|ABA ABd|edd gdd|edB dBA:|\n"
    assert "Ocean" not in tunes[1] and "^c2d" in tunes[1]


def test_plain_text_splits_at_blank_lines(tmp_path):
    (tmp_path / "poem.txt").write_text("Roses are red,\nviolets blue.\n\n\nSugar is sweet\n")
    assert adapter().read(tmp_path / "poem.txt") == [
        "Roses are red,\nviolets blue.\n",
        "Sugar is sweet\n",
    ]


def test_abc_tokens_are_notes_durations_bar_lines_and_headers():
    abc = adapter(vocabulary="abc")
    assert abc.tokens("K: G\n|:^c'2 =B,/2 z3/2:|[1 d|]") == [
        "K: G\n",
        "|:",
        "^c'",
        "2",
        " ",
        "=B,",
        "/2",
        " ",
        "z",
        "3/2",
        ":|",
        "[1",
        " ",
        "d",
        "|]",
    ]


@pytest.mark.parametrize("vocabulary", ["char", "abc"])
def test_the_vocabulary_round_trips_and_unknown_tokens_are_marked(vocabulary):
    tunes = [music_only(tune) for tune in SESSION.split("\n\n")]
    pieces = [Piece(f"{number}.abc", adapter().encode(tune)) for number, tune in enumerate(tunes)]
    fitted = adapter(vocabulary=vocabulary).fitted(pieces)
    again = TextAdapter.from_dict(fitted.to_dict())
    assert again.vocabulary == fitted.vocabulary and again.settings == fitted.settings
    for tune in tunes:
        frames = fitted.one_hot(fitted.token_ids(tune))
        assert frames.shape == (1, len(fitted.token_ids(tune)), len(fitted.vocabulary))
        assert fitted.decode(frames) == tune  # the end token stops decoding
    # "~" is not in these tunes
    assert fitted.decode(fitted.one_hot(fitted.token_ids("G~A"))) == "G?A"


def test_binary_invalid_and_empty_files_are_skipped_one_line_each_with_a_count(tmp_path, capsys):
    (tmp_path / "good.abc").write_text(SESSION)
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x00\x00\x00")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "empty.abc").write_text("  \n\n")
    pieces = load_pieces(adapter(), str(tmp_path), quiet=True)
    err = capsys.readouterr().err
    assert len(pieces) == 2
    for name, words in (
        ("binary.txt", "binary"),
        ("latin1.txt", "not UTF-8"),
        ("empty.abc", "empty"),
    ):
        assert sum(name in line and words in line for line in err.splitlines()) == 1
    assert "skipped 3 of 4 files" in err


def test_valid_abc_becomes_music_and_invalid_abc_is_a_clear_error():
    tune = music_only(SESSION.split("\n\n")[0])
    assert tune_bytes(tune, ".mid").startswith(b"MThd")
    assert tune_bytes(tune, ".wav").startswith(b"RIFF")
    assert tune_bytes(tune, ".png").startswith(b"\x89PNG")
    with pytest.raises(DataError, match="no notes|not valid ABC"):
        tune_bytes("X:1\nK:G\n|||\n", ".mid")


def test_the_built_in_folk_tunes_parse():
    folk = adapter(vocabulary="abc")
    pieces = load_pieces(folk, "folk", limit=3, quiet=True)
    texts = [text_of(piece.tensor) for piece in pieces[::50][:10]]
    assert len(pieces) > 100 and all(text.startswith("X:1\n") for text in texts)
    assert abc_parse_rate(texts) >= 0.9


def test_js_divergence_and_ngrams_by_hand():
    assert js_divergence(Counter("aabb"), Counter("aabb")) == 0.0
    assert js_divergence(Counter("aa"), Counter("bb")) == pytest.approx(1.0)  # no overlap: 1 bit
    # p = (3/4, 1/4), q = (1/4, 3/4), their middle (1/2, 1/2); both halves of JS are equal:
    expected = 0.5 * (0.75 * math.log2(0.75 / 0.5) + 0.25 * math.log2(0.25 / 0.5)) * 2
    assert js_divergence(Counter("aaab"), Counter("abbb")) == pytest.approx(expected)
    assert ngram_js_divergence(["abab"], ["abab"]) == {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
    assert math.isnan(js_divergence(Counter(), Counter("a")))


def test_a_tune_without_a_unit_length_takes_the_abc_standards_default():
    from muse_gan.modalities.midi.scores import abc_to_midi

    eighths = abc_to_midi("X:1\nM:6/8\nK:G\nGAB c2d|\n", default_tempo=120)  # no L: under 6/8: 1/8
    sixteenths = abc_to_midi("X:1\nM:2/4\nK:G\nGAB c2d|\n", default_tempo=120)  # under 2/4: 1/16
    first = eighths.instruments[0].notes[0]
    assert first.end - first.start == pytest.approx(0.25)  # an eighth at 120 quarter notes a minute
    note = sixteenths.instruments[0].notes[0]
    assert note.end - note.start == pytest.approx(0.125)


def test_bar_lengths_by_hand():
    # 4/4 in eighths: a pickup of 4; a bar one eighth short; one over by a half; chords, a
    # triplet, broken rhythm, grace notes, quoted text and decorations; endings and an empty
    # stretch between a line's "|" and the next line's "|:"; a line break after a full bar
    tune = (
        "X:1\nT:Test\nM:C\nL:1/8\nK:G\n"
        'CDEF|GAB2 c2d|cdefgabc2|[CEG]8|(3ABc d>e "Am"f2 !trill!G2|\n'
        "|:[C2E2]2 {g}A/B/c d3/2d/|1 A8 :|2 B8||\nz8\nG8|]\n"
    )
    bars, meter = bar_lengths(tune)
    eighths = [bar * 8 for bar in bars]
    assert meter == 1 and eighths == [4, 7, 9, 8, 8, 8, 8, 8, 8, 8]
    assert inner_bars_full([tune]) == pytest.approx(6 / 8)
    assert bar_lengths("X:1\nM:none\nK:C\nCDEF|\n") == ([], None)
    # no L: under 2/4 means sixteenths; (3 is three in the time of two
    assert [bar * 16 for bar in bar_lengths("X:1\nM:2/4\nK:G\nA8|(3ABc A2B2c2|B8|\n")[0]] == [
        8,
        8,
        8,
    ]


def test_headers_complete_asks_for_x_m_l_and_k_last():
    assert headers_complete(["X:1\nM:6/8\nL:1/8\nK:G\nGAG|\n", "X:1\nM:C|\nL:1/8\nK:D\nA|\n"]) == 1
    for tune in (
        "X:1\nM:6/8\nK:G\nGAG|\n",  # no L:
        "X:1\nM:6/8\nL:1/8\nGAG|\n",  # no K:
        "X:1\nK:G\nM:6/8\nL:1/8\nGAG|\n",  # K: not last
        "X:1\nM:none\nL:1/8\nK:G\nGAG|\n",  # no meter
    ):
        assert headers_complete([tune]) == 0, tune
