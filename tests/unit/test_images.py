"""Image models without training: the classifier's statistics on predictions worked out by hand,
variety on hand-made and real digits, --scale, and settings refused before any data is read.
Models trained on the digits: tests/e2e/test_images.py."""

import numpy as np
import pytest
import torch
from PIL import Image

import muse_gan
from muse_gan.core.store import load_pieces
from muse_gan.modalities.image.adapter import ImageAdapter
from muse_gan.modalities.image.classifier import class_shares, classifier_score, label_accuracy
from muse_gan.modalities.image.settings import ImageConfig
from muse_gan.modalities.image.variety import variety, variety_by_class
from muse_gan.models.conv import class_spread

from .test_cli import assert_one_clear_line, muse


def test_classifier_statistics_on_hand_computed_predictions():
    certain_and_even = torch.eye(4)  # each image surely one class, every class once
    assert classifier_score(certain_and_even) == pytest.approx(4.0)
    unsure = torch.full((4, 4), 0.25)
    assert classifier_score(unsure) == pytest.approx(1.0)
    one_class = torch.tensor([[1.0, 0, 0, 0]] * 4)  # sure, but always the same class
    assert classifier_score(one_class) == pytest.approx(1.0)
    lopsided = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert class_shares(lopsided).tolist() == pytest.approx([2 / 3, 1 / 3])
    assert label_accuracy(lopsided, torch.tensor([0, 0, 0])) == pytest.approx(2 / 3)


def test_a_head_for_the_wrong_kind_of_data_is_refused_before_any_data_is_read(tmp_path):
    result = muse(
        "train",
        "--modality",
        "image",
        "--model",
        "rnn",
        "--set",
        "model.head=pitchwise",
        "--data",
        tmp_path / "nowhere",
        "--out",
        tmp_path / "run",
    )
    assert_one_clear_line(
        result, "model.head: 'pitchwise' models binary data", "continuous", "gaussian"
    )


def test_variety_on_hand_made_pictures():
    black, white = torch.zeros(1, 16, 16), torch.ones(1, 16, 16)
    # shrunk to 8 x 8: 64 pixels that differ by 1, a distance of 8
    assert variety(torch.stack([black, white])) == pytest.approx(8.0)
    # three pairs: black-white 8, black-black 0, white-black 8
    assert variety(torch.stack([black, white, black])) == pytest.approx(16 / 3)
    left = torch.zeros(1, 16, 16)
    left[..., :8] = 1  # half the pixels: a distance of sqrt(32) from black
    by_class = variety_by_class(torch.stack([black, left, white, white]), ["7", "7", "10", "10"])
    assert list(by_class) == ["7", "10"]  # numbers in numeric order
    assert by_class == {"7": pytest.approx(32**0.5), "10": 0.0}


def test_real_digits_are_more_varied_than_one_digit_drawn_again_and_again():
    adapter = ImageAdapter(ImageConfig(size=16, labels=True))
    pieces = load_pieces(adapter, "digits", quiet=True)[:300]
    images = adapter.values(torch.stack([piece.tensor for piece in pieces]))
    labels = [piece.label for piece in pieces]
    real = variety_by_class(images, labels)
    sevens = images[[number for number, label in enumerate(labels) if label == "7"]]
    one_seven = sevens[:1].expand(len(sevens), -1, -1, -1)
    assert variety(one_seven) == 0.0
    slightly_moved = one_seven + 0.02 * torch.randn(one_seven.shape)
    assert variety(slightly_moved) < 0.2 * real["7"]
    assert set(real) == {str(digit) for digit in range(10)}
    assert all(value > 1.0 for value in real.values())  # measured: 1.4 (zeros) to 2.4 (ones)
    # a whole set mixes classes: more varied than the pictures of one class
    assert variety(images) > max(real.values())


def test_class_spread_is_each_items_classes_standard_deviation():
    features = torch.tensor([[0.0, 2.0], [2.0, 2.0], [5.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # class 0: standard deviations 1 and 0, mean 0.5; class 1 is one item: no spread
    assert class_spread(features, labels).tolist() == pytest.approx([0.5, 0.5, 0.0], abs=1e-3)
    # no labels: one class of three; variances (0, 2, 5): 114/27, (2, 2, 1): 6/27
    both = ((114 / 27) ** 0.5 + (6 / 27) ** 0.5) / 2
    assert class_spread(features, None).tolist() == pytest.approx([both] * 3, abs=1e-3)


def test_scale_makes_every_pixel_a_square(tmp_path):
    result = muse(
        "sample", "--model", "digits-gan", "-n", 4, "--seed", 1, "--label", 7,
        "--scale", 3, "-o", tmp_path / "sevens.png",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scaled = Image.open(tmp_path / "sevens.png")
    assert scaled.size == (2 * 48 + 3 * 2,) * 2  # two rows of two 48-pixel digits, 2-pixel borders
    items = muse_gan.load("digits-gan").sample(4, seed=1, label="7")
    plain = np.asarray(items[0])
    top_left = np.asarray(scaled.crop((2, 2, 50, 50)))
    assert (top_left == plain.repeat(3, 0).repeat(3, 1)).all()
    assert (tmp_path / "sevens.png").read_bytes() == items.scaled(3).file_bytes(".png")


def test_scale_makes_an_animations_frames_bigger(tmp_path):
    result = muse(
        "animate", "--model", "digits-gan", "--frames", 3, "--label", 3, "--scale", 5,
        "-o", tmp_path / "threes.gif",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    gif = Image.open(tmp_path / "threes.gif")
    assert gif.size == (80, 80) and gif.n_frames == 3


@pytest.mark.parametrize("command", [["sample", "x.png"], ["animate", "x.gif"]])
@pytest.mark.parametrize("scale", [0, 17, -2])
def test_a_scale_out_of_range_is_one_line_and_status_2(tmp_path, command, scale):
    name, target = command
    result = muse(name, "--model", "digits-gan", "--scale", scale, "-o", tmp_path / target)
    assert_one_clear_line(result, f"--scale {scale}", "1 to 16")
    assert result.exit_code == 2 and not (tmp_path / target).exists()


def test_only_pictures_are_scaled(tmp_path):
    result = muse(
        "sample", "--model", "folk-rnn", "-n", 1, "--length", 10, "--scale", 2,
        "-o", tmp_path / "tune.abc",
    )  # fmt: skip
    assert_one_clear_line(result, "--scale", "only pictures")
    assert result.exit_code == 2 and not (tmp_path / "tune.abc").exists()
