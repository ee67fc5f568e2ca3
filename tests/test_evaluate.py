"""`muse eval`: the set metrics on hand-computed fixtures, then the command end to end on real
files of every modality made here (another tool's output: MIDI written by music21)."""

import json
import math
import shutil

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image, ImageDraw

from muse_gan.set_metrics import frechet_distance, inception_features, inception_network, kernel_distance, kmeans, ndb

from .conftest import TINY
from .test_cli import assert_one_clear_line, muse

# set metrics


def two_clusters(count: int, generator: torch.Generator, share_near: float = 0.5) -> torch.Tensor:
    """Points around (0, 0) (a ``share_near`` of them) and around (10, 10)."""
    near = int(count * share_near)
    centres = torch.tensor([[0.0, 0.0]] * near + [[10.0, 10.0]] * (count - near))
    return centres + torch.randn(count, 2, generator=generator) * 0.5


def test_kmeans_finds_two_obvious_clusters():
    centres = kmeans(two_clusters(200, torch.Generator().manual_seed(0)), 2)
    assert sorted(centres.round().abs().sum(1).tolist()) == [0.0, 20.0]


def test_kmeans_asks_for_no_more_cells_than_distinct_points():
    assert len(kmeans(torch.tensor([[1.0], [1.0], [2.0]]), 5)) == 2


def test_ndb_counts_the_cells_whose_shares_differ():
    generator = torch.Generator().manual_seed(1)
    reference = two_clusters(400, generator)
    same = ndb(two_clusters(400, generator), reference, bins=2)
    lopsided = ndb(two_clusters(400, generator, share_near=0.9), reference, bins=2)  # 90% where the data has 50%
    assert (same.different, same.bins) == (0, 2)
    assert (lopsided.different, lopsided.share) == (2, 1.0)


def test_ndb_counts_correlated_rows_as_the_samples_behind_them():
    generator = torch.Generator().manual_seed(2)
    reference = two_clusters(40, generator).repeat_interleave(25, dim=0)  # 40 sounds of 25 alike frames
    generated = two_clusters(40, generator, share_near=0.65).repeat_interleave(25, dim=0)
    assert ndb(generated, reference, bins=2).different == 2  # 1,000 rows each: 65% against 50% looks certain
    assert ndb(generated, reference, bins=2, samples=(40, 40)).different == 0  # 40 sounds each: it is not


def test_frechet_distance_by_hand():
    # 1-D: FID = (μ1 − μ2)² + (σ1 − σ2)²; first: mean 0, variance 2 (n − 1); second: mean 3, variance 8
    first = torch.tensor([[-1.0], [1.0], [-1.0], [1.0], [0.0], [0.0]]) * math.sqrt(2 * 5 / 4)
    second = 3 + 2 * first
    assert frechet_distance(first, first) == pytest.approx(0, abs=1e-9)
    assert frechet_distance(first, second) == pytest.approx(3 ** 2 + (math.sqrt(2) - math.sqrt(8)) ** 2)
    shifted = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(shifted, shifted + torch.tensor([1.0, 2.0, 0.0, 0.0])) == pytest.approx(5.0)


def test_kernel_distance_by_hand_and_near_zero_for_one_distribution():
    # k(x, y) = (xy + 1)³ with one feature: within X 1, within Y 8, across 1 → 1 + 8 − 2
    assert kernel_distance(torch.zeros(2, 1), torch.ones(2, 1)) == pytest.approx(7.0)
    generator = torch.Generator().manual_seed(0)
    same = kernel_distance(torch.randn(300, 8, generator=generator), torch.randn(300, 8, generator=generator))
    apart = kernel_distance(torch.randn(300, 8, generator=generator), 1 + torch.randn(300, 8, generator=generator))
    assert abs(same) < 0.05 < apart
    assert math.isnan(kernel_distance(torch.zeros(1, 3), torch.zeros(5, 3)))


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """Inception v3 weights as a file (random ones: the real ones would be a download)."""
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    weights = tmp_path_factory.mktemp("inception") / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), weights)
    return weights


def test_inception_weights_from_a_file_give_pool_features(inception_weights):
    features = inception_features(inception_network(inception_weights), torch.rand(3, 1, 16, 16))
    assert features.shape == (3, 2048) and torch.isfinite(features).all()


def test_a_file_that_is_not_inception_weights_is_one_clear_line(tmp_path):
    (tmp_path / "digits").mkdir()
    for name in ("a.png", "b.png"):
        Image.new("L", (8, 8), 255).save(tmp_path / "digits" / name)
    weights = tmp_path / "resnet.pth"
    torch.save({"conv.weight": torch.zeros(1)}, weights)
    result = muse("eval", "--files", tmp_path / "digits", "--reference", tmp_path / "digits", "--inception", weights)
    assert_one_clear_line(result, str(weights), "Inception")


# the command on folders of real files


