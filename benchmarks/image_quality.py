"""Do generated digits look like digits? A classifier trained on real digits judges them.

A small CNN (muse_gan.modalities.image.classifier) is trained on the real training-split images
of the first model's data; then, side by side: held-out real images (valid + test split: the reference row)
and ``--count`` images from each model (class-conditional models: an equal number asked for
each class, so "label accuracy" is the share classified as the asked class). Variety
(muse_gan.modalities.image.variety: the mean distance between two pictures of one class, shrunk
to 8 x 8) is given per class as a share of the held-out real pictures' own.

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
from muse_gan.modalities.image.variety import variety_by_class


def real_images(model, part: str):
    """Images and class indices of the model's data, ``part`` "train" or "held out"."""
    adapter = model.adapter
    chosen = evaluation_pieces(
        model.config, adapter, None, "train" if part == "train" else "held-out", quiet=True
    )
    return adapter.values(torch.stack([piece.tensor for piece in chosen])), class_indices(
        adapter, chosen
    )


def generated(model, count: int, temperature: float, seed: int):
    """``count`` images and the classes they were asked for (None for unconditional models)."""
    classes = model.adapter.classes
    if not classes:
        return model.sample(count, seed=seed, temperature=temperature).tensors, None
    per_class = count // len(classes)
    images = [
        model.sample(per_class, seed=seed + index, label=name, temperature=temperature).tensors
        for index, name in enumerate(classes)
    ]
    return torch.cat(images), torch.arange(len(classes)).repeat_interleave(per_class)


def row(name: str, probabilities, labels, reference_score: float | None, ratios) -> str:
    score = classifier_score(probabilities)
    ratio = "" if reference_score is None else f"{score / reference_score:.3f}"
    accuracy = "" if labels is None else f"{label_accuracy(probabilities, labels):.3f}"
    shares = class_shares(probabilities)
    spread = f"{min(ratios):.2f} / {sum(ratios) / len(ratios):.2f}" if ratios else ""
    return (
        f"| {name} | {len(probabilities)} | {score:.3f} | {ratio} | {accuracy} | "
        f"{shares.min():.3f}-{shares.max():.3f} | {spread} |"
    )


def variety_ratios(images, labels, classes, real: dict[str, float]) -> list[float]:
    """Each class's variety as a share of the real pictures' (empty without labels); a class
    whose real pictures have no variety to compare with (one picture, or none) is left out."""
    if labels is None:
        return []
    found = variety_by_class(images, [classes[index] for index in labels])
    return [found[name] / real[name] for name in classes if real.get(name, 0) > 0 and name in found]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", help="image model run folders or checkpoints")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (RNN and binary data)"
    )
    parser.add_argument("--seed", type=int, default=0, help="class i is sampled with seed + i")
    arguments = parser.parse_args()
    models = {name: muse_gan.load(name) for name in arguments.models}
    first = next(iter(models.values()))
    images, labels = real_images(first, "train")
    classifier = train_classifier(images, labels, len(first.adapter.classes))
    held_out, held_out_labels = real_images(first, "held out")
    real = classifier.probabilities(held_out)
    reference = classifier_score(real)
    classes = first.adapter.classes
    real_variety = variety_by_class(held_out, [classes[index] for index in held_out_labels])
    print(
        "| images | count | classifier score | of real | label accuracy | class shares (min-max) "
        "| variety of real (lowest class / mean) |"
    )
    print("|---|---|---|---|---|---|---|")
    print(row("real, held out", real, held_out_labels, None, []))
    shares, ratios = {"real, held out": class_shares(real)}, {}
    for name, model in models.items():
        samples, asked = generated(model, arguments.count, arguments.temperature, arguments.seed)
        temperature = f", T={arguments.temperature:g}" if arguments.temperature != 1 else ""
        probabilities = classifier.probabilities(samples)
        ratios[name] = variety_ratios(samples, asked, classes, real_variety)
        print(
            row(
                f"{name} ({model.objective.family}{temperature})",
                probabilities,
                asked,
                reference,
                ratios[name],
            )
        )
        shares[name] = class_shares(probabilities)
    table(
        "share classified as", classes, {name: values.tolist() for name, values in shares.items()}
    )
    varieties = {"real, held out (distance)": [real_variety[name] for name in classes]}
    table(
        "variety (real: distance; models: share of real's)",
        classes,
        varieties | {k: v for k, v in ratios.items() if v},
    )


def table(title: str, classes, rows: dict[str, list[float]]) -> None:
    print(f"\n| {title} | {' | '.join(classes)} |\n|---|{'---|' * len(classes)}")
    for name, values in rows.items():
        print(f"| {name} | {' | '.join(f'{value:.3f}' for value in values)} |")


if __name__ == "__main__":
    main()
