"""Tests for muse_gan.objectives.vae: the loss terms by hand, beta annealing, and sampling of
any length from untrained models (tests/e2e/test_objectives_vae.py trains tiny VAEs on real
chorales that reconstruct and interpolate).

Everything runs on one CPU thread: tiny models run far faster so than on threads that compete
with each other (and with whatever else the machine runs), and float sums keep one order.
"""

import itertools
import math

import pytest
import torch

from muse_gan.assembly import build_adapter, build_objective, load_config
from muse_gan.objectives.latent import slerp
from muse_gan.objectives.vae import agreement, free_bits_kl, gaussian_kl

from ..conftest import CHORALE_TRACKS

TINY_VAE = CHORALE_TRACKS + [
    'model.family="vae"',
    "model.hidden=32",
    "model.head_hidden=32",
    "model.latent=8",
    "model.layers=1",
    "midi.window_bars=1",
    "vae.beta_anneal_steps=10",
]
SEGMENT = 16  # one bar of sixteenth notes
TRACKS, PITCHES = 4, 69


def tiny(*overrides):
    return load_config(None, TINY_VAE + list(overrides))


def vae(*overrides, seed=0):
    config = tiny(*overrides)
    torch.manual_seed(seed)
    return build_objective(build_adapter(config), config)


def windows_of(seed=0, count=2):
    """Sparse random 0/1 rolls, about four notes a frame: (count, tracks, SEGMENT, pitches)."""
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.rand(count, TRACKS, SEGMENT, PITCHES, generator=generator) < 4 / (TRACKS * PITCHES)
    ).float()


# float sums in one order: reconstructions compare exactly
pytestmark = pytest.mark.usefixtures("one_thread")


# the loss terms


