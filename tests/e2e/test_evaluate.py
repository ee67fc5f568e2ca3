"""`muse eval` end to end on real files of every modality made here (another tool's output:
MIDI written by music21), on Inception features, and on trained models (tests/unit/test_evaluate.py
has the set metrics and the refusals)."""

import json
import math
import shutil

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image, ImageDraw

from muse_gan.measures.sets import inception_features, inception_network

from ..unit.test_cli import assert_one_clear_line, muse


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """Inception v3 weights as a file (random ones: the real ones would be a download)."""
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    weights = tmp_path_factory.mktemp("inception") / "inception.pth"
    torch.save(
        inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), weights
    )
    return weights


def test_inception_weights_from_a_file_give_pool_features(inception_weights):
    features = inception_features(inception_network(inception_weights), torch.rand(3, 1, 16, 16))
    assert features.shape == (3, 2048) and torch.isfinite(features).all()


# the command on folders of real files


@pytest.fixture(scope="module")
def chorale_folders(tmp_path_factory):
    """Six chorales as MIDI written by music21 (another tool's files), six others as MusicXML."""
    from music21 import converter

    from muse_gan.modalities.midi import PianoRollAdapter

    scores = PianoRollAdapter().corpora["bach"]()[:12]
    files, reference = tmp_path_factory.mktemp("music21-midi"), tmp_path_factory.mktemp("chorales")
    for path in scores[:6]:
        converter.parse(str(path)).write("midi", fp=str(files / f"{path.stem}.mid"))
    for path in scores[6:]:
        shutil.copy(path, reference / path.name)
    return files, reference


def test_mean_overlap_is_one_for_music_against_itself_and_lower_against_other_music(
    chorale_folders, tmp_path
):
    """What train.select_by = "overlap" ranks weights by: Bach against Bach, then block chords."""
    from muse_gan.core.store import load_pieces
    from muse_gan.evaluation.overlap import mean_overlap
    from muse_gan.measures.judge import Options
    from muse_gan.modalities.midi import PianoRollAdapter
    from muse_gan.modalities.midi.judge import MidiJudge

    from ..conftest import write_quartet

    adapter = PianoRollAdapter()
    judge = MidiJudge(adapter, Options(bars=2))
    chorales = judge.samples(
        "chorales", load_pieces(adapter, str(chorale_folders[1]), quiet=True), 40
    )
    for shift in range(6):
        write_quartet(tmp_path / "quartets" / f"{shift}.mid", shift=shift, bars=2)
    quartets = judge.samples(
        "quartets", load_pieces(adapter, str(tmp_path / "quartets"), quiet=True), 40
    )
    bach, blocks = judge.per_item(chorales), judge.per_item(quartets)
    assert mean_overlap(bach, bach) == pytest.approx(1.0, abs=1e-3)
    assert mean_overlap(bach, blocks) < 0.5  # measured: 0.25


def test_another_tools_midi_evaluates_without_a_model(chorale_folders, tmp_path):
    files, reference = chorale_folders
    result = muse(
        "eval",
        "--files",
        files,
        "--reference",
        reference,
        "-n",
        15,
        "--json",
        tmp_path / "r.json",
        "--markdown",
        tmp_path / "r.md",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["modality"] == "midi" and report["counts"]["reference"] == 15
    metrics = report["metrics"]
    assert {
        "empty_bar_rate",
        "polyphony",
        "pitch_class_entropy",
        "scale_consistency",
        "groove_consistency",
        "mean_tonal_distance",
        "pitch_range",
        "polyphony_rate",
    } <= set(metrics)
    assert 3 < metrics["polyphony"][files.name]["value"] < 4.5  # four voices, a rest here and there
    assert 0.3 < metrics["scale_consistency"][files.name]["overlap"] <= 1  # Bach against Bach
    assert "drum_pattern_rate" not in metrics  # no drums: the row is left out, not filled with NaN
    assert (tmp_path / "r.md").read_text().startswith("| metric | reference |")


def test_a_folder_against_itself_overlaps_fully(chorale_folders, tmp_path):
    files, _ = chorale_folders
    assert (
        muse(
            "eval", "--files", files, "--reference", files, "-n", 20, "--json", tmp_path / "r.json"
        ).exit_code
        == 0
    )
    for name, row in json.loads((tmp_path / "r.json").read_text())["metrics"].items():
        if row["reference"] is not None:
            assert row[files.name]["value"] == pytest.approx(row["reference"]), name
            assert row[files.name]["overlap"] == pytest.approx(1.0) and row[files.name][
                "kl"
            ] == pytest.approx(0, abs=1e-9)


def test_a_model_is_judged_against_its_held_out_data_with_its_likelihood(tiny_run, tmp_path):
    result = muse("eval", "--model", tiny_run, "-n", 6, "--bars", 2, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["generated"] == 6 and "held-out part" in report["reference"]
    assert (
        report["likelihood"]["unit"] == "nats per frame"
        and 0 < report["likelihood"]["value"] < 1000
    )
    assert "frame NLL" in result.output and "on the reference" in result.output


def test_a_gan_is_judged_and_says_it_has_no_likelihood(tiny_gan_run):
    result = muse("eval", "--model", tiny_gan_run, "-n", 4, "--bars", 2)
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
    result = muse(
        "eval",
        "--files",
        generated,
        "--reference",
        real,
        "--classifier-steps",
        60,
        "--json",
        tmp_path / "r.json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["modality"] == "image"
    metrics = report["metrics"]
    # each picture clearly one of two classes
    assert metrics["classifier_score"]["made"]["value"] > 1.5
    assert metrics["label_accuracy"]["made"]["value"] >= 0.9
    assert report["histograms"]["made"] == {"bar": 0.5, "disc": 0.5}
    assert 0 <= metrics["ndb"]["made"]["value"] <= 1 and metrics["ndb"]["reference"] is None


def test_pictures_get_fid_and_kid_with_inception_weights_from_a_file(tmp_path, inception_weights):
    # Inception is slow on a CPU
    real, generated = (
        shapes(tmp_path / "real", 2, 0),
        shapes(tmp_path / "made", 2, 1),
    )
    result = muse(
        "eval",
        "--files",
        generated,
        "--reference",
        real,
        "--classifier-steps",
        1,
        "--inception",
        inception_weights,
        "--json",
        tmp_path / "r.json",
    )
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
            tone = np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * seconds) * rng.uniform(
                0.2, 0.5
            )
            soundfile.write(folder / str(pitch) / "tone.wav", tone.astype(np.float32), 22050)
        return folder

    real, generated = notes(tmp_path / "real", 0), notes(tmp_path / "made", 1)
    result = muse("eval", "--files", generated, "--reference", real, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert (
        metrics["pitch_accuracy"]["made"]["value"] == 1.0
        and metrics["pitch_accuracy"]["reference"] == 1.0
    )
    assert metrics["spectral_centroid_hz"]["reference"] > 0 and "ndb" in metrics


def test_a_split_the_model_does_not_hold_out_says_what_to_do(tiny_run):
    assert_one_clear_line(
        muse("eval", "--model", tiny_run, "--split", "test"), "test", "--reference"
    )
