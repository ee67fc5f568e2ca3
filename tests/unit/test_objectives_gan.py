"""The GAN family's objective, piece by piece: networks, phases, sampling, and the terms piano
rolls plug in (tests/e2e/test_objectives_gan.py trains tiny GANs on real chorales)."""

import pytest
import torch
from torch import nn

from muse_gan.assembly import build_adapter, build_objective, load_config
from muse_gan.errors import ConfigError
from muse_gan.modalities.midi import metrics
from muse_gan.modalities.midi.gan_terms import (
    ChromaReader,
    activity_mismatch,
    harmony_mismatch,
    pair_tonal_distances,
    rhythm_mismatch,
)
from muse_gan.models.conv import GridCritic, GridGenerator
from muse_gan.objectives.gan import gradient_penalty
from muse_gan.objectives.latent import slerp

from ..conftest import CHORALE_TRACKS

# 4 tracks × 32 steps (two bars of 16) × 20 pitches (MIDI 60..79); tiny layers.
SMALL = CHORALE_TRACKS + [
    'model.family="gan"',
    "model.latent=8",
    "model.channels=8",
    "midi.window_bars=2",
    "midi.pitch_low=60",
    "midi.pitch_high=79",
    "gan.critic_steps=2",
]
TRACKS, SEGMENT, PITCHES = 4, 32, 20


def gan(*overrides):
    config = load_config(None, SMALL + list(overrides))
    torch.manual_seed(0)
    return build_objective(build_adapter(config), config)


def audible(model):
    """``model`` with its generator's pitch (width) bias at 0. Untrained, the generator starts near one
    note per voice and step, every cell below p = 0.5, so threshold decoding gives silence and
    seeds or melodies could not show; at 0, about half the cells sound."""
    with torch.no_grad():
        model.generator.width_bias.zero_()
    return model


def real_batch(size=3):
    """Sparse 0/1 rolls: one held pitch per track, different in every item."""
    batch = torch.zeros(size, TRACKS, SEGMENT, PITCHES)
    for item in range(size):
        for track in range(TRACKS):
            batch[item, track, :, (item + 5 * track) % PITCHES] = 1
    return batch