@pytest.fixture(scope="module")
def chorale_folders(tmp_path_factory):
    """Six chorales as MIDI written by music21 (another tool's files), six others as MusicXML."""
    from music21 import converter

    from muse_gan.adapters.pianoroll import PianoRollAdapter

    scores = PianoRollAdapter().corpora["bach"]()[:12]
    files, reference = tmp_path_factory.mktemp("music21-midi"), tmp_path_factory.mktemp("chorales")
    for path in scores[:6]:
        converter.parse(str(path)).write("midi", fp=str(files / f"{path.stem}.mid"))
    for path in scores[6:]:
        shutil.copy(path, reference / path.name)
    return files, reference


def test_mean_overlap_is_one_for_music_against_itself_and_lower_against_other_music(chorale_folders, tmp_path):
    """What train.select_by = "overlap" ranks weights by: Bach against Bach, then block chords."""
    from muse_gan.adapters.pianoroll import PianoRollAdapter
    from muse_gan.data import load_pieces
    from muse_gan.evaluate import mean_overlap
    from muse_gan.judges import MidiJudge, Options

    from .conftest import write_quartet

    adapter = PianoRollAdapter()
    judge = MidiJudge(adapter, Options(bars=2))
    chorales = judge.samples("chorales", load_pieces(adapter, str(chorale_folders[1]), quiet=True), 40)
    for shift in range(6):
        write_quartet(tmp_path / "quartets" / f"{shift}.mid", shift=shift, bars=2)
    quartets = judge.samples("quartets", load_pieces(adapter, str(tmp_path / "quartets"), quiet=True), 40)
    bach, blocks = judge.per_item(chorales), judge.per_item(quartets)
    assert mean_overlap(bach, bach) == pytest.approx(1.0, abs=1e-3)
    assert mean_overlap(bach, blocks) < 0.5  # measured: 0.25


def test_mean_overlap_scores_a_metric_the_samples_never_define_as_no_overlap():
    """Every ranking averages over the reference's metrics: silence (no tonal distance) can't
    drop a metric it fails and so rank above music that has it."""
    from muse_gan.evaluate import mean_overlap

    reference = {"polyphony": np.array([3.0, 4.0, 4.0]), "tonal_distance": np.array([0.8, 0.9, 1.0]),
                 "drum_pattern_rate": np.array([math.nan] * 3)}  # undefined in the reference: left out
    samples = {"polyphony": np.array([3.0, 4.0, 4.0]), "tonal_distance": np.array([math.nan] * 3),
               "drum_pattern_rate": np.array([0.5] * 3)}
    assert mean_overlap(reference, samples) == pytest.approx(0.5, abs=1e-3)  # (1 + 0) / 2


def test_another_tools_midi_evaluates_without_a_model(chorale_folders, tmp_path):
    files, reference = chorale_folders
    result = muse("eval", "--files", files, "--reference", reference, "-n", 15, "--json", tmp_path / "r.json",
                  "--markdown", tmp_path / "r.md")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["modality"] == "midi" and report["counts"]["reference"] == 15
    metrics = report["metrics"]
    assert {"empty_bar_rate", "polyphony", "pitch_class_entropy", "scale_consistency", "groove_consistency",
            "mean_tonal_distance", "pitch_range", "polyphony_rate"} <= set(metrics)
    assert 3 < metrics["polyphony"][files.name]["value"] < 4.5  # four voices, a rest here and there
    assert 0.3 < metrics["scale_consistency"][files.name]["overlap"] <= 1  # Bach against Bach
    assert "drum_pattern_rate" not in metrics  # no drums: the row is left out, not filled with NaN
    assert (tmp_path / "r.md").read_text().startswith("| metric | reference |")


def test_a_folder_against_itself_overlaps_fully(chorale_folders, tmp_path):
    files, _ = chorale_folders
    assert muse("eval", "--files", files, "--reference", files, "-n", 20, "--json", tmp_path / "r.json").exit_code == 0
    for name, row in json.loads((tmp_path / "r.json").read_text())["metrics"].items():
        if row["reference"] is not None:
            assert row[files.name]["value"] == pytest.approx(row["reference"]), name
            assert row[files.name]["overlap"] == pytest.approx(1.0) and row[files.name]["kl"] == pytest.approx(0, abs=1e-9)


