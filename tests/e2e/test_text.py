"""Text end to end: each family trained a few steps on the built-in folk tunes, saved, reloaded
and sampled; fine-tuned on tunes with tokens it never saw; ABC → MIDI from samples; bits per
character and `muse eval` (tests/unit/test_text.py reads, tokenizes and measures text)."""

import json
import math

import pytest

import muse_gan
from muse_gan.assembly import load_config
from muse_gan.core.store import load_pieces, split
from muse_gan.evaluation import likelihood
from muse_gan.modalities.text.adapter import text_of
from muse_gan.training import train

from ..unit.test_cli import assert_one_clear_line, muse
from ..unit.test_text import SESSION

TINY_TEXT = [
    'data.modality="text"',
    'data.source="folk"',
    "data.limit=40",
    "data.valid_fraction=0.05",
    'text.vocabulary="abc"',
    "text.window=32",
    "model.hidden=16",
    "model.layers=1",
    "model.head_hidden=16",
    "model.channels=4",
    "model.latent=8",
    "train.steps=4",
    "train.batch_size=8",
    "train.eval_every=2",
    "train.checkpoint_every=2",
    "train.sample_every=4",
    "train.log_every=2",
    'train.device="cpu"',
]


@pytest.fixture(scope="module", params=["rnn", "vae", "gan"])
def text_run(request, tmp_path_factory):
    """A tiny model of each family trained once on 40 files of the built-in folk tunes."""
    family = request.param
    run = tmp_path_factory.mktemp(f"folk-{family}") / "run"
    train(
        load_config(None, TINY_TEXT + [f'model.family="{family}"', "gan.critic_steps=1"]),
        run,
        quiet=True,
    )
    return family, run


def test_each_family_trains_saves_reloads_and_samples_tunes(text_run, tmp_path):
    _family, run = text_run
    assert (run / "samples" / "step_000004.abc").read_text().startswith("X:1\n")
    result = muse(
        "sample",
        "--model",
        run,
        "--modality",
        "text",
        "-n",
        3,
        "--seed",
        2,
        "-o",
        tmp_path / "tunes.abc",
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "tunes.abc").read_text()
    assert [line for line in text.splitlines() if line.startswith("X:")][:1] == ["X:1"]
    assert (
        muse("sample", "--model", run, "-n", 3, "--seed", 2, "-o", tmp_path / "again.abc").exit_code
        == 0
    )
    assert (tmp_path / "again.abc").read_text() == text
    # text may go to stdout
    assert muse("sample", "--model", run, "-n", 3, "--seed", 2).stdout == text


def test_compose_with_a_text_model_is_one_clear_line(text_run):
    assert_one_clear_line(
        muse("compose", "--model", text_run[1], "-o", "x.mid"), "text model", "muse sample"
    )


def test_fine_tuning_on_tunes_with_tokens_the_model_never_saw_keeps_its_vocabulary(
    text_run, tmp_path
):
    family, run = text_run
    model = muse_gan.load(run)
    tunes = tmp_path / "tunes"
    tunes.mkdir()
    (tunes / "mine.abc").write_text(SESSION.replace("K: G", "K: Ebdor") * 3)
    assert "K: Ebdor\n" not in model.adapter.vocabulary  # what the networks have no row for
    config = load_config(
        None,
        TINY_TEXT
        + [
            f'model.family="{family}"',
            "gan.critic_steps=1",
            "train.steps=2",
            f'data.source="{tunes}"',
            "data.valid_fraction=0.0",
        ],
    )
    tuned = train(config, tmp_path / "tuned", init=str(run), quiet=True)
    assert tuned.adapter.vocabulary == model.adapter.vocabulary
    again = muse_gan.load(tmp_path / "tuned")
    assert again.adapter.vocabulary == model.adapter.vocabulary and again.sample(seed=0)[0]


def test_music_export_writes_the_tunes_that_parse_and_names_the_others(text_run, tmp_path):
    _family, run = text_run
    result = muse("sample", "--model", run, "-n", 4, "--seed", 0, "-o", tmp_path / "tune.mid")
    written = sorted(path.name for path in tmp_path.glob("tune_*.mid"))
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped piece")]
    assert len(written) + len(skipped) == 4
    assert (result.exit_code == 0) == bool(written)
    assert all(path.read_bytes().startswith(b"MThd") for path in tmp_path.glob("tune_*.mid"))


def test_primer_top_k_and_length_for_token_by_token_models(text_run):
    family, run = text_run
    model = muse_gan.load(run)
    if family == "gan":
        assert_one_clear_line(
            muse("sample", "--model", run, "--top-k", 3), "--top-k", "only text RNN and VAE"
        )
        return
    primer = "X:1\nM: 6/8\nL: 1/8\nK: G\n|:GAG"
    tunes = model.sample(2, seed=0, primer=primer, length=40)
    assert all(tune.startswith(primer) for tune in tunes)
    # without the ABC grammar, which closes a tune this short with tokens of its choosing
    greedy = [model.sample(1, seed=seed, top_k=1, length=30, grammar=False)[0] for seed in (0, 1)]
    if family == "rnn":
        assert greedy[0] == greedy[1]  # one token to choose from: the seed no longer matters
    else:
        assert greedy[0] != greedy[1]  # the seed still draws the VAE's code
    assert_one_clear_line(muse("sample", "--model", run, "--top-p", 0), "--top-p 0")


def test_tunes_from_an_rnn_start_as_every_training_tune_does(text_run):
    family, run = text_run
    model = muse_gan.load(run)
    # the first line all training tunes share, kept in the model
    assert model.adapter.start == "X:1\n"
    if family == "rnn":
        assert all(tune.startswith("X:1\n") for tune in model.sample(3, seed=0, length=20))


def test_bits_per_character_of_a_text_model(text_run):
    family, run = text_run
    model = muse_gan.load(run)
    pieces = load_pieces(model.adapter, "folk", limit=40, quiet=True)
    valid = split(pieces, 0.2, 0.0)["valid"]
    report = likelihood(model, valid[:3])
    if family == "gan":
        assert report is None  # a GAN has no likelihood
        return
    assert report["unit"] == "bits per character" and report["pieces"] == 3
    # each piece's end counts as one
    characters = sum(len(text_of(piece.tensor)) + 1 for piece in valid[:3])
    assert report["frames"] == characters
    # an untrained model: about uniform
    assert 0 < report["value"] < math.log2(len(model.adapter.vocabulary)) + 2


def test_eval_judges_tunes_and_reports_bits_per_character(text_run, tmp_path):
    family, run = text_run
    result = muse("eval", "--model", run, "-n", 4, "--json", tmp_path / "report.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert {"characters", "abc_parse_rate", "js_1gram", "js_4gram"} <= set(report["metrics"])
    assert report["metrics"]["abc_parse_rate"]["reference"] >= 0.75  # real folk tunes
    if family != "gan":  # drawn through the ABC grammar, even by a model trained 4 steps
        for measure in ("abc_inner_bars_full", "abc_headers_complete"):
            assert report["metrics"][measure]["generated"]["value"] == 1.0, measure
    if family == "gan":
        assert report["likelihood"] is None
    else:
        assert (
            report["likelihood"]["unit"] == "bits per character"
            and report["likelihood"]["value"] > 0
        )
