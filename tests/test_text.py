"""Text end to end: ABC and plain text files written here and the built-in folk tunes; each family
trained a few steps on real ABC, saved, reloaded and sampled; ABC → MIDI; the text metrics."""

import json
import math
from collections import Counter

import pytest

import muse_gan
from muse_gan.adapters.text import TextAdapter, music_only, tune_bytes
from muse_gan.config import TextConfig
from muse_gan.data import Piece, load_pieces
from muse_gan.errors import DataError
from muse_gan.text_quality import abc_parse_rate, js_divergence, ngram_js_divergence

from .test_cli import assert_one_clear_line, muse

SESSION = """X: 7
T: The Kesh
R: jig
M: 6/8
L: 1/8
K: G
% a comment
|:GAG GAB|ABA ABd|edd gdd|edB dBA:|

X: 8
T: Out on the Ocean
M: 6/8
L: 1/8
K: G
|:D|GAB ^c2d|e2f g3:|
"""
TINY_TEXT = ["data.modality=\"text\"", "data.source=\"folk\"", "data.limit=40", "data.valid_fraction=0.2",
             "text.vocabulary=\"abc\"", "text.window=32", "model.hidden=16", "model.layers=1", "model.head_hidden=16",
             "model.channels=4", "model.latent=8", "train.steps=4", "train.batch_size=8", "train.eval_every=2",
             "train.checkpoint_every=2", "train.sample_every=4", "train.log_every=2", "train.device=\"cpu\""]


def adapter(**settings) -> TextAdapter:
    return TextAdapter(TextConfig(**settings))


def test_abc_files_split_into_tunes_with_only_the_music_headers(tmp_path):
    (tmp_path / "session.abc").write_text(SESSION)
    tunes = adapter().read(tmp_path / "session.abc")
    assert len(tunes) == 2
    assert tunes[0] == "X:1\nM: 6/8\nL: 1/8\nK: G\n|:GAG GAB|ABA ABd|edd gdd|edB dBA:|\n"
    assert "Ocean" not in tunes[1] and "^c2d" in tunes[1]


def test_plain_text_splits_at_blank_lines(tmp_path):
    (tmp_path / "poem.txt").write_text("Roses are red,\nviolets blue.\n\n\nSugar is sweet\n")
    assert adapter().read(tmp_path / "poem.txt") == ["Roses are red,\nviolets blue.\n", "Sugar is sweet\n"]


def test_abc_tokens_are_notes_durations_bar_lines_and_headers():
    abc = adapter(vocabulary="abc")
    assert abc.tokens("K: G\n|:^c'2 =B,/2 z3/2:|[1 d|]") == [
        "K: G\n", "|:", "^c'", "2", " ", "=B,", "/2", " ", "z", "3/2", ":|", "[1", " ", "d", "|]"]


@pytest.mark.parametrize("vocabulary", ["char", "abc"])
def test_the_vocabulary_round_trips_and_unknown_tokens_are_marked(vocabulary):
    tunes = [music_only(tune) for tune in SESSION.split("\n\n")]
    pieces = [Piece(f"{number}.abc", adapter().encode(tune)) for number, tune in enumerate(tunes)]
    fitted = adapter(vocabulary=vocabulary).fitted(pieces)
    again = TextAdapter.from_dict(fitted.to_dict())
    assert again.vocabulary == fitted.vocabulary and again.settings == fitted.settings
    for tune in tunes:
        frames = fitted.one_hot(fitted.token_ids(tune))
        assert frames.shape == (1, len(fitted.token_ids(tune)), len(fitted.vocabulary))
        assert fitted.decode(frames) == tune  # the end token stops decoding
    assert fitted.decode(fitted.one_hot(fitted.token_ids("G~A"))) == "G?A"  # "~" is not in these tunes


def test_binary_invalid_and_empty_files_are_skipped_one_line_each_with_a_count(tmp_path, capsys):
    (tmp_path / "good.abc").write_text(SESSION)
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x00\x00\x00")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "empty.abc").write_text("  \n\n")
    pieces = load_pieces(adapter(), str(tmp_path), quiet=True)
    err = capsys.readouterr().err
    assert len(pieces) == 2
    for name, words in (("binary.txt", "binary"), ("latin1.txt", "not UTF-8"), ("empty.abc", "empty")):
        assert sum(name in line and words in line for line in err.splitlines()) == 1
    assert "skipped 3 of 4 files" in err


