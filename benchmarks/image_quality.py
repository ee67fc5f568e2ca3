"""Do generated digits look like digits? A classifier trained on real digits judges them.

A small CNN (muse_gan.modalities.image.classifier) is trained on the real training-split images
of the first model's data; then, side by side: held-out real images (valid + test split: the reference row)
and ``--count`` images from each model (class-conditional models: an equal number asked for
each class, so "label accuracy" is the share classified as the asked class).

    python benchmarks/image_quality.py runs/digits-gan runs/digits-vae runs/digits-rnn [--count 1000]
"""

from __future__ import annotations

import argparse

import torch

import muse_gan
from muse_gan.core.samplers import class_indices
from muse_gan.evaluation import evaluation_pieces
from muse_gan.modalities.image.classifier import (
    class_shares,
    classifier_score,
    label_accuracy,
    train_classifier,
)


def real_images(model, part: str):
    """Images and class indices of the model's data, ``part`` "train" or "held out"."""
    adapter = model.adapter
    chosen = evaluation_pieces(
        model.config, adapter, None, "train" if part == "train" else "held-out", quiet=True
    )
    return adapter.values(torch.stack([piece.tensor for piece in chosen])), class_indices(
        adapter, chosen
    )


def generated(model, count: int, temperature: float):
    """``count`` images and the classes they were asked for (None for unconditional models)."""
    classes = model.adapter.classes
    if not classes:
        return model.sample(count, seed=0, temperature=temperature).tensors, None
    per_class = count // len(classes)
    images = [
        model.sample(per_class, seed=index, label=name, temperature=temperature).tensors
        for index, name in enumerate(classes)
    ]
    return torch.cat(images), torch.arange(len(classes)).repeat_interleave(per_class)


def row(name: str, probabilities, labels, reference_score: float | None) -> str:
    score = classifier_score(probabilities)
    ratio = "" if reference_score is None else f"{score / reference_score:.3f}"
    accuracy = "" if labels is None else f"{label_accuracy(probabilities, labels):.3f}"
    shares = class_shares(probabilities)
    return (
        f"| {name} | {len(probabilities)} | {score:.3f} | {ratio} | {accuracy} | "
        f"{shares.min():.3f}-{shares.max():.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", help="image model run folders or checkpoints")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (RNN and binary data)"
    )
    arguments = parser.parse_args()
    models = {name: muse_gan.load(name) for name in arguments.models}
    first = next(iter(models.values()))
    images, labels = real_images(first, "train")
    classifier = train_classifier(images, labels, len(first.adapter.classes))
    held_out, held_out_labels = real_images(first, "held out")
    real = classifier.probabilities(held_out)
    reference = classifier_score(real)
    print(
        "| images | count | classifier score | of real | label accuracy | class shares (min-max) |"
    )
    print("|---|---|---|---|---|---|")
    print(row("real, held out", real, held_out_labels, None))
    shares = {"real, held out": class_shares(real)}
    for name, model in models.items():
        samples, asked = generated(model, arguments.count, arguments.temperature)
        temperature = f", T={arguments.temperature:g}" if arguments.temperature != 1 else ""
        probabilities = classifier.probabilities(samples)
        print(
            row(f"{name} ({model.objective.family}{temperature})", probabilities, asked, reference)
        )
        shares[name] = class_shares(probabilities)
    classes = first.adapter.classes
    print(f"\n| share classified as | {' | '.join(classes)} |\n|---|{'---|' * len(classes)}")
    for name, values in shares.items():
        print(f"| {name} | {' | '.join(f'{value:.3f}' for value in values)} |")


if __name__ == "__main__":
    main()
