"""Tests for muse_gan.models.heads: exact normalisation, sampling, temperature."""

import copy
import itertools
import math

import pytest
import torch

from muse_gan.errors import ConfigError
from muse_gan.models.heads import (
    BernoulliHead,
    PitchwiseHead,
    SoftmaxHead,
    VoicewiseHead,
    build_head,
)

FRAME, CONTEXT, HIDDEN = 5, 7, 16
ALL_FRAMES = torch.tensor(list(itertools.product([0.0, 1.0], repeat=FRAME)))  # (32, 5)


def head(kind, seed=0):
    torch.manual_seed(seed)
    return kind(CONTEXT, FRAME, HIDDEN).eval()


def contexts(count, seed=1, scale=2.0):
    return torch.randn(count, CONTEXT, generator=torch.Generator().manual_seed(seed)) * scale


def set_logits(model, logits):
    """Makes the head's logits ``logits`` whatever the context: the last layer keeps only its bias."""
    last = model.out[-1] if isinstance(model.out, torch.nn.Sequential) else model.out
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(logits))


@pytest.mark.parametrize("kind", [PitchwiseHead, BernoulliHead])
def test_probabilities_of_all_frames_sum_to_one(kind):
    model = head(kind)
    for context in contexts(4):
        with torch.no_grad():
            nll = model.nll(context.expand(len(ALL_FRAMES), CONTEXT), ALL_FRAMES)
        assert nll.shape == (32,)
        assert (nll > 0).all()
        assert nll.double().neg().exp().sum().item() == pytest.approx(1.0, abs=1e-5)


def test_bernoulli_nll_by_hand():
    model = head(BernoulliHead)
    set_logits(model, [0.0, math.log(3), -math.log(3), 0.0, 0.0])
    # p(on) = 1/2, 3/4, 1/4, 1/2, 1/2; frame 0 1 1 0 1 → 1/2 * 3/4 * 1/4 * 1/2 * 1/2
    with torch.no_grad():
        nll = model.nll(contexts(1), torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0]]))
    assert nll.item() == pytest.approx(-math.log(0.5 * 0.75 * 0.25 * 0.5 * 0.5), rel=1e-6)


def test_pitchwise_nll_by_hand():
    """With all logits equal, each choice is uniform over the cells above the last one plus stop."""
    model = head(PitchwiseHead)
    set_logits(model, [0.0] * 6)
    frames = torch.tensor([[0.0, 0, 0, 0, 0], [0, 1, 0, 1, 0], [0, 0, 0, 0, 1]])
    with torch.no_grad():
        nll = model.nll(contexts(3), frames)
    # empty: stop among 6 → 1/6. cells 1 and 3: 1/6 (cell 1), then 1/4 (cells 2-4 or stop: cell 3),
    # then 1/2 (cell 4 or stop: stop). cell 4 alone: 1/6, then stop is the only choice: 1.
    expected = [math.log(6), math.log(6 * 4 * 2), math.log(6)]
    assert nll.tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("kind", [PitchwiseHead, BernoulliHead])
def test_nll_keeps_leading_shape(kind):
    model = head(kind)
    frames = ALL_FRAMES[:6].reshape(2, 3, FRAME)
    nll = model.nll(contexts(6).reshape(2, 3, CONTEXT), frames)
    flat = model.nll(contexts(6), ALL_FRAMES[:6])
    assert nll.shape == (2, 3)
    assert torch.allclose(nll.flatten(), flat)


def test_pitchwise_nll_has_gradients_for_every_part():
    assert_gradients_for_every_part(head(PitchwiseHead), ALL_FRAMES[[0, 5, 13, 31, 16, 2, 7, 9]])


def assert_gradients_for_every_part(model, frames: torch.Tensor):
    model.train().nll(contexts(len(frames)), frames).sum().backward()
    assert all(
        parameter.grad is not None and parameter.grad.abs().sum() > 0
        for parameter in model.parameters()
    )


@pytest.mark.parametrize("kind", [PitchwiseHead, BernoulliHead])
def test_sample_is_deterministic_with_a_generator(kind):
    model = head(kind)
    first = model.sample(contexts(64), 1.0, torch.Generator().manual_seed(3))
    second = model.sample(contexts(64), 1.0, torch.Generator().manual_seed(3))
    other = model.sample(contexts(64), 1.0, torch.Generator().manual_seed(4))
    assert first.shape == (64, FRAME)
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.0])
def test_pitchwise_sampling_one_frame_draws_what_the_batch_loop_draws(temperature):
    """The batch-of-one path (composing) skips the batch bookkeeping, not the arithmetic."""
    assert_one_frame_draws_what_the_batch_draws(head(PitchwiseHead), temperature)