def test_gaussian_kl_by_hand():
    mean = torch.tensor([[1.0, 0.5, 0.0]])
    log_variance = torch.tensor([[0.0, 0.0, math.log(2)]])
    # 0.5 * (mean² + variance - 1 - log variance)
    expected = [0.5, 0.125, 0.5 * (2 - 1 - math.log(2))]
    assert gaussian_kl(mean, log_variance)[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_free_bits_charge_nothing_below_the_threshold_per_dimension():
    kl = gaussian_kl(torch.tensor([[1.0, 0.5]]), torch.zeros(1, 2))  # 0.5 and 0.125 nats
    assert free_bits_kl(kl, 0.0).item() == pytest.approx(0.625)
    assert free_bits_kl(kl, 0.25).item() == pytest.approx(0.25)  # 0.5 - 0.25, and 0.125 is free
    assert free_bits_kl(kl, 0.6).item() == 0.0


def test_free_bits_judge_the_batch_mean_of_each_dimension():
    kl = torch.tensor([[0.5, 0.0], [0.0, 0.0]])  # one window over 0.3 nats, but the mean is 0.25
    assert free_bits_kl(kl, 0.3).item() == 0.0


def test_a_kl_under_the_free_bits_adds_nothing_to_the_loss():
    objective = vae("vae.free_bits=1000.0", "vae.beta_anneal_steps=0")
    loss, scalars = objective.phases(windows_of())[0].loss()
    assert scalars["kl"] > 0 and scalars["beta"] == 1.0
    assert loss.item() == pytest.approx(scalars["reconstruction"], rel=1e-6)


def test_beta_rises_linearly_and_its_step_count_is_saved():
    objective = vae("vae.beta=0.5")
    betas = [objective.phases(windows_of())[0].loss()[1]["beta"] for _ in range(12)]
    assert betas == pytest.approx([min(1, k / 10) * 0.5 for k in range(1, 13)])
    assert objective.state_dict()["trained_steps"].item() == 12
    resumed = vae("vae.beta=0.5", seed=1)
    resumed.load_state_dict(objective.state_dict())
    assert resumed.beta() == 0.5


def test_the_loss_is_reconstruction_plus_beta_times_kl_per_frame():
    objective = vae("vae.beta=0.5")
    _loss, scalars = objective.phases(windows_of())[0].loss()
    assert scalars["loss"] == pytest.approx(
        scalars["reconstruction"] + scalars["beta"] * scalars["kl"], rel=1e-5
    )


def test_agreement_counts_all_cells_and_sounding_cells_apart():
    original = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    rebuilt = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert agreement(original, rebuilt) == pytest.approx({"accuracy": 0.8, "note_accuracy": 1 / 3})
    assert agreement(torch.zeros(3), torch.zeros(3))["note_accuracy"] == 1.0


def test_slerp_runs_along_the_arc_from_a_to_b():
    a, b = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    middle = slerp(a, b, 0.5)
    # on the circle, not inside it
    assert middle[0].tolist() == pytest.approx([math.sqrt(2), math.sqrt(2)])
    # parallel: no division by zero
    assert slerp(a, a, 0.3)[0].tolist() == pytest.approx([2.0, 0.0])


def test_the_unconditioned_rnn_keeps_its_weight_names():
    rnn = build_objective(build_adapter(tiny()), tiny('model.family="rnn"'))
    assert not any("condition" in name for name in rnn.state_dict())


# sampling (untrained: only shapes, seeds and the primer matter)


@pytest.mark.parametrize("steps", [1, SEGMENT, 5 * SEGMENT // 2])
def test_sample_has_exactly_the_steps_asked_for(steps):
    roll = vae().eval().sample(2, steps, 1.0, torch.Generator().manual_seed(0))
    assert roll.shape == (2, TRACKS, steps, PITCHES)
    assert ((roll == 0) | (roll == 1)).all()


def test_the_same_seed_samples_the_same_and_another_seed_not():
    objective = vae().eval()
    first, again, other = (
        objective.sample(1, 40, 1.0, torch.Generator().manual_seed(seed)) for seed in (3, 3, 4)
    )
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("primer_steps", [5, 20, 60])
def test_a_sample_starts_with_its_primer(primer_steps):
    # (tracks, steps, pitches)
    primer = windows_of(seed=2, count=4).transpose(0, 1).flatten(1, 2)[:, :primer_steps]
    roll = vae().eval().sample(2, 40, 1.0, torch.Generator().manual_seed(0), primer)
    assert roll.shape == (2, TRACKS, 40, PITCHES)
    kept = min(primer_steps, 40)
    assert torch.equal(roll[:, :, :kept], primer[None, :, :kept].expand(2, -1, -1, -1))


def test_decoding_carries_on_from_the_state_it_returns():
    objective = vae().eval()
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(5))
    whole, _ = objective.decode(z, 2 * SEGMENT, 1.0, torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(0)
    first, state = objective.decode(z, SEGMENT, 1.0, generator)
    second, state = objective.decode(z, SEGMENT, 1.0, generator, state)
    assert torch.equal(torch.cat([first, second], dim=2), whole)
    assert state.next_step == 2 * SEGMENT


def test_the_latent_walk_starts_at_its_start_and_moves_smoothly():
    objective = vae().eval()
    start = torch.randn(1, 8)
    codes = objective.latent_walk(1, 9, torch.Generator().manual_seed(0), start)
    assert len(codes) == 9 and torch.equal(codes[0], start)
    steps = [(after - before).norm().item() for before, after in itertools.pairwise(codes)]
    assert max(steps) < 0.75 * max((code - start).norm().item() for code in codes)


def test_encode_fits_any_length_to_one_segment():
    objective = vae().eval()
    roll = windows_of(count=1)
    assert objective.encode(roll).shape == (1, 8)
    longer = torch.cat([roll, windows_of(seed=1, count=1)], dim=2)
    assert torch.equal(objective.encode(longer), objective.encode(roll))  # cut to its first segment
    shorter, silence = roll[:, :, :9], torch.zeros(1, TRACKS, SEGMENT - 9, PITCHES)
    assert torch.equal(
        objective.encode(shorter), objective.encode(torch.cat([shorter, silence], dim=2))
    )


def test_frame_nll_covers_pieces_of_any_length():
    nll = vae().eval().frame_nll(windows_of(count=3).transpose(0, 1).flatten(1, 2)[None, :, :40])
    assert nll.shape == (1, 40)
    assert (nll > 0).all()


# the convolutional encoder


def test_the_conv_encoders_log_variance_stays_bounded_whatever_its_weights():
    from muse_gan.models.conv import LOG_VARIANCE_BOUND, GridEncoder

    encoder = GridEncoder(1, 32, 16, channels=4, latent=3)
    with torch.no_grad():
        # what a few large optimizer steps on thousands of inputs do
        encoder.posterior.weight.fill_(5.0)
    mean, log_variance = encoder(torch.rand(2, 1, 32, 16))
    assert torch.isfinite(gaussian_kl(mean, log_variance)).all()
    assert log_variance.abs().max() <= LOG_VARIANCE_BOUND
