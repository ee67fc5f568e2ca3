"""Image models without training: the classifier's statistics on predictions worked out by hand,
and settings refused before any data is read. Models trained on the digits: tests/e2e/test_images.py."""

import pytest
import torch

from muse_gan.modalities.image.classifier import class_shares, classifier_score, label_accuracy

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
