"""Tests for muse_gan.objectives.masked (the Coconet family) on tiny untrained models: rolls and
choices, the masks it trains on, the annealed Gibbs schedule, and filling that leaves every
cell outside the mask as it was (tests/e2e/test_infill.py trains one through the Trainer)."""

import functools

import pytest
import torch

from muse_gan.assembly import build_adapter, build_objective, load_config
from muse_gan.core.rules import NO_LIMIT, CellRules
from muse_gan.errors import ConfigError
from muse_gan.modalities.midi.keys import KeyLeaning, scale_masks
from muse_gan.objectives.masked import block_share, random_masks

from ..conftest import CHORALE_TRACKS

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_COCONET = CHORALE_TRACKS + [
    'model.family="coconet"',
    "model.layers=2",
    "model.channels=8",
    "midi.pitch_low=48",
    "midi.pitch_high=59",
]


def coconet():
    config = load_config(None, TINY_COCONET)
    torch.manual_seed(0)
    return build_objective(build_adapter(config), config).eval()


def test_choices_are_each_tracks_highest_note_or_silence_and_come_back_as_cells():
    objective = coconet()
    roll = torch.zeros(1, 4, 3, 12)
    roll[0, 0, 0, 5] = 1
    roll[0, 1, 1, [2, 7]] = 1  # a chord: its highest note is the track's choice
    choices = objective.choices_of(roll)
    assert choices[0, 0].tolist() == [5, 12, 12] and choices[0, 1].tolist() == [12, 7, 12]
    back = objective.roll_of(choices)
    assert back[0, 0].equal(roll[0, 0]) and back[0, 1, 1].nonzero().flatten().tolist() == [7]


def test_training_masks_hide_every_share_of_cells_from_none_to_all():
    generator = torch.Generator().manual_seed(0)
    masks = random_masks((400, 4, 64), "cpu", generator)
    shares = masks.float().mean(dim=(1, 2))
    assert shares.min() < 0.05 and shares.max() > 0.95
    assert shares.mean().item() == pytest.approx(0.5, abs=0.05)


def test_the_block_share_anneals_from_nearly_all_to_five_percent():
    shares = [block_share(number, 100) for number in range(100)]
    assert shares[0] == pytest.approx(0.999)
    assert shares == sorted(shares, reverse=True)
    assert shares[74] > 0.06 and shares[75:] == pytest.approx([0.05] * 25)


def test_the_loss_is_in_nats_per_frame_and_learns_nothing_from_known_cells():
    objective = coconet()
    batch = torch.zeros(2, 4, 16, 12)
    batch[:, :, :, 3] = 1
    choices = objective.choices_of(batch)
    nothing_masked = torch.zeros_like(choices, dtype=torch.bool)
    assert objective.masked_nll(choices, nothing_masked).item() == 0
    everything = torch.ones_like(nothing_masked)
    # an untrained network is near uniform over 13 choices: about 4 * log 13 nats per frame
    assert objective.masked_nll(choices, everything).item() == pytest.approx(
        4 * torch.log(torch.tensor(13.0)).item(), rel=0.3
    )


def test_filling_draws_only_the_masked_cells_and_repeats_with_the_seed():
    objective = coconet()
    roll = (torch.rand(1, 4, 48, 12, generator=torch.Generator().manual_seed(1)) > 0.8).float()
    mask = torch.zeros(1, 4, 48, dtype=torch.bool)
    mask[0, 1:3, 16:32] = True
    filled = objective.fill(roll, mask, 1.0, torch.Generator().manual_seed(3))
    outside = ~mask[..., None].expand_as(roll)
    assert filled[outside].equal(roll[outside])  # chords outside the mask stay chords
    inside = filled[0, 1:3, 16:32]
    assert (inside.sum(-1) <= 1).all()  # one choice per track and step
    again = objective.fill(roll, mask, 1.0, torch.Generator().manual_seed(3))
    assert again.equal(filled)


def test_sampling_composes_after_the_primer_and_keeps_it():
    objective = coconet()
    primer = torch.zeros(4, 8, 12)
    primer[:, :, 4] = 1
    pieces = objective.sample(2, 32, 1.0, torch.Generator().manual_seed(0), primer)
    assert pieces.shape == (2, 4, 32, 12)
    assert pieces[:, :, :8].equal(primer.expand(2, -1, -1, -1))