def assert_one_frame_draws_what_the_batch_draws(model, temperature: float):
    notes = 0
    for seed in range(20):
        context = contexts(1, seed=seed)
        with torch.no_grad():
            one = model._sample_one(context, temperature, torch.Generator().manual_seed(seed))
            batch = model._sample_batch(context, temperature, torch.Generator().manual_seed(seed))
        assert torch.equal(one, batch)
        notes += int(one.sum())
    assert notes > 0  # frames with notes in them, not only empty ones


@pytest.mark.parametrize("kind", [PitchwiseHead, BernoulliHead])
def test_sample_frequencies_follow_the_likelihood(kind):
    assert_draws_follow_the_likelihood(head(kind), ALL_FRAMES, 4000)


def assert_draws_follow_the_likelihood(model, every_frame: torch.Tensor, count: int):
    """Drawn ``count`` times, each of ``every_frame`` (all frames of its width, in binary
    order) comes up about as often as its likelihood says."""
    context = contexts(1, scale=0.5)
    with torch.no_grad():
        probabilities = (
            model.nll(context.expand(len(every_frame), CONTEXT), every_frame).neg().exp()
        )
    draws = model.sample(context.expand(count, CONTEXT), 1.0, torch.Generator().manual_seed(0))
    index = (draws * 2 ** torch.arange(draws.shape[1] - 1, -1, -1)).sum(-1).long()  # its row
    frequencies = torch.bincount(index, minlength=len(every_frame)) / count
    assert (frequencies - probabilities).abs().max().item() < 0.03


@pytest.mark.parametrize("kind", [PitchwiseHead, BernoulliHead])
def test_lower_temperature_concentrates_samples(kind):
    model = head(kind)
    context = contexts(1).expand(400, CONTEXT)
    top_share, distinct = [], []
    for temperature in (1.0, 0.3, 0.05):
        frames = model.sample(context, temperature, torch.Generator().manual_seed(0))
        _, counts = frames.unique(dim=0, return_counts=True)
        top_share.append(counts.max().item() / 400)
        distinct.append(len(counts))
    assert top_share == sorted(top_share) and top_share[0] < top_share[-1]
    assert distinct == sorted(distinct, reverse=True) and distinct[0] > distinct[-1]


def test_cold_bernoulli_samples_agree_on_the_likely_cells():
    model = head(BernoulliHead)
    set_logits(model, [2.0, -2.0, 0.5, -0.5, 1.0])
    frames = model.sample(contexts(200), 0.05, torch.Generator().manual_seed(0))
    assert torch.equal(frames, torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]]).expand(200, FRAME))
    assert not frames.requires_grad  # sampling builds no autograd graph


def test_cold_pitchwise_samples_agree_on_the_greedy_frame():
    model = head(PitchwiseHead)
    # cells 0-4 then stop. Greedy: cell 0 (3); above it cell 2 (2); above that cell 4 (1 > stop's -1);
    # then stop is the only choice left.
    set_logits(model, [3.0, -3.0, 2.0, -2.0, 1.0, -1.0])
    frames = model.sample(contexts(200), 0.05, torch.Generator().manual_seed(0))
    assert torch.equal(frames, torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]]).expand(200, FRAME))
    assert not frames.requires_grad


# voicewise: pitchwise with a stop for each voice

VOICE_FRAMES = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)))  # (64, 6)


def voicewise(voices: int, seed: int = 0) -> VoicewiseHead:
    torch.manual_seed(seed)
    return VoicewiseHead(CONTEXT, 6, HIDDEN, voices).eval()


@pytest.mark.parametrize("voices", [1, 2, 3])
def test_voicewise_probabilities_of_all_frames_sum_to_one(voices):
    model = voicewise(voices)
    for context in contexts(4):
        with torch.no_grad():
            nll = model.nll(context.expand(len(VOICE_FRAMES), CONTEXT), VOICE_FRAMES)
        assert (nll > 0).all()
        assert nll.double().neg().exp().sum().item() == pytest.approx(1.0, abs=1e-5)


