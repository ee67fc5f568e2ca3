"""Tiny GANs trained on real chorales, each with other losses and terms, saved, reloaded and
composing (tests/unit/test_objectives_gan.py takes the objective apart)."""

import pretty_midi
import pytest

import muse_gan
from muse_gan.assembly import load_config
from muse_gan.core.scalars import read_scalars
from muse_gan.training import train

# 4 tracks × 32 steps (two bars of 16) × 20 pitches (MIDI 60..79); tiny layers.
SMALL = [
    'model.family="gan"',
    "model.latent=8",
    "model.channels=8",
    "midi.window_bars=2",
    "midi.pitch_low=60",
    "midi.pitch_high=79",
    "gan.critic_steps=2",
]


@pytest.mark.parametrize(
    "settings",
    [
        ['gan.loss="wgan-gp"'],
        ['gan.loss="hinge"', "midi.gan.critic_chroma=true"],
        ["midi.gan.harmony_weight=10", "midi.gan.rhythm_weight=2", "midi.gan.voice_ranges=true"],
    ],
)
def test_a_tiny_run_on_real_chorales_gives_a_model_that_composes(tmp_path, settings):
    config = load_config(
        None,
        SMALL
        + settings
        + [
            "data.limit=6",
            "train.steps=3",
            "train.batch_size=4",
            "train.eval_every=3",
            "train.sample_every=3",
            "train.sample_bars=3",
            'train.device="cpu"',
            "train.ema=0.9",
            "train.betas=[0.5, 0.9]",
            "train.log_every=1",
        ],
    )
    trainer = train(config, tmp_path / "run", quiet=True)
    assert trainer.step == 3
    run = tmp_path / "run"
    assert (run / "model.safetensors").exists()
    assert (run / "samples" / "step_000003.mid").exists() and (
        run / "samples" / "step_000003.png"
    ).exists()
    logged = read_scalars(run / "scalars.csv")
    # the piano roll's terms are logged as the GAN's own losses are
    for term in (
        "harmony",
        "rhythm",
    ):
        assert (f"train/{term}" in logged) == (f"midi.gan.{term}_weight" in " ".join(settings))
    model = muse_gan.load(run)
    if "midi.gan.voice_ranges=true" in settings:  # the ranges heard in training came with the model
        assert model.objective.generator.output_filter.heard.any()
    piece = model.compose(bars=3, seed=1)
    assert isinstance(piece, pretty_midi.PrettyMIDI)
    three_bars = 3 * 4 * 60 / config.midi.tempo
    assert piece.get_end_time() <= three_bars + 1e-6
    again = model.compose(bars=3, seed=1)
    assert [note.pitch for part in again.instruments for note in part.notes] == [
        note.pitch for part in piece.instruments for note in part.notes
    ]
