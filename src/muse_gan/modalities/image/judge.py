"""`muse eval` for pictures: mean ink, a classifier's score and label accuracy, variety within
each class, NDB, FID and KID."""

from __future__ import annotations

import torch

from ...core.adapter import class_order
from ...measures.judge import FixedSizeJudge, note
from .classifier import class_shares, classifier_score, label_accuracy, train_classifier
from .variety import variety, variety_by_class

LOWEST = "variety ratio, lowest class"


class ImageJudge(FixedSizeJudge):
    """Mean ink per picture; a small classifier trained on the reference's labelled pictures
    judges how clearly each picture is one class; FID and KID with the user's Inception weights."""

    cell_name = "pictures"

    def __init__(self, adapter, options):
        super().__init__(adapter, options)
        self.classifier, self.classes, self.inception, self.reference_features = (
            None,
            (),
            None,
            None,
        )

    def per_item(self, samples):
        return {"mean_intensity": torch.stack(samples.items).flatten(1).mean(1).numpy()}

    def reference_metrics(self, reference, report):
        values = _varieties(reference)
        self.reference_varieties = values  # what per_set's variety ratios divide by
        classes = class_order(reference.labels or ())
        if len(classes) >= 2:
            values |= self._fit_classifier(reference, classes, report)
        else:
            note(
                report,
                "no classifier score: the reference pictures are not in class folders (two or more)",
            )
        if self.options.inception:
            from ...measures.sets import inception_features, inception_network

            self.inception = inception_network(self.options.inception)
            self.reference_features = inception_features(
                self.inception, torch.stack(reference.items)
            )
        return values

    def _fit_classifier(self, reference, classes, report) -> dict[str, float]:
        """Trains on four fifths of the reference; the reference's own scores are the other fifth's."""
        order = torch.randperm(
            len(reference.items), generator=torch.Generator().manual_seed(self.options.seed)
        )
        cut = len(order) * 4 // 5
        images = torch.stack(reference.items)
        labels = torch.tensor([classes.index(label) for label in reference.labels])
        self.classes = classes
        self.classifier = train_classifier(
            images[order[:cut]],
            labels[order[:cut]],
            len(classes),
            steps=self.options.classifier_steps,
            seed=self.options.seed,
        )
        held = order[cut:]
        probabilities = self.classifier.probabilities(images[held])
        report.histograms["reference"] = dict(zip(classes, class_shares(probabilities).tolist()))
        accuracy = label_accuracy(probabilities, labels[held])
        note(
            report,
            f"classifier: trained on {cut} reference pictures of {len(classes)} classes; the reference's "
            f"scores are on the other {len(held)}, which it labels right {accuracy:.1%} of the time",
        )
        return {"classifier_score": classifier_score(probabilities), "label_accuracy": accuracy}

    def per_set(self, samples, reference, report):
        values = {}
        if self.classifier is not None:
            probabilities = self.classifier.probabilities(torch.stack(samples.items))
            values["classifier_score"] = classifier_score(probabilities)
            report.histograms[samples.name] = dict(
                zip(self.classes, class_shares(probabilities).tolist())
            )
            known = [
                number for number, label in enumerate(samples.labels or ()) if label in self.classes
            ]
            if known:
                asked = torch.tensor(
                    [self.classes.index(samples.labels[number]) for number in known]
                )
                values["label_accuracy"] = label_accuracy(probabilities[known], asked)
        values |= self._variety_ratios(samples, report)
        values |= super().per_set(samples, reference, report)
        if self.inception is not None:
            from ...measures.sets import frechet_distance, inception_features, kernel_distance

            features = inception_features(self.inception, torch.stack(samples.items))
            values["fid"] = frechet_distance(features, self.reference_features)
            values["kid"] = kernel_distance(features, self.reference_features)
        return values

    def _variety_ratios(self, samples, report) -> dict[str, float]:
        """The set's varieties, and the lowest class's as a share of the reference's."""
        values = _varieties(samples)
        real = self.reference_varieties
        ratios = [
            values[name] / real[name]
            for name in values
            if name.startswith("variety: ") and real.get(name, 0) > 0
        ]
        if ratios:
            values[LOWEST] = min(ratios)
            note(
                report,
                "variety: the mean Euclidean distance between two pictures (of one class: "
                "'variety: CLASS'), shrunk to 8 x 8 pixels of 0-1; "
                f"'{LOWEST}': the class whose variety is the smallest share of the reference's",
            )
        return values


def _varieties(samples) -> dict[str, float]:
    """``variety`` of the whole set and, when its pictures have classes, of each class's."""
    images = torch.stack(samples.items)
    values = {"variety": variety(images)}
    if samples.labels:
        by_class = variety_by_class(images, samples.labels)
        values |= {f"variety: {label}": value for label, value in by_class.items()}
    return values