def test_valid_abc_becomes_music_and_invalid_abc_is_a_clear_error():
    tune = music_only(SESSION.split("\n\n")[0])
    assert tune_bytes(tune, ".mid").startswith(b"MThd")
    assert tune_bytes(tune, ".wav").startswith(b"RIFF")
    assert tune_bytes(tune, ".png").startswith(b"\x89PNG")
    with pytest.raises(DataError, match="no notes|not valid ABC"):
        tune_bytes("X:1\nK:G\n|||\n", ".mid")


def test_the_built_in_folk_tunes_parse():
    folk = adapter(vocabulary="abc")
    pieces = load_pieces(folk, "folk", limit=3, quiet=True)
    texts = [bytes(piece.roll.tolist()).decode() for piece in pieces[::50][:10]]
    assert len(pieces) > 100 and all(text.startswith("X:1\n") for text in texts)
    assert abc_parse_rate(texts) >= 0.9


@pytest.fixture(scope="module", params=["rnn", "vae", "gan"])
def text_run(request, tmp_path_factory):
    from muse_gan.config import load_config
    from muse_gan.training import train

    family = request.param
    run = tmp_path_factory.mktemp(f"folk-{family}") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSE_GAN_CACHE", str(tmp_path_factory.mktemp("folk-cache")))
        train(load_config(None, TINY_TEXT + [f"model.family=\"{family}\"", "gan.critic_steps=1"]), run, quiet=True)
    return family, run


def test_each_family_trains_saves_reloads_and_samples_tunes(text_run, tmp_path):
    family, run = text_run
    assert (run / "samples" / "step_000004.abc").read_text().startswith("X:1\n")
    result = muse("sample", "--model", run, "--modality", "text", "-n", 3, "--seed", 2, "-o", tmp_path / "tunes.abc")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "tunes.abc").read_text()
    assert [line for line in text.splitlines() if line.startswith("X:")][:1] == ["X:1"]
    assert muse("sample", "--model", run, "-n", 3, "--seed", 2, "-o", tmp_path / "again.abc").exit_code == 0
    assert (tmp_path / "again.abc").read_text() == text
    assert muse("sample", "--model", run, "-n", 3, "--seed", 2).stdout == text  # text may go to stdout


def test_compose_with_a_text_model_is_one_clear_line(text_run):
    assert_one_clear_line(muse("compose", "--model", text_run[1], "-o", "x.mid"), "text model", "muse sample")


def test_fine_tuning_on_tunes_with_tokens_the_model_never_saw_keeps_its_vocabulary(text_run, tmp_path):
    from muse_gan.config import load_config
    from muse_gan.training import train

    family, run = text_run
    model = muse_gan.load(run)
    tunes = tmp_path / "tunes"
    tunes.mkdir()
    (tunes / "mine.abc").write_text(SESSION.replace("K: G", "K: Ebdor") * 3)
    assert "K: Ebdor\n" not in model.adapter.vocabulary  # what the networks have no row for
    config = load_config(None, TINY_TEXT + [f"model.family=\"{family}\"", "gan.critic_steps=1", "train.steps=2",
                                            f"data.source=\"{tunes}\"", "data.valid_fraction=0.0"])
    tuned = train(config, tmp_path / "tuned", init=str(run), quiet=True)
    assert tuned.adapter.vocabulary == model.adapter.vocabulary
    again = muse_gan.load(tmp_path / "tuned")
    assert again.adapter.vocabulary == model.adapter.vocabulary and again.sample(seed=0)[0]


def test_music_export_writes_the_tunes_that_parse_and_names_the_others(text_run, tmp_path):
    family, run = text_run
    result = muse("sample", "--model", run, "-n", 4, "--seed", 0, "-o", tmp_path / "tune.mid")
    written = sorted(path.name for path in tmp_path.glob("tune_*.mid"))
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped tune")]
    assert len(written) + len(skipped) == 4
    assert (result.exit_code == 0) == bool(written)
    assert all(path.read_bytes().startswith(b"MThd") for path in tmp_path.glob("tune_*.mid"))