def test_a_model_is_judged_against_its_held_out_data_with_its_likelihood(tiny_run, tmp_path):
    result = muse("eval", "--model", tiny_run, "-n", 6, "--bars", 2, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["generated"] == 6 and "held-out part" in report["reference"]
    assert report["likelihood"]["unit"] == "nats per frame" and 0 < report["likelihood"]["value"] < 1000
    assert "frame NLL" in result.output and "on the reference" in result.output


def test_a_gan_is_judged_and_says_it_has_no_likelihood(tmp_path):
    run = tmp_path / "gan"
    options = sum((["--set", item] for item in TINY + ["model.channels=4", "model.latent=4", "gan.critic_steps=1"]), [])
    assert muse("train", "--model", "gan", "--out", run, "--quiet", *options).exit_code == 0
    result = muse("eval", "--model", run, "-n", 4, "--bars", 2)
    assert result.exit_code == 0, result.output
    assert "polyphony" in result.output and "no likelihood" in result.output


def shapes(folder, count: int, seed: int):
    """Pictures of two kinds in class folders: a bar across ("bar") or a filled disc ("disc")."""
    rng = np.random.default_rng(seed)
    for kind in ("bar", "disc"):
        (folder / kind).mkdir(parents=True)
        for number in range(count):
            picture = Image.new("L", (16, 16), 0)
            draw = ImageDraw.Draw(picture)
            x, y = rng.integers(3, 7, size=2)
            if kind == "bar":
                draw.rectangle([1, y, 14, y + 3], fill=255)
            else:
                draw.ellipse([x, y, x + 7, y + 7], fill=255)
            picture.save(folder / kind / f"{number}.png")
    return folder


def test_pictures_get_a_classifier_score_class_shares_and_ndb(tmp_path):
    real, generated = shapes(tmp_path / "real", 30, 0), shapes(tmp_path / "made", 20, 1)
    result = muse("eval", "--files", generated, "--reference", real, "--classifier-steps", 60,
                  "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["modality"] == "image"
    metrics = report["metrics"]
    assert metrics["classifier_score"]["made"]["value"] > 1.5  # each picture clearly one of two classes
    assert metrics["label_accuracy"]["made"]["value"] >= 0.9
    assert report["histograms"]["made"] == {"bar": 0.5, "disc": 0.5}
    assert 0 <= metrics["ndb"]["made"]["value"] <= 1 and metrics["ndb"]["reference"] is None


def test_pictures_get_fid_and_kid_with_inception_weights_from_a_file(tmp_path, inception_weights):
    real, generated = shapes(tmp_path / "real", 2, 0), shapes(tmp_path / "made", 2, 1)  # Inception is slow on a CPU
    result = muse("eval", "--files", generated, "--reference", real, "--classifier-steps", 1,
                  "--inception", inception_weights, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert metrics["fid"]["made"]["value"] >= 0 and math.isfinite(metrics["kid"]["made"]["value"])


def test_sounds_get_pitch_accuracy_from_their_folders(tmp_path):
    def notes(folder, seed):
        """A one-second tone in each pitch's folder (one each: pYIN takes a third of a second a note)."""
        rng = np.random.default_rng(seed)
        seconds = np.arange(22050) / 22050
        for pitch in (57, 64, 69):
            (folder / str(pitch)).mkdir(parents=True)
            tone = np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * seconds) * rng.uniform(0.2, 0.5)
            soundfile.write(folder / str(pitch) / "tone.wav", tone.astype(np.float32), 22050)
        return folder

    real, generated = notes(tmp_path / "real", 0), notes(tmp_path / "made", 1)
    result = muse("eval", "--files", generated, "--reference", real, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert metrics["pitch_accuracy"]["made"]["value"] == 1.0 and metrics["pitch_accuracy"]["reference"] == 1.0
    assert metrics["spectral_centroid_hz"]["reference"] > 0 and "ndb" in metrics


TUNES = ["X:1\nT:Up\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n",
         "X:2\nT:Down\nM:3/4\nL:1/8\nK:D\nf2ed cB|A2F2 D2|E2FG AB|d6|\n"]


def test_abc_tunes_get_a_parse_rate_and_ngram_divergences(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "made").mkdir()
    (tmp_path / "real" / "tunes.abc").write_text("\n".join(TUNES))
    (tmp_path / "made" / "tunes.abc").write_text(TUNES[0] + "\nX:3\nM:4/4\nK:C\n|: :| z z |\n")
    result = muse("eval", "--files", tmp_path / "made", "--reference", tmp_path / "real", "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert metrics["abc_parse_rate"]["reference"] == 1.0 and metrics["abc_parse_rate"]["made"]["value"] == 0.5
    assert 0 < metrics["js_1gram"]["made"]["value"] < metrics["js_4gram"]["made"]["value"] <= 1


@pytest.mark.parametrize("args, words", [
    ([], ["--model", "--files"]),
    (["--model", "bach-rnn", "--files", "."], ["--model", "--files"]),
    (["--files", "/no/such/folder"], ["/no/such/folder"]),
    (["--model", "bach-rnn", "--modality", "image"], ["image", "midi"]),
    (["--model", "bach-rnn", "--temperature", "0"], ["--temperature"]),
    (["--model", "folk-rnn", "--reference", "bach"], ["--reference bach:", "no such file", "built-in data here: folk"]),
])
def test_bad_eval_options_are_one_clear_line(args, words):
    assert_one_clear_line(muse("eval", *args), *words)


def test_a_split_the_model_does_not_hold_out_says_what_to_do(tiny_run):
    assert_one_clear_line(muse("eval", "--model", tiny_run, "--split", "test"), "test", "--reference")


def test_an_empty_folder_of_generated_files_is_one_clear_line(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "x.mid").write_bytes(b"not midi")
    assert_one_clear_line(muse("eval", "--files", tmp_path, "--reference", tmp_path), "usable")