def test_voicewise_is_built_with_a_voice_per_channel_of_equal_width():
    assert build_head("voicewise", "binary", CONTEXT, 6, HIDDEN, channels=3).voices == 3
    with pytest.raises(ConfigError, match="model.head: 'voicewise' needs a frame of equal voices"):
        build_head("voicewise", "binary", CONTEXT, 7, HIDDEN, channels=2)


def test_voicewise_nll_by_hand():
    """With all logits equal, each choice is uniform over the cells of the voice being drawn
    above the last one, plus that voice's stop."""
    model = voicewise(2)
    set_logits(model, [0.0] * 7)
    frames = torch.tensor([[0.0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 1], [0, 0, 1, 1, 0, 0]])
    with torch.no_grad():
        nll = model.nll(contexts(3), frames)
    # voices are cells 0-2 and 3-5. Empty: each voice's stop among 4. Cells 1 and 5: cell 1 among
    # 4, stop among 2 (cell 2 or stop); cell 5 among 4, then stop is all that is left. Cells 2
    # and 3: cell 2 among 4, stop alone; cell 3 among 4, stop among 3 (cells 4, 5 or stop).
    expected = [math.log(4 * 4), math.log(4 * 2 * 4), math.log(4 * 4 * 3)]
    assert nll.tolist() == pytest.approx(expected, rel=1e-6)


def test_one_voice_of_voicewise_is_pitchwise():
    """The voicewise head with one voice (and its voice embedding at zero) is the pitchwise head."""
    plain = head(PitchwiseHead)
    model = VoicewiseHead(CONTEXT, FRAME, HIDDEN, voices=1).eval()
    model.load_state_dict(plain.state_dict() | {"voice.weight": torch.zeros(1, HIDDEN)})
    with torch.no_grad():
        batch = contexts(len(ALL_FRAMES))
        assert torch.allclose(model.nll(batch, ALL_FRAMES), plain.nll(batch, ALL_FRAMES))
    draws = [one.sample(batch, 1.0, torch.Generator().manual_seed(2)) for one in (model, plain)]
    assert torch.equal(*draws)


def test_voicewise_nll_has_gradients_for_every_part():
    assert_gradients_for_every_part(voicewise(3), VOICE_FRAMES[[0, 5, 13, 31, 16, 2, 63, 40]])


@pytest.mark.parametrize("voices", [2, 3])
def test_voicewise_sample_frequencies_follow_the_likelihood(voices):
    assert_draws_follow_the_likelihood(voicewise(voices), VOICE_FRAMES, 8000)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.0])
def test_voicewise_sampling_one_frame_draws_what_the_batch_loop_draws(temperature):
    assert_one_frame_draws_what_the_batch_draws(voicewise(3), temperature)


# calibration (model.calibration, `muse calibrate`)


def scaled_copy(model, factor: float):
    """``model`` with its last layer's weights and bias times ``factor``: logits times it."""
    scaled = copy.deepcopy(model)
    last = scaled.out[-1] if isinstance(scaled.out, torch.nn.Sequential) else scaled.out
    with torch.no_grad():
        last.weight.mul_(factor)
        last.bias.mul_(factor)
    return scaled


@pytest.mark.parametrize("kind", [PitchwiseHead, BernoulliHead, SoftmaxHead])
def test_a_calibrated_head_is_its_logits_divided_by_the_calibration(kind):
    calibrated = head(kind)
    calibrated.calibration = 1.25
    plain = scaled_copy(calibrated, 1 / 1.25)
    plain.calibration = 1.0
    frames = ALL_FRAMES if kind is not SoftmaxHead else torch.eye(FRAME)
    batch = contexts(len(frames))
    with torch.no_grad():
        assert torch.allclose(calibrated.nll(batch, frames), plain.nll(batch, frames), atol=1e-5)
    # and it still sums to one over every frame
    if kind is not SoftmaxHead:
        with torch.no_grad():
            nll = calibrated.nll(batch[:1].expand(len(ALL_FRAMES), CONTEXT), ALL_FRAMES)
        assert nll.double().neg().exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    draws = [
        model.sample(batch[:3], 1.0, torch.Generator().manual_seed(4))
        for model in (calibrated, plain)
    ]
    assert torch.equal(*draws)