def melody(pitch):
    roll = torch.zeros(TRACKS, SEGMENT, PITCHES)
    roll[0, : SEGMENT // 2, pitch] = 1
    roll[0, SEGMENT // 2 :, pitch + 2] = 1
    return roll


def sample(model, steps=SEGMENT, seed=0, **options):
    return model.sample(
        1, steps, options.pop("temperature", 1.0), torch.Generator().manual_seed(seed), **options
    )


# networks


def test_the_generator_makes_one_logit_map_per_track_for_any_pitch_count():
    generator = GridGenerator(tracks=3, steps=24, pitches=69, latent=5, channels=4, condition=True)
    shared, per_track = torch.randn(2, 5), torch.randn(2, 3, 5)
    assert generator(shared, per_track).shape == (2, 3, 24, 69)
    condition, present = torch.zeros(2, 24, 69), torch.tensor([1.0, 0.0])
    assert generator(shared, per_track, condition, present).shape == (2, 3, 24, 69)


def test_the_generator_refuses_a_window_not_divisible_by_eight():
    with pytest.raises(ConfigError, match="multiple of 8"):
        GridGenerator(tracks=1, steps=12, pitches=20, latent=4, channels=4, condition=False)


def test_an_untrained_generator_starts_near_one_pitch_per_voice_and_step():
    torch.manual_seed(0)
    generator = GridGenerator(tracks=4, steps=64, pitches=69, latent=8, channels=8, condition=True)
    probabilities = torch.sigmoid(generator(torch.randn(16, 8), torch.randn(16, 4, 8)))
    notes_per_step = probabilities.sum(dim=-1).mean().item()
    assert 0.3 < notes_per_step < 3  # not p = 0.5 everywhere (34 notes per step), not silence


def test_each_pitch_of_each_track_has_its_own_bias():
    generator = GridGenerator(tracks=2, steps=16, pitches=10, latent=4, channels=4, condition=False)
    shared, per_track = torch.randn(1, 4), torch.randn(1, 2, 4)
    before = generator(shared, per_track)
    with torch.no_grad():
        generator.width_bias[1, 0, 7] += 5.0
    change = generator(shared, per_track) - before
    assert change[0, 1, :, 7].allclose(
        torch.tensor(5.0)
    ) and change.abs().sum().item() == pytest.approx(5.0 * 16)


def test_the_critics_chroma_stream_hears_pitch_classes_not_octaves():
    torch.manual_seed(0)
    reader = ChromaReader(tracks=2, steps=16, pitches=30, channels=4, wrap=lambda layer: layer)

    def soprano_on(pitch):  # over a bass held at the lowest pitch; 30 pitches: padded to 3 octaves
        roll = torch.zeros(1, 2, 16, 30)
        roll[0, 0, :, pitch] = 1
        roll[0, 1, :, 0] = 1
        return roll

    assert reader(soprano_on(3)).shape == (1, reader.size)
    assert torch.equal(reader(soprano_on(3)), reader(soprano_on(15)))
    assert torch.equal(reader(soprano_on(3)), reader(soprano_on(27)))
    assert not torch.equal(reader(soprano_on(3)), reader(soprano_on(4)))


def test_a_chroma_critic_scores_each_item_with_or_without_labels():
    rolls, labels = torch.rand(2, 4, 32, 20), torch.tensor([0, 2])
    for classes in (0, 3):
        critic = GridCritic(
            tracks=4,
            steps=32,
            pitches=20,
            channels=4,
            spectral_norm=True,
            classes=classes,
            streams={"chroma": ChromaReader},
        )
        assert critic(rolls, labels if classes else None).shape == (2,)


def test_each_track_has_its_own_noise():
    generator = GridGenerator(tracks=2, steps=16, pitches=10, latent=4, channels=4, condition=False)
    shared, per_track = torch.randn(1, 4), torch.randn(1, 2, 4)
    changed = per_track.clone()
    changed[:, 1] = torch.randn(4)
    before, after = generator(shared, per_track), generator(shared, changed)
    assert torch.equal(before[:, 0], after[:, 0])
    assert not torch.equal(before[:, 1], after[:, 1])


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_the_critic_gives_one_score_per_item(spectral_norm):
    critic = GridCritic(tracks=4, steps=32, pitches=69, channels=4, spectral_norm=spectral_norm)
    assert critic(torch.rand(5, 4, 32, 69)).shape == (5,)


# training phases


@pytest.mark.parametrize("loss", ["wgan-gp", "hinge"])
def test_critic_phases_come_first_and_each_phase_trains_only_its_network(loss):
    model = gan(f'gan.loss="{loss}"')
    phases = model.phases(real_batch())
    assert [phase.optimizer for phase in phases] == ["critic", "critic", "generator"]
    groups = model.parameter_groups()
    for phase in phases:
        model.zero_grad(set_to_none=True)
        loss_value, scalars = phase.loss()
        loss_value.backward()
        assert all(parameter.grad is not None for parameter in groups[phase.optimizer])
        other = "generator" if phase.optimizer == "critic" else "critic"
        assert all(parameter.grad is None for parameter in groups[other])
    assert scalars["loss"] == scalars["generator"]
    assert set(groups) == {"critic", "generator"}
    assert all(parameter.requires_grad for parameter in model.parameters())


def test_hinge_uses_a_spectrally_normalised_critic():
    assert not nn.utils.parametrize.is_parametrized(gan().critic.convs[0])
    assert nn.utils.parametrize.is_parametrized(gan('gan.loss="hinge"').critic.convs[0])


def test_critic_phases_draw_fresh_noise_from_the_global_seed():
    model, batch = gan(), real_batch()
    torch.manual_seed(3)
    first, second = [phase.loss()[1]["critic"] for phase in model.phases(batch)[:2]]
    torch.manual_seed(3)
    again = model.phases(batch)[0].loss()[1]["critic"]
    assert first == again and first != second


class LinearCritic(nn.Module):
    def __init__(self, size, slope):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(size))
        with torch.no_grad():
            self.weight *= slope / self.weight.norm()

    def forward(self, rolls):
        return rolls.flatten(1) @ self.weight


def test_the_gradient_penalty_charges_the_squared_excess_of_the_critics_slope():
    real, fake = real_batch(), torch.rand(3, TRACKS, SEGMENT, PITCHES)
    size = TRACKS * SEGMENT * PITCHES
    assert gradient_penalty(LinearCritic(size, 1.0), real, fake).item() == pytest.approx(
        0, abs=1e-8
    )
    steep = LinearCritic(size, 3.0)
    penalty = gradient_penalty(steep, real, fake)
    assert penalty.item() == pytest.approx(4.0, rel=1e-4)
    penalty.backward()  # differentiable in the critic's weights: it trains the critic
    assert steep.weight.grad is not None and steep.weight.grad.norm() > 0


def test_the_gradient_penalty_is_float32_under_autocast():
    critic = GridCritic(
        tracks=TRACKS, steps=SEGMENT, pitches=PITCHES, channels=4, spectral_norm=False
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = gradient_penalty(critic, real_batch(), torch.rand(3, TRACKS, SEGMENT, PITCHES))
    assert penalty.dtype == torch.float32 and penalty.item() >= 0


@pytest.mark.parametrize("loss", ["wgan-gp", "hinge"])
def test_evaluate_reports_the_critics_number_without_gradients(loss):
    model = gan(f'gan.loss="{loss}"').eval()  # as the trainer validates: spectral norm stands still
    scores = model.evaluate(real_batch())
    assert set(scores) >= {"loss", "wasserstein"}
    assert scores == model.evaluate(real_batch())  # fixed noise: evaluations compare
    assert all(parameter.grad is None for parameter in model.parameters())
    if loss == "wgan-gp":
        assert scores["loss"] == scores["wasserstein"]
    else:
        assert scores["loss"] >= 0
    assert not model.selects_by_validation


def test_a_conditional_generator_is_given_the_real_track_and_keeps_it():
    batch = real_batch()
    kept = gan("gan.condition_track=0", "gan.condition_dropout=0.0").fake(batch)
    assert torch.equal(kept[:, 0], batch[:, 0])
    assert kept.shape == batch.shape
    dropped = gan("gan.condition_track=0", "gan.condition_dropout=1.0").fake(batch)
    assert not torch.equal(dropped[:, 0], batch[:, 0])


# sampling


@pytest.mark.parametrize("steps", [1, SEGMENT, SEGMENT * 5 // 2])
def test_samples_are_exactly_as_long_as_asked_and_binary(steps):
    roll = sample(gan(), steps)
    assert roll.shape == (1, TRACKS, steps, PITCHES)
    assert set(roll.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("decode", ["threshold", "bernoulli"])
def test_the_same_seed_gives_the_same_sample_and_another_seed_another(decode):
    model = audible(gan(f'gan.decode="{decode}"'))
    assert torch.equal(sample(model, 80, seed=1), sample(model, 80, seed=1))
    assert not torch.equal(sample(model, 80, seed=1), sample(model, 80, seed=2))


def test_a_longer_piece_starts_like_a_shorter_one():
    model = gan()
    short, long = sample(model, 2 * SEGMENT), sample(model, 6 * SEGMENT)
    assert torch.equal(long[:, :, : 2 * SEGMENT], short)


def test_slerp_runs_from_start_to_end_along_the_sphere():
    start, end = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    points = slerp(start.expand(3, -1), end.expand(3, -1), torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(points[0], start[0]) and torch.allclose(points[2], end[0], atol=1e-6)
    assert points[1].norm().item() == pytest.approx(1.0)
    same = slerp(start, start, torch.tensor([0.3]))  # parallel: no division by zero
    assert torch.allclose(same, start)


def test_bernoulli_decoding_at_a_very_low_temperature_is_the_threshold():
    threshold = sample(gan(), 80)
    bernoulli = sample(gan('gan.decode="bernoulli"'), 80, temperature=1e-9)
    assert torch.equal(threshold, bernoulli)


def test_an_unconditional_piece_starts_with_its_primer():
    primer = real_batch(1)[0, :, :10]
    roll = sample(gan(), 50, primer=primer)
    assert roll.shape == (1, TRACKS, 50, PITCHES)
    assert torch.equal(roll[0, :, :10], primer)


def test_a_conditional_model_accompanies_the_given_melody():
    model = audible(gan("gan.condition_track=0"))
    first, second = sample(model, 40, primer=melody(3)), sample(model, 40, primer=melody(12))
    expected = torch.cat([melody(3)[0], torch.zeros(8, PITCHES)])  # padded with silence to 40 steps
    assert torch.equal(first[0, 0], expected)
    # same seed, another melody: another accompaniment
    assert not torch.equal(first[0, 1:], second[0, 1:])
    # without a melody: unconditioned
    assert not torch.equal(sample(model, 40)[0, 1:], first[0, 1:])


def test_activity_mismatch_on_a_hand_computed_fixture():
    # Real: track 0 sounds at all 4 steps of both items, track 1 at 2 of 4 → activity (1.0, 0.5).
    real = torch.zeros(2, 2, 4, 3)
    real[:, 0, :, 1] = 1
    real[:, 1, :2, 2] = 1
    # Fakes: every cell of track 0 at p = 0.5 (activity 0.5); track 1's likeliest note 0.9 at
    # the first step of each item and 0.3 elsewhere → (0.9 + 3 × 0.3) / 4 = 0.45.
    fake = torch.full((2, 2, 4, 3), 0.5)
    fake[:, 1] = 0.1
    fake[:, 1, 1:, 0] = 0.3
    fake[:, 1, 0, 2] = 0.9
    assert activity_mismatch(fake, real).item() == pytest.approx(
        (1.0 - 0.5) ** 2 + (0.5 - 0.45) ** 2
    )
    assert activity_mismatch(real, real).item() == 0


def test_activity_weight_pushes_quiet_voices_to_sound():
    """The term's gradient raises every track's pitch bias (a descent step makes all voices
    likelier to sound) when the fakes sound less than the real batch, which sounds at every step."""

    def bias_gradient(weight):
        model = gan(f"midi.gan.activity_weight={weight}")
        torch.manual_seed(1)
        loss, scalars = model.phases(real_batch())[-1].loss()
        loss.backward()
        return model.generator.width_bias.grad.sum(dim=(1, 2)), scalars

    plain, plain_scalars = bias_gradient(0)
    weighted, scalars = bias_gradient(1)
    assert scalars["activity"] > 0 and "activity" not in plain_scalars
    assert (weighted - plain < 0).all()


def test_pair_tonal_distances_on_a_hand_computed_fixture():
    # One bar of C against G for tracks 0 and 1; track 2 silent. C's tonal centroid is (0, 1, 0,
    # 1, 0, 0.5); G's (class 7) sits at 7·7π/6, 7·3π/2 and 7·2π/3 on the three circles:
    # (1/2, √3/2, 1, 0, √3/4, -1/4). Their distance: √(1/4 + (1 - √3/2)² + 1 + 1 + 3/16 + 9/16).
    roll = torch.zeros(1, 3, 16, 20)  # pitch 0 is C (say pitch_low 60), pitch 7 is G
    roll[0, 0, :, 0] = 1
    roll[0, 1, :8, 7] = 1
    expected = (1 / 4 + (1 - 3**0.5 / 2) ** 2 + 2 + 3 / 16 + 9 / 16) ** 0.5
    distances = pair_tonal_distances(roll, 16)
    assert distances[0].item() == pytest.approx(expected, abs=1e-5)  # ≈ 1.737
    assert distances[1:].tolist() == [0, 0]  # pairs with the silent track: no bar to compare
    assert distances[0].item() == pytest.approx(
        metrics.tonal_distance(roll[0, 0], roll[0, 1], 16, 60), abs=1e-5
    )


def test_pair_tonal_distances_are_the_metrics_on_random_rolls_at_any_pitch_low():
    """The metric counts classes from C; the loss from the lowest pitch: the same distances."""
    generator = torch.Generator().manual_seed(0)
    for pitch_low in (28, 60, 61):
        roll = (torch.rand(1, TRACKS, 64, PITCHES, generator=generator) < 0.1).float()
        pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
        expected = [metrics.tonal_distance(roll[0, i], roll[0, j], 16, pitch_low) for i, j in pairs]
        assert pair_tonal_distances(roll, 16).tolist() == pytest.approx(expected, abs=1e-5)


def test_rhythm_mismatch_on_a_hand_computed_fixture():
    # Bars of 2 steps. Real: a note starts at step 0 (held over step 1) and one at step 3, so
    # per bar (1, 0) then (0, 1): on average 0.5 notes start at each step of the bar. Fakes:
    # p = 0.5 on one pitch throughout: p = 0.5 at the first step, 0.5 · (1 − 0.5) after, so
    # (0.5, 0.25) then (0.25, 0.25): on average (0.375, 0.25).
    real = torch.zeros(1, 1, 4, 2)
    real[0, 0, :2, 0] = 1
    real[0, 0, 3, 1] = 1
    fake = torch.zeros(1, 1, 4, 2)
    fake[0, 0, :, 0] = 0.5
    assert rhythm_mismatch(fake, real, 2).item() == pytest.approx(
        (0.5 - 0.375) ** 2 + (0.5 - 0.25) ** 2
    )
    assert rhythm_mismatch(real, real, 2).item() == 0


@pytest.mark.parametrize(
    "term, mismatch", [("harmony", harmony_mismatch), ("rhythm", rhythm_mismatch)]
)
def test_each_weighted_term_adds_its_mismatch_to_the_generators_loss(term, mismatch):
    batch = real_batch()
    assert mismatch(batch, batch, 16).item() == 0
    torch.manual_seed(1)
    plain, plain_scalars = gan().phases(batch)[-1].loss()
    torch.manual_seed(1)
    model = gan(f"midi.gan.{term}_weight=2")
    weighted, scalars = model.phases(batch)[-1].loss()
    assert term not in plain_scalars and scalars[term] > 0
    assert weighted.item() == pytest.approx(plain.item() + 2 * scalars[term], rel=1e-5)
    weighted.backward()  # harmony: the distance's square root is padded, no NaN where two voices agree
    gradients = [p.grad for p in model.generator.parameters() if p.grad is not None]
    assert gradients and all(torch.isfinite(gradient).all() for gradient in gradients)


def test_mode_seeking_charges_a_generator_that_ignores_its_noise():
    batch = real_batch()
    torch.manual_seed(1)
    plain, plain_scalars = gan().phases(batch)[-1].loss()
    torch.manual_seed(1)
    loss, scalars = gan("gan.mode_seeking=0.5").phases(batch)[-1].loss()
    assert "sameness" not in plain_scalars and 0 < scalars["sameness"] < 1e3
    assert loss.item() == pytest.approx(plain.item() + 0.5 * scalars["sameness"], rel=1e-5)
    deaf = gan("gan.mode_seeking=0.5")
    with torch.no_grad():  # nothing of the noise reaches the pictures: every item alike
        deaf.generator.start.weight.zero_()
        deaf.generator.track_noise.weight.zero_()
    _, deaf_scalars = deaf.phases(batch)[-1].loss()
    assert deaf_scalars["sameness"] == pytest.approx(1e5)  # 1 / (0 + 1e-5)


def test_voice_ranges_keep_each_track_to_the_pitches_it_was_heard_at():
    model = audible(gan("midi.gan.voice_ranges=true"))
    assert not sample(model).any()  # nothing heard yet: every pitch is out of range
    batch = real_batch()  # track t sounds pitches 5t, 5t + 1, 5t + 2 (one per item)
    model.phases(batch)
    heard = batch.amax(dim=(0, 2)).bool()
    assert torch.equal(model.generator.output_filter.heard[:, 0], heard)
    rolls = torch.cat([sample(model, seed=seed) for seed in range(5)])
    sounding = rolls.amax(dim=(0, 2)).bool()
    assert sounding.any() and not (sounding & ~heard).any()
    # off by default: no buffer, so older checkpoints still load
    assert gan().generator.output_filter is None


def test_truncation_narrows_the_noise_sampled_from_and_only_that():
    plain, narrow = audible(gan()), audible(gan("gan.truncation=0.5"))
    drawn = plain._sampling_noise(3, torch.Generator().manual_seed(4))
    narrowed = narrow._sampling_noise(3, torch.Generator().manual_seed(4))
    for full, half in zip(drawn, narrowed):
        assert torch.equal(half, full * 0.5)
    assert not torch.equal(sample(plain, seed=4), sample(narrow, seed=4))
    trained_on = [
        model.fake(real_batch(), torch.Generator().manual_seed(2)) for model in (plain, narrow)
    ]
    assert torch.equal(*trained_on)  # training draws the full noise


def test_bad_gan_settings_are_config_errors_naming_the_key():
    for setting, key in [
        ('gan.loss="lsgan"', "gan.loss"),
        ('gan.decode="argmax"', "gan.decode"),
        ("gan.condition_track=4", "gan.condition_track"),
        ("gan.critic_steps=0", "gan.critic_steps"),
        ("gan.condition_dropout=1.5", "gan.condition_dropout"),
        ("gan.mode_seeking=-1", "gan.mode_seeking"),
        ("gan.truncation=0", "gan.truncation"),
        ("gan.truncation=1.5", "gan.truncation"),
        ("midi.gan.activity_weight=-1", "midi.gan.activity_weight"),
        ("midi.gan.harmony_weight=-1", "midi.gan.harmony_weight"),
        ("midi.gan.rhythm_weight=-1", "midi.gan.rhythm_weight"),
    ]:
        with pytest.raises(ConfigError, match=key):
            gan(setting)


def test_the_piano_roll_terms_are_read_under_their_old_names_too():
    """Config files and --set lines written before the terms moved to [midi.gan] still work."""
    old = gan("gan.harmony_weight=2", "gan.critic_chroma=true", "gan.voice_ranges=true")
    new = gan(
        "midi.gan.harmony_weight=2", "midi.gan.critic_chroma=true", "midi.gan.voice_ranges=true"
    )
    for model in (old, new):
        assert [term.name for term in model.terms] == ["harmony"]
        assert model.critic.streams == ["chroma"] and model.generator.output_filter is not None


def test_other_modalities_get_none_of_the_piano_roll_terms():
    """The terms are the MIDI modality's: an image GAN reads no [midi] section (the old [gan]
    section refused them for such data; they now live where only piano rolls look)."""
    model = gan(
        'data.modality="image"',
        "midi.gan.harmony_weight=2",
        "midi.gan.critic_chroma=true",
        "midi.gan.voice_ranges=true",
    )
    assert (
        model.terms == () and model.critic.streams == [] and model.generator.output_filter is None
    )
