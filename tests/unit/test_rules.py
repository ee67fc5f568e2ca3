"""Cell rules kept while drawing: real (untrained) pitchwise, voicewise and Bernoulli heads
drawing frame by frame through a gate, and scores decoded at once, on small made-up grids and
many seeds."""

import pytest
import torch

from muse_gan.core.rules import NO_LIMIT, CellRules, decode_scores
from muse_gan.models.heads import BernoulliHead, PitchwiseHead, VoicewiseHead

CHANNELS, STEPS, WIDTH, PERIOD = 2, 16, 6, 8
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny ops: threads only wait on each other


def made_up_rules(seed: int) -> CellRules:
    generator = torch.Generator().manual_seed(seed)
    allowed = torch.rand(CHANNELS, STEPS, WIDTH, generator=generator) < 0.6
    return CellRules(
        allowed=allowed,
        most=torch.tensor([1, 0]),
        starts=torch.tensor([[3, 5], [NO_LIMIT, NO_LIMIT]]),
        period=PERIOD,
        counted=WIDTH,
    )


def starts_per_period(cells: torch.Tensor) -> torch.Tensor:
    """``(channels, periods)`` cells starting per period of cells ``(channels, steps, width)``."""
    before = torch.cat([torch.zeros_like(cells[:, :1]), cells[:, :-1]], dim=1)
    return (cells & ~before).sum(2).view(CHANNELS, -1, PERIOD).sum(2)


def assert_kept(cells: torch.Tensor, rules: CellRules):
    assert not (cells & ~rules.allowed).any()
    assert cells[0].sum(1).max() <= 1
    assert starts_per_period(cells)[0].tolist() == [3, 5]


def drawn(head, rules: CellRules, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    gate = rules.gate(torch.zeros(0, CHANNELS * WIDTH))
    frames = []
    for _ in range(STEPS):
        context = torch.randn(1, 8, generator=generator)
        frame = head.sample_gated(context, 1.0, generator, gate)
        gate.advance(frame[0])
        frames.append(frame[0])
    return torch.stack(frames).view(STEPS, CHANNELS, WIDTH).transpose(0, 1) > 0.5


def made_head(head_class):
    torch.manual_seed(0)
    if head_class is VoicewiseHead:
        return VoicewiseHead(8, CHANNELS * WIDTH, 16, voices=CHANNELS)
    return head_class(8, CHANNELS * WIDTH, 16)


@pytest.mark.parametrize("head_class", [PitchwiseHead, VoicewiseHead, BernoulliHead])
def test_a_head_drawing_through_a_gate_keeps_every_rule(head_class):
    head = made_head(head_class)
    if head_class is not BernoulliHead:  # a trained head stops after a few notes, not twelve
        head.out[-1].bias.data[head.stop] = 3.0
    for seed in range(4):
        rules = made_up_rules(seed)
        assert_kept(drawn(head, rules, seed), rules)


def test_a_note_owed_in_a_later_voice_leaves_the_voices_before_it_free_to_rest():
    """The voicewise head may end a voice while the gate owes a note in a later one: the owed
    notes sound there, and a voice before it that would rest, rests."""
    head = made_head(VoicewiseHead)
    head.out[-1].bias.data[head.stop] = 20.0  # untrained, every voice would rest
    for seed in range(4):
        rules = made_up_rules(seed)
        allowed = rules.allowed.clone()
        allowed[1] = True  # the second voice owes its notes, and always has cells to start
        rules = CellRules(allowed, rules.most.flip(0), rules.starts.flip(0), PERIOD, WIDTH)
        cells = drawn(head, rules, seed)
        assert not cells[0].any()
        assert starts_per_period(cells)[1].tolist() == [3, 5]


def test_a_gate_after_a_primer_counts_the_primers_starts_in_its_period():
    rules = made_up_rules(0)
    primer = torch.zeros(3, CHANNELS * WIDTH)
    primer[1, rules.allowed[0, 1].nonzero()[0]] = 1  # one note started in period 0
    gate = rules.gate(primer)
    assert gate.step == 3
    assert gate.started.tolist() == [1, 0]


def test_decoded_scores_keep_every_rule_and_otherwise_threshold_at_zero():
    for seed in range(8):
        rules = made_up_rules(seed)
        generator = torch.Generator().manual_seed(seed)
        scores = torch.randn(1, CHANNELS, STEPS, WIDTH, generator=generator)
        cells = decode_scores(scores, rules)[0] > 0.5
        assert_kept(cells, rules)
        free = cells[1]  # no limits but the allowed cells: the plain threshold
        assert torch.equal(free, (scores[0, 1] > 0) & rules.allowed[1])


def test_a_voice_with_too_many_starts_holds_a_note_through_the_shortest_after_it():
    # one voice, one bar of 8 steps, at most one note at a step, one start asked for. Pitch 0
    # scores 2 over steps 0-3 and 6-7, pitch 1 at steps 4-5: every threshold gives three starts
    # or none. Held through the two-step note, pitch 0 sounds throughout: one start
    scores = torch.full((1, 1, 8, 2), -5.0)
    scores[0, 0, [0, 1, 2, 3, 6, 7], 0] = 2.0
    scores[0, 0, [4, 5], 1] = 2.0
    rules = CellRules(
        torch.ones(1, 8, 2, dtype=torch.bool), torch.tensor([1]), torch.tensor([[1]]), 8, 2
    )
    roll = decode_scores(scores, rules)[0, 0]
    assert roll[:, 0].tolist() == [1.0] * 8 and roll[:, 1].sum() == 0
    closed = rules.allowed.clone()
    closed[0, 4:6, 0] = False  # where pitch 0 may not sound, it is not held through
    roll = decode_scores(scores, CellRules(closed, rules.most, rules.starts, 8, 2))[0, 0]
    assert roll[4:6, 0].sum() == 0