def test_primer_top_k_and_length_for_token_by_token_models(text_run):
    family, run = text_run
    model = muse_gan.load(run)
    if family == "gan":
        assert_one_clear_line(muse("sample", "--model", run, "--top-k", 3), "--top-k", "only text RNN and VAE")
        return
    primer = "X:1\nM: 6/8\nL: 1/8\nK: G\n|:GAG"
    tunes = model.sample(2, seed=0, primer=primer, length=40)
    assert all(tune.startswith(primer) for tune in tunes)
    greedy = [model.sample(1, seed=seed, top_k=1, length=30)[0] for seed in (0, 1)]
    if family == "rnn":
        assert greedy[0] == greedy[1]  # one token to choose from: the seed no longer matters
    else:
        assert greedy[0] != greedy[1]  # the seed still draws the VAE's code
    assert_one_clear_line(muse("sample", "--model", run, "--top-p", 0), "--top-p 0")


def test_tunes_from_an_rnn_start_as_every_training_tune_does(text_run):
    family, run = text_run
    model = muse_gan.load(run)
    assert model.adapter.start == "X:1\n"  # the first line all training tunes share, kept in the model
    if family == "rnn":
        assert all(tune.startswith("X:1\n") for tune in model.sample(3, seed=0, length=20))


def test_js_divergence_and_ngrams_by_hand():
    assert js_divergence(Counter("aabb"), Counter("aabb")) == 0.0
    assert js_divergence(Counter("aa"), Counter("bb")) == pytest.approx(1.0)  # no overlap: 1 bit
    # p = (3/4, 1/4), q = (1/4, 3/4), their middle (1/2, 1/2); both halves of JS are equal:
    expected = 0.5 * (0.75 * math.log2(0.75 / 0.5) + 0.25 * math.log2(0.25 / 0.5)) * 2
    assert js_divergence(Counter("aaab"), Counter("abbb")) == pytest.approx(expected)
    assert ngram_js_divergence(["abab"], ["abab"]) == {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
    assert math.isnan(js_divergence(Counter(), Counter("a")))


def test_bits_per_character_of_a_text_model(text_run):
    from muse_gan.data import split
    from muse_gan.text_quality import bits_per_character

    family, run = text_run
    if family == "gan":
        pytest.skip("a GAN has no likelihood")
    model = muse_gan.load(run)
    pieces = load_pieces(model.adapter, "folk", limit=40, quiet=True)
    valid = split(pieces, 0.2, 0.0)["valid"]
    bits = bits_per_character(model.objective, valid[:3], model.adapter)
    assert 0 < bits < math.log2(len(model.adapter.vocabulary)) + 2  # an untrained model: about uniform


def test_a_tune_without_a_unit_length_takes_the_abc_standards_default():
    from muse_gan.scores import abc_to_midi

    eighths = abc_to_midi("X:1\nM:6/8\nK:G\nGAB c2d|\n", default_tempo=120)  # no L: under 6/8: 1/8
    sixteenths = abc_to_midi("X:1\nM:2/4\nK:G\nGAB c2d|\n", default_tempo=120)  # under 2/4: 1/16
    first = eighths.instruments[0].notes[0]
    assert first.end - first.start == pytest.approx(0.25)  # an eighth at 120 quarter notes a minute
    note = sixteenths.instruments[0].notes[0]
    assert note.end - note.start == pytest.approx(0.125)


def test_eval_judges_tunes_and_reports_bits_per_character(text_run, tmp_path):
    family, run = text_run
    result = muse("eval", "--model", run, "-n", 4, "--json", tmp_path / "report.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert {"characters", "abc_parse_rate", "js_1gram", "js_4gram"} <= set(report["metrics"])
    assert report["metrics"]["abc_parse_rate"]["reference"] >= 0.75  # real folk tunes
    if family == "gan":
        assert report["likelihood"] is None
    else:
        assert report["likelihood"]["unit"] == "bits per character" and report["likelihood"]["value"] > 0
