"""The ABC grammar that folk tunes are drawn through (modalities/text/grammar.py): real tunes
pass it token by token, and the bundled folk-rnn's tunes drawn through it have every header,
bars that fill the meter and no malformed tie or broken rhythm, whatever the length asked."""

import pytest
import torch

import muse_gan
from muse_gan.modalities.text.quality import abc_parse_rate, bar_lengths, headers_complete

pytestmark = pytest.mark.usefixtures("one_thread")

# written as in O'Neill's: repeats, broken rhythm, a triplet, a tie over a bar line, a
# staccato note, and a pickup with a last bar that makes it up
REELS = [
    "X:1\nM: 4/4\nL: 1/8\nK: D\n|:d2 fd A>Bcd | e2 ce A4-|A2 FA (3BcB AF | D8 :|\n|:A8::B8:|\n",
    "X:1\nM: 6/8\nL: 1/8\nK: G\nD | GAG GAB | ABA ABd | edd gdd | .edB dBA | GAG GA |]\n",
]


@pytest.fixture(scope="module")
def folk_rnn():
    return muse_gan.load("folk-rnn")


def grammar_for(model, count: int, steps: int):
    adapter = model.adapter
    return adapter.token_grammar(adapter.primer_frames(adapter.start, steps), count, steps)


@pytest.mark.parametrize("tune", REELS)
def test_real_tunes_pass_the_grammar_token_by_token(folk_rnn, tune):
    ids = folk_rnn.adapter.token_ids(tune)  # the end token included
    grammar = grammar_for(folk_rnn, 1, 512)
    for position, token in enumerate(ids[4:].tolist(), 4):  # after "X:1\n"
        assert grammar.allowed()[0, token], (position, folk_rnn.adapter.vocabulary[token])
        grammar.advance(torch.tensor([token]))


def test_a_bar_line_waits_for_a_full_bar_and_a_note_that_would_overflow_it_is_closed(folk_rnn):
    vocabulary, ids = folk_rnn.adapter.vocabulary, folk_rnn.adapter.ids
    grammar = grammar_for(folk_rnn, 1, 512)
    for token in folk_rnn.adapter.tokens("M: 6/8\nL: 1/8\nK: G\nD | GAG GA"):
        grammar.advance(torch.tensor([ids[token]]))
    open_now = {vocabulary[number] for number in grammar.allowed()[0].nonzero().flatten()}
    assert "|" not in open_now and "-" in open_now  # 5 of 6 eighths: not full yet
    assert {"3", "4"}.isdisjoint(open_now) and {"2", "/2"} <= open_now  # "A" may fill it, no more
    for token in ("B", "|"):
        grammar.advance(torch.tensor([ids[token]]))
    open_now = {vocabulary[number] for number in grammar.allowed()[0].nonzero().flatten()}
    assert "<end>" not in open_now  # two bars: too short to end
    assert "|:" not in open_now  # a tune with a pickup repeats nothing


def test_the_bundled_model_writes_whole_headers_and_bars_that_fill_the_meter(folk_rnn):
    tunes = folk_rnn.sample(4, seed=5, length=150)
    assert headers_complete(tunes) == 1.0 and abc_parse_rate(tunes) == 1.0
    for tune in tunes:
        bars, meter = bar_lengths(tune)
        assert len(bars) >= 3 and all(bar == meter for bar in bars[1:-1]), tune
        assert bars[-1] == meter or bars[0] + bars[-1] == meter  # the last one ends the pickup's
        assert tune.rstrip().endswith(("|", "|]", ":|", "||")), tune


def test_tunes_cut_short_by_the_length_are_closed_with_whole_bars(folk_rnn):
    for tune in folk_rnn.sample(4, seed=1, length=40):
        bars, meter = bar_lengths(tune)
        assert tune.rstrip().endswith(("|]", ":|", "|")) and tune.count("|:") <= tune.count(":|")
        assert all(bar == meter for bar in bars[1:-1]), tune


def test_the_grammar_keeps_a_seed_to_one_output_and_can_be_left_out(folk_rnn):
    first, again = (folk_rnn.sample(2, seed=3, length=50) for _ in range(2))
    assert list(first) == list(again)
    free = folk_rnn.sample(2, seed=3, length=50, grammar=False)
    assert list(free) != list(first)


def test_a_primer_is_carried_on_and_a_primer_without_the_start_is_left_to_the_model(folk_rnn):
    primer = "X:1\nM: 6/8\nL: 1/8\nK: G\n|:GAG"
    tune = folk_rnn.sample(1, seed=4, length=120, primer=primer)[0]
    bars, meter = bar_lengths(tune)
    assert tune.startswith(primer) and meter == 0.75 and all(bar == meter for bar in bars[1:-1])
    frames = folk_rnn.adapter.primer_frames("GAB", 20)
    assert folk_rnn.adapter.token_grammar(frames, 1, 20) is None