def test_the_ordered_likelihood_scores_every_frame():
    objective = coconet()
    batch = torch.zeros(1, 4, 8, 12)
    batch[..., 2] = 1
    nll = objective.frame_nll(batch)
    assert nll.shape == (1, 8) and (nll > 0).all()
    assert objective.frame_nll(batch).equal(nll)  # the same ordering every time


def test_data_other_than_piano_rolls_is_refused_naming_the_family():
    config = load_config(None, ['data.modality="audio"', 'model.family="coconet"'])
    with pytest.raises(ConfigError, match="model.family: 'coconet' fills piano rolls"):
        build_objective(build_adapter(config), config)


def test_cells_not_allowed_are_never_drawn():
    objective = coconet()
    roll = torch.zeros(1, 4, 32, 12)
    mask = torch.ones(1, 4, 32, dtype=torch.bool)
    allowed = torch.zeros(4, 32, 12, dtype=torch.bool)
    allowed[..., [0, 4, 7]] = True  # a C major triad's pitch classes, say
    rules = CellRules(allowed, torch.zeros(4), torch.full((4, 2), NO_LIMIT), 16, 12)
    filled = objective.fill(roll, mask, 1.5, torch.Generator().manual_seed(0), rules)
    assert filled.any() and not filled[0][~allowed].any()


@pytest.mark.parametrize("quota", [2, 5])
def test_a_count_of_notes_per_bar_is_kept_by_the_last_sweep(quota):
    objective = coconet()
    roll = torch.zeros(1, 4, 32, 12)
    mask = torch.ones(1, 4, 32, dtype=torch.bool)
    allowed = torch.zeros(4, 32, 12, dtype=torch.bool)
    allowed[..., [0, 4, 7]] = True
    rules = CellRules(allowed, torch.zeros(4), torch.full((4, 2), quota), 16, 12)
    filled = objective.fill(roll, mask, 1.0, torch.Generator().manual_seed(3), rules)[0]
    assert not filled[~allowed].any()
    for track in filled:
        sounding = track > 0.5
        starts = sounding & ~torch.cat([torch.zeros(1, 12, dtype=torch.bool), sounding[:-1]])
        assert starts.view(2, 16, 12).sum(dim=(1, 2)).tolist() == [quota, quota]


def test_a_leaning_pulls_the_gibbs_draft_toward_the_key_its_notes_are_in():
    objective = coconet()
    roll, mask = torch.zeros(1, 4, 64, 12), torch.ones(1, 4, 64, dtype=torch.bool)

    def in_one_key(leaning):
        rules = CellRules.unlimited(4, 64, 12, 12, leaning)
        filled = objective.fill(roll, mask, 1.0, torch.Generator().manual_seed(1), rules)[0]
        classes = (48 + filled.nonzero()[:, 2]) % 12
        counts = torch.bincount(classes, minlength=12).float()
        return float((torch.tensor(scale_masks()).float() @ counts).max() / counts.sum())

    lean = functools.partial(
        KeyLeaning, tracks=4, width=12, pitches=12, pitch_low=48, pitched=[0, 1, 2, 3], strength=30
    )
    assert in_one_key(lean) > 0.97 > 0.8 > in_one_key(None)


def test_scoring_within_the_networks_reach_gives_what_the_whole_piece_gives():
    objective = coconet()
    batch = (torch.rand(2, 4, 48, 12, generator=torch.Generator().manual_seed(2)) > 0.9).float()
    fast = objective.ordered_nll(batch, torch.Generator().manual_seed(5))
    whole = _whole_piece_nll(objective, batch, torch.Generator().manual_seed(5))
    assert torch.allclose(fast, whole, atol=1e-5)


def _whole_piece_nll(objective, batch, generator):
    choices = objective.choices_of(batch)
    count, tracks, steps = choices.shape
    order = torch.rand(count, tracks * steps, generator=generator).argsort(dim=1)
    mask, nll = torch.ones_like(choices, dtype=torch.bool), torch.zeros(count, tracks * steps)
    for position in range(tracks * steps):
        for row in range(count):
            cell = int(order[row, position])
            logits = objective.network(objective.one_hot(choices, mask), mask)[row].flatten(0, 1)
            nll[row, cell] = torch.nn.functional.cross_entropy(
                logits[cell], choices[row].flatten()[cell]
            )
        mask.view(count, -1)[torch.arange(count), order[:, position]] = False
    return nll.view(count, tracks, steps).sum(dim=1)
