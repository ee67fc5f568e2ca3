"""Shared test setup: every test gets its own prepared-data cache, never the user's."""

import pytest


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path_factory):
    """Points ``MUSE_GAN_CACHE`` at a fresh folder, so tests neither read nor fill ``~/.cache``."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("MUSE_GAN_CACHE", str(folder))
    return folder


# A tiny model trained once per test session on real chorales, for the tests that need one.
TINY = ["data.limit=8", "data.window_bars=2", "data.transpose=2", "data.valid_fraction=0.3",
        "model.hidden=32", "model.head_hidden=32", "model.layers=1",
        "train.steps=4", "train.batch_size=4", "train.eval_every=2", "train.checkpoint_every=2",
        "train.sample_every=2", "train.sample_bars=2", "train.log_every=2", "train.device=\"cpu\""]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    from muse_gan.config import load_config
    from muse_gan.training import train

    run = tmp_path_factory.mktemp("tiny") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSE_GAN_CACHE", str(tmp_path_factory.mktemp("tiny-cache")))
        train(load_config(None, TINY), run, quiet=True)
    return run


def write_quartet(path, shift: int = 0, bars: int = 1, tempo: float = 100.0):
    """A four-part MIDI file: one held chord per half bar, all four voices moving by step."""
    import pretty_midi

    path.parent.mkdir(parents=True, exist_ok=True)
    piece = pretty_midi.PrettyMIDI(initial_tempo=tempo, resolution=480)
    half_bar = 2 * 60 / tempo
    for name, root in zip(("Soprano", "Alto", "Tenor", "Bass"), (72, 67, 64, 48)):
        voice = pretty_midi.Instrument(19, name=name)
        for step in range(2 * bars):
            pitch = root + shift + (2 if step % 2 else 0)
            voice.notes.append(pretty_midi.Note(90, pitch, step * half_bar, (step + 1) * half_bar))
        piece.instruments.append(voice)
    piece.write(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_vae_run(tmp_path_factory):
    from muse_gan.config import load_config
    from muse_gan.training import train

    run = tmp_path_factory.mktemp("tiny-vae") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSE_GAN_CACHE", str(tmp_path_factory.mktemp("tiny-vae-cache")))
        train(load_config(None, TINY + ["model.family=\"vae\"", "model.latent=8", "data.window_bars=1"]),
              run, quiet=True)
    return run
