"""Shared test setup.

- One prepared-data cache for the whole run (``MUSE_GAN_CACHE`` points at it, never at the
  user's ``~/.cache``): a corpus such as the first chorales is parsed once, not once per test.
  Tests of the cache itself ask for ``private_cache``, a fresh folder of their own.
- Tests under ``tests/e2e`` train models and are marked ``slow``: ``pytest -m "not slow"`` runs
  the unit tier alone.
- Tiny models trained once per run on real chorales (``tiny_run``, ``tiny_vae_run``) for the
  tests that need a trained model, and ``write_quartet`` for small four-part MIDI files.
"""

from pathlib import Path

import pytest

E2E = Path(__file__).parent / "e2e"


def pytest_configure(config):
    """Ctrl-C reaches the tests and the processes they start, however the suite was started: a
    shell starting it in the background (`cmd &`, as some CI runners do) ignores SIGINT, and
    Python then leaves SIGINT ignored, in itself and in every child, so the tests of what
    Ctrl-C does would wait on runs that never stop."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E in Path(item.path).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def shared_cache(tmp_path_factory):
    """The run's one prepared-data cache."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSE_GAN_CACHE", str(folder))
        yield folder


@pytest.fixture
def private_cache(monkeypatch, tmp_path_factory):
    """A fresh, empty cache for this test alone (for tests that read, damage or count cache files)."""
    folder = tmp_path_factory.mktemp("private-cache")
    monkeypatch.setenv("MUSE_GAN_CACHE", str(folder))
    return folder


# The bundled chorale models' tracks, fixed before any data is read (by default a model takes
# its tracks, meters and dynamics from the data: tests that build networks without data fix them).
CHORALE_TRACKS = [
    'midi.track_mapping="keep"',
    'midi.track_names=["Soprano", "Alto", "Tenor", "Bass"]',
    "midi.programs=[19, 19, 19, 19]",
    "midi.require_parts=4",
    'midi.meter="4/4"',
    'midi.dynamics="off"',
    "midi.conditions=[]",
]

# A tiny model trained once per test session on real chorales, for the tests that need one.
TINY = [
    "data.limit=8",
    "midi.window_bars=2",
    "midi.transpose=2",
    "data.valid_fraction=0.3",
    "model.hidden=32",
    "model.head_hidden=32",
    "model.layers=1",
    "train.steps=4",
    "train.batch_size=4",
    "train.eval_every=2",
    "train.checkpoint_every=2",
    "train.sample_every=2",
    "train.sample_bars=2",
    "train.log_every=2",
    'train.device="cpu"',
]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    from muse_gan.assembly import load_config
    from muse_gan.training import train

    run = tmp_path_factory.mktemp("tiny") / "run"
    train(load_config(None, TINY), run, quiet=True)
    return run


@pytest.fixture(scope="session")
def tiny_vae_run(tmp_path_factory):
    from muse_gan.assembly import load_config
    from muse_gan.training import train

    run = tmp_path_factory.mktemp("tiny-vae") / "run"
    # a VAE validates slowly
    vae = [
        'model.family="vae"',
        "model.latent=8",
        "midi.window_bars=1",
        "train.eval_every=4",
    ]
    train(load_config(None, TINY + vae), run, quiet=True)
    return run


@pytest.fixture(scope="module")
def one_thread():
    """The module's tests on one CPU thread (ask with ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def prepared(adapter, item, name: str = "piece.mid", label: str = ""):
    """An item as preparing stores it (a ``core.store.Piece``), without a file or a cache."""
    from muse_gan.core.store import Piece

    return Piece(name, adapter.encode(item), label, adapter.piece_info(item))


def scale_midi(
    tonic: int, octave: int = 60, steps_each: int = 4, degrees=(0, 2, 4, 5, 7, 9, 11), tempo=100.0
):
    """One part playing the major scale on ``tonic`` (a pitch class) upwards from ``octave``,
    each note ``steps_each`` 16ths long, as a PrettyMIDI."""
    import pretty_midi

    piece = pretty_midi.PrettyMIDI(initial_tempo=tempo, resolution=480)
    part = pretty_midi.Instrument(0, name="Melody")
    sixteenth = 60 / tempo / 4
    for number, degree in enumerate(degrees):
        start = number * steps_each * sixteenth
        part.notes.append(
            pretty_midi.Note(
                80, octave + (tonic + degree) % 12, start, start + steps_each * sixteenth
            )
        )
    piece.instruments.append(part)
    return piece


def set_options(settings: list[str]) -> list[str]:
    """``--set`` options for the command line, one per ``section.key=value``."""
    return [part for item in settings for part in ("--set", item)]


def hamming(a, b) -> int:
    """Cells in which two rolls differ."""
    return (a != b).sum().item()


def train_family_runs(
    tmp_path_factory, stem: str, settings: list[str], family: str, family_settings: list[str]
):
    """A tiny run of ``family`` on ``settings`` in a fresh folder ``stem-family``; every family
    of one modality shares the session's prepared data."""
    from muse_gan.assembly import load_config
    from muse_gan.training import train

    run = tmp_path_factory.mktemp(f"{stem}-{family}") / "run"
    train(
        load_config(None, settings + [f'model.family="{family}"'] + family_settings),
        run,
        quiet=True,
    )
    return family, run


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
