"""Where a training window lies in its piece (``core.samplers.window_spans``): an RNN told which
bar of the piece each step is in (``model.bar_numbers``) reads a window cut from the middle of a
piece as that part of the piece, not as its opening, and no RNN scores the padding past a short
piece's end."""

import pytest
import torch

from muse_gan.assembly import build_adapter, build_objective, check_config, load_config
from muse_gan.core.samplers import window_spans
from muse_gan.errors import ConfigError
from muse_gan.models.rnn import FrameRNN

from ..conftest import CHORALE_TRACKS

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS_PER_BAR, CYCLE = 4, 3


def network(cell="lstm", bar_numbers=CYCLE, positions=0) -> FrameRNN:
    torch.manual_seed(0)
    return FrameRNN(
        6, STEPS_PER_BAR, cell, 16, 2, 0.0, positions=positions, bar_numbers=bar_numbers
    ).eval()


def frames(count=2, bars=8) -> torch.Tensor:
    torch.manual_seed(1)
    return (torch.rand(count, bars * STEPS_PER_BAR, 6) > 0.6).float()


@pytest.mark.parametrize("cell", ["lstm", "transformer"])
@pytest.mark.parametrize("periods", [None, torch.tensor([4, 6])])
def test_a_piece_read_step_by_step_reads_as_it_does_whole(cell, periods):
    # 8 bars: the first three numbered, the later ones in the cycle of three
    model, notes = network(cell, positions=6), frames()
    whole, _ = model(notes, periods=periods)
    context, state = model.begin(2, periods=periods)
    contexts = [context]
    for step in range(1, notes.shape[1]):
        context, state = model.advance(notes[:, step - 1], step, state, periods=periods)
        contexts.append(context)
    assert torch.allclose(torch.stack(contexts, 1), whole, atol=1e-5)


def test_the_first_bars_are_numbered_and_later_bars_cycle():
    model = network()
    in_bar = torch.arange(STEPS_PER_BAR)

    def bar(number):
        return model._placed(number * STEPS_PER_BAR + in_bar, None)

    # the cycle of 3 after the first 3: bars 3, 6 and 9 alike, 4 and 7 alike
    assert torch.equal(bar(3), bar(6)) and torch.equal(bar(6), bar(9))
    assert torch.equal(bar(4), bar(7))
    # the opening bar is none of them, nor are the first bars one another
    openings = [bar(0), bar(1), bar(2)]
    for later in (bar(3), bar(4), bar(5)):
        assert not any(torch.equal(later, opening) for opening in openings)
    assert not torch.equal(bar(0), bar(1))


def test_a_window_is_read_where_it_starts_in_its_piece():
    model, notes = network(), frames(count=1)
    window = notes[:, 2 * STEPS_PER_BAR : 4 * STEPS_PER_BAR]
    opening, _ = model(window)
    told, _ = model(window, first_step=torch.tensor([2 * STEPS_PER_BAR]))
    assert not torch.allclose(opening, told)  # bar 2 of the piece is not its opening
    # each window of a batch at its own start: as if read alone
    both, _ = model(torch.cat([window, window]), first_step=torch.tensor([0, 2 * STEPS_PER_BAR]))
    assert torch.allclose(both[0], opening[0], atol=1e-6)
    assert torch.allclose(both[1], told[0], atol=1e-6)


def test_without_bar_numbers_a_window_on_a_bar_line_reads_the_same_anywhere():
    model, notes = network(bar_numbers=0), frames(count=1)
    window = notes[:, : 2 * STEPS_PER_BAR]
    opening, _ = model(window)
    later, _ = model(window, first_step=torch.tensor([5 * STEPS_PER_BAR]))
    assert torch.allclose(opening, later, atol=1e-6)
    assert model.bar is None


def test_bar_numbers_belong_to_the_rnn_family():
    with pytest.raises(ConfigError, match="model.bar_numbers: tells an RNN where its bars fall"):
        check_config(load_config(None, ["model.family=gan", "model.bar_numbers=8"]))
    with pytest.raises(ConfigError, match="model.bar_numbers: -1 must be from 0 to"):
        check_config(load_config(None, ["model.bar_numbers=-1"]))
    check_config(load_config(None, ["model.bar_numbers=8"]))
    # only MIDI's windows start on bars and say where they lie
    with pytest.raises(ConfigError, match="model.bar_numbers: text data has no bars to number"):
        check_config(load_config(None, ['data.modality="text"', "model.bar_numbers=8"]))


# the padding past a short piece's end


def test_spans_say_how_much_of_each_window_its_piece_fills():
    # windows at steps 0 and 16 of a 64-step piece, and at 0 of an 8-step one
    starts = torch.tensor([[0, 0], [0, 16], [1, 0]])
    spans = window_spans(starts, torch.tensor([64, 8]), window=32)
    assert spans.tolist() == [[0, 32], [16, 32], [0, 8]]


def rnn(*overrides):
    config = load_config(
        None,
        CHORALE_TRACKS
        + ["midi.window_bars=2", "midi.pitch_low=60", "midi.pitch_high=71", "model.hidden=16"]
        + ["model.head_hidden=16", "model.layers=1", *overrides],
    )
    torch.manual_seed(0)
    return build_objective(build_adapter(config), config).eval()


def test_the_padding_past_a_short_pieces_end_is_not_scored():
    model = rnn()
    torch.manual_seed(2)
    batch = (torch.rand(2, 4, 32, model.spec.width) > 0.8).float()
    spans = torch.tensor([[0, 32], [0, 16]])  # the second piece ends after one bar
    loss = model.evaluate(batch, None, spans)["loss"]
    with torch.no_grad():
        nll = model.frame_nll(batch)
    # the mean of each window's own mean: a batch split over processes adds up the same
    each = [float(nll[0].mean()), float(nll[1, :16].mean())]
    assert loss == pytest.approx(sum(each) / 2, rel=1e-5)
    halves = [model.evaluate(batch[i : i + 1], None, spans[i : i + 1])["loss"] for i in (0, 1)]
    assert loss == pytest.approx(sum(halves) / 2, rel=1e-5)
    # whatever the padding holds, the loss is the same; without spans it is scored
    other = batch.clone()
    other[1, :, 16:] = 1 - other[1, :, 16:]
    assert model.evaluate(other, None, spans)["loss"] == pytest.approx(loss, rel=1e-6)
    assert model.evaluate(other)["loss"] != pytest.approx(model.evaluate(batch)["loss"])


def test_a_training_window_is_read_at_its_bar_of_the_piece():
    model = rnn("model.bar_numbers=4")
    torch.manual_seed(2)
    batch = (torch.rand(1, 4, 32, model.spec.width) > 0.8).float()
    opening = model.evaluate(batch, None, torch.tensor([[0, 32]]))["loss"]
    third_bar = model.evaluate(batch, None, torch.tensor([[32, 32]]))["loss"]
    assert opening != pytest.approx(third_bar)
    assert model.evaluate(batch)["loss"] == pytest.approx(opening, rel=1e-6)  # None: its start
