"""The prepared-data store and samplers on what is slow to make: spawned worker processes, the
built-in corpora, and a training run that must not read its source files again."""

import os

import pytest
import torch

from muse_gan.assembly import load_config
from muse_gan.core.store import load_pieces, prepare, source_files, split
from muse_gan.modalities import build_adapter
from muse_gan.modalities.midi import PianoRollAdapter
from muse_gan.training import samplers, train

from ..conftest import TINY, write_quartet
from ..unit.test_data import SETTINGS, SUFFIXES, draws, same_draws, songs


# an alarm that lands in a gc callback is swallowed by Python and reported as unraisable; the
# limit then fires again (muse_gan.timeouts), so the report is expected, not a failure
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_workers_prepare_the_same_pieces_and_lines_as_this_process(tmp_path, capsys, monkeypatch):
    """Spawned workers, with the score time limit (a SIGALRM) firing in one of them."""
    song_folder = songs(tmp_path / "songs")
    from muse_gan.modalities.midi import scores

    slow = tmp_path / "songs" / "f_slow.abc"  # a field change in every bar: music21 takes seconds
    slow.write_text("X:1\nM:4/4\nL:1/8\nK:G\n" + "GABc dedB|dedB ded4/4\nL:1/8\nK:G\n" * 450)
    monkeypatch.setattr(scores, "SCORE_SECONDS", 0.3)  # here
    # in the workers, which import the module afresh
    monkeypatch.setenv("MUSE_GAN_SCORE_SECONDS", "0.3")
    files = source_files(str(song_folder), SUFFIXES)
    results = {}
    for workers in (1, 2):
        # each prepares afresh
        monkeypatch.setenv("MUSE_GAN_CACHE", str(tmp_path / f"cache-{workers}"))
        pieces = prepare(PianoRollAdapter(SETTINGS), files, quiet=True, workers=workers)
        results[workers] = pieces, capsys.readouterr().err
    (here, here_lines), (there, there_lines) = results[1], results[2]
    assert (
        [piece.name for piece in there]
        == [piece.name for piece in here]
        == [str(song_folder / name) for name in ("a.mid", "b.mid", "e_trio.mid")]
    )
    assert all(torch.equal(a.tensor, b.tensor) for a, b in zip(here, there))
    assert there_lines == here_lines
    assert (
        f"skipped {slow}: not read within 0.3 s (music21 slows down badly on some files)"
        in there_lines
    )
    assert there_lines.splitlines()[-1] == "skipped 3 of 6 files"


def test_training_reads_only_the_prepared_cache(tmp_path):
    """Once prepared, the files can be unreadable and garbage (same size and time): training runs."""
    folder = tmp_path / "quartets"
    files = [write_quartet(folder / f"{number}.mid", shift=number, bars=2) for number in range(6)]
    config = load_config(
        None, TINY + [f'data.source="{folder}"', "train.steps=2", "data.valid_fraction=0.0"]
    )
    load_pieces(build_adapter(config), str(folder), quiet=True)
    for path in files:
        status = path.stat()
        path.write_bytes(b"\0" * status.st_size)
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
        path.chmod(0)
    trainer = train(config, tmp_path / "run", quiet=True)
    assert trainer.step == 2


# The built-in corpora's training batches: the data order an exact resume depends on. The same
# corpora and settings as the tiny runs of the other e2e tests, so their prepared data is shared.
CORPORA = {
    "bach": ["data.limit=8", "midi.window_bars=2", "midi.transpose=2"],
    "digits": [
        'data.modality="image"',
        'data.source="digits"',
        "data.limit=120",
        "image.size=16",
        "image.labels=true",
        "image.flip=true",
        "image.rotate=10.0",
    ],
    "folk": [
        'data.modality="text"',
        'data.source="folk"',
        'text.vocabulary="abc"',
        "text.window=64",
        "data.limit=2",
    ],
}


@pytest.fixture(scope="module", params=list(CORPORA))
def corpus(request):
    config = load_config(None, CORPORA[request.param])
    adapter = build_adapter(config)
    pieces = load_pieces(adapter, config.data.source, config.data.limit, quiet=True)
    return request.param, adapter.fitted(pieces), split(pieces, 0.0, 0.0)


def test_a_corpus_gives_the_same_batches_for_the_same_seed_and_after_a_restore(corpus):
    _, adapter, parts = corpus
    first, second, other = (samplers(adapter, parts, seed)[0] for seed in (3, 3, 4))
    assert same_draws(draws(first), draws(second))
    assert not torch.equal(draws(first)[0][0], draws(other)[0][0])
    state = first.state()
    expected = draws(first)
    second.restore(state)
    assert same_draws(draws(second), expected)


def test_a_corpus_gives_batches_of_the_models_shape_and_values(corpus):
    name, adapter, parts = corpus
    train_windows, _ = samplers(adapter, parts, seed=0)
    spec = adapter.spec
    batch, labels, _spans = train_windows.batch(32)
    assert batch.shape == (32, spec.channels, spec.segment, spec.width)
    if name == "bach":
        # one window per bar line that leaves a whole window (a piece shorter than one: one, padded)
        # (in each segment's own meter: the chorales in 3/4 have bars of 12 steps, not 16)
        window = spec.segment
        starts = [
            max(0, segment.info["steps"] - window) // segment.info["bar"] + 1
            for segment in adapter.model_view(parts["train"])
        ]
        assert len(train_windows) == sum(starts)
        assert set(batch.unique().tolist()) == {0.0, 1.0}
    if name == "digits":
        assert len(train_windows) == 120 and 0 <= batch.min() and batch.max() <= 1
        assert (
            labels.shape == (32,)
            and set(labels.tolist()) <= set(range(10))
            and adapter.classes[0] == "0"
        )
    elif name == "bach":  # chorales in 3/4 and in 4/4, left to the data: conditioned on meter
        assert adapter.classes == ("3/4", "4/4") and set(labels.tolist()) <= {0, 1}
    else:
        assert labels is None
    if name == "folk":
        assert torch.equal(batch.sum(dim=-1), torch.ones(32, 1, 64))  # one token a step
