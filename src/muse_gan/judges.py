"""One judge per modality for `muse eval`: it turns prepared pieces and a model's samples into
``Samples`` and measures them.

A judge has per-item metrics (``per_item``: a value per item, compared as distributions) and
per-set metrics (``per_set``: one number per set, measured against the reference; the
reference's own values from ``reference_metrics``, which runs first and may fit things the
set metrics use, such as the image classifier).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from .errors import MuseError
from .registry import Registry

JUDGES = Registry("modality")
GENERATED = "generated"
CHUNK = 100  # most items generated per call


@dataclass
class Samples:
    """A set of items to judge, and each item's class name (asked for, or its folder) if known."""

    name: str
    items: list
    labels: list[str] | None = None


@dataclass
class Options:
    count: int | None = None  # items per side (None: the modality's default)
    bars: int = 4  # MIDI: the length of generated pieces and of the windows cut from files
    seed: int = 0
    temperature: float = 1.0
    inception: str | None = None  # Inception v3 weights file for FID/KID (images)
    classifier_steps: int = 1500


def pick(items: list, count: int, seed: int) -> list:
    """At most ``count`` of ``items``, a seeded random choice kept in their order."""
    if len(items) <= count:
        return list(items)
    return [items[index] for index in sorted(random.Random(seed).sample(range(len(items)), count))]


class Judge:
    def __init__(self, adapter, options: Options):
        self.adapter, self.options = adapter, options

    def samples(self, name: str, pieces: list, count: int) -> Samples:
        labels = [piece.label for piece in pieces]
        return Samples(name, [self.adapter.values(piece.roll) for piece in pieces],
                       labels if any(labels) else None)

    def per_item(self, samples: Samples) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def reference_metrics(self, reference: Samples, report) -> dict[str, float]:
        return {}

    def per_set(self, samples: Samples, reference: Samples, report) -> dict[str, float]:
        return {}


@JUDGES.register("midi")
class MidiJudge(Judge):
    """Windows of ``bars`` bars: pieces cut on bar lines, generated pieces of that length; the
    piece-level metrics of ``muse_gan.metrics.describe``."""

    def samples(self, name, pieces, count):
        window = self.options.bars * self.adapter.steps_per_bar
        windows = [piece.roll[:, start:start + window] for piece in pieces
                   for start in range(0, piece.roll.shape[1] - window + 1, window)]
        if not windows:
            raise MuseError(f"{name}: no piece is {self.options.bars} bars long (--bars)")
        return Samples(name, [window.numpy() > 0 for window in pick(windows, count, self.options.seed)])

    def generate(self, muse, count):
        seed, bars, temperature = self.options.seed, self.options.bars, self.options.temperature
        return Samples(GENERATED, [muse.compose_roll(bars, seed=seed + number, temperature=temperature)[0].numpy() > 0
                                   for number in range(count)])

    def per_item(self, samples):
        from .metrics import describe

        settings = self.adapter.settings
        described = [describe(roll, steps_per_beat=settings.steps_per_beat, steps_per_bar=self.adapter.steps_per_bar,
                              pitch_low=settings.pitch_low, drum_tracks=settings.drum_tracks)
                     for roll in samples.items]
        return {name: np.array([values[name] for values in described]) for name in described[0]}


class FixedSizeJudge(Judge):
    """Pictures and spectrograms: class-conditional models are asked for every class in turn;
    NDB compares the sets' vectors (``vectors``) over k-means cells of the reference's, with
    one cell per ten items (2 to 50) and the items as the independent samples."""

    def generate(self, muse, count):
        classes = muse.adapter.classes or (None,)
        items, labels, calls = [], [], 0
        for number, label in enumerate(classes):
            wanted = count // len(classes) + (number < count % len(classes))
            for start in range(0, wanted, CHUNK):  # in chunks: bounded memory
                items += muse.sample_tensors(min(CHUNK, wanted - start), seed=self.options.seed + calls,
                                             label=label, temperature=self.options.temperature)
                calls += 1
            labels += [label] * wanted
        return Samples(GENERATED, items, labels if muse.adapter.classes else None)

    def vectors(self, samples: Samples) -> torch.Tensor:
        return torch.stack(samples.items).flatten(1)

    def per_set(self, samples, reference, report):
        from .set_metrics import ndb

        generated, real = self.vectors(samples), self.vectors(reference)
        bins = max(2, min(50, min(len(samples.items), len(reference.items)) // 10))
        test = ndb(generated, real, bins, seed=self.options.seed, samples=(len(samples.items), len(reference.items)))
        _note(report, f"NDB: share of {test.bins} k-means cells of the reference's {self.cell_name} whose share of "
                      f"items differs at the 5% level (about 0.05 for two samples of one distribution)")
        return {"ndb": test.share}


@JUDGES.register("image")
class ImageJudge(FixedSizeJudge):
    """Mean ink per picture; a small classifier trained on the reference's labelled pictures
    judges how clearly each picture is one class; FID and KID with the user's Inception weights."""

    cell_name = "pictures"

    def __init__(self, adapter, options):
        super().__init__(adapter, options)
        self.classifier, self.classes, self.inception, self.reference_features = None, (), None, None

    def per_item(self, samples):
        return {"mean_intensity": torch.stack(samples.items).flatten(1).mean(1).numpy()}

    def reference_metrics(self, reference, report):
        values = {}
        from .adapters.base import class_order

        classes = class_order(reference.labels or ())
        if len(classes) >= 2:
            values |= self._fit_classifier(reference, classes, report)
        else:
            _note(report, "no classifier score: the reference pictures are not in class folders (two or more)")
        if self.options.inception:
            from .set_metrics import inception_features, inception_network

            self.inception = inception_network(self.options.inception)
            self.reference_features = inception_features(self.inception, torch.stack(reference.items))
        return values

    def _fit_classifier(self, reference, classes, report) -> dict[str, float]:
        """Trains on four fifths of the reference; the reference's own scores are the other fifth's."""
        from .image_quality import class_shares, classifier_score, label_accuracy, train_classifier

        order = torch.randperm(len(reference.items), generator=torch.Generator().manual_seed(self.options.seed))
        cut = len(order) * 4 // 5
        images = torch.stack(reference.items)
        labels = torch.tensor([classes.index(label) for label in reference.labels])
        self.classes = classes
        self.classifier = train_classifier(images[order[:cut]], labels[order[:cut]], len(classes),
                                           steps=self.options.classifier_steps, seed=self.options.seed)
        held = order[cut:]
        probabilities = self.classifier.probabilities(images[held])
        report.histograms["reference"] = dict(zip(classes, class_shares(probabilities).tolist()))
        accuracy = label_accuracy(probabilities, labels[held])
        _note(report, f"classifier: trained on {cut} reference pictures of {len(classes)} classes; the reference's "
                      f"scores are on the other {len(held)}, which it labels right {accuracy:.1%} of the time")
        return {"classifier_score": classifier_score(probabilities), "label_accuracy": accuracy}

    def per_set(self, samples, reference, report):
        values = {}
        if self.classifier is not None:
            from .image_quality import class_shares, classifier_score, label_accuracy

            probabilities = self.classifier.probabilities(torch.stack(samples.items))
            values["classifier_score"] = classifier_score(probabilities)
            report.histograms[samples.name] = dict(zip(self.classes, class_shares(probabilities).tolist()))
            known = [number for number, label in enumerate(samples.labels or ()) if label in self.classes]
            if known:
                asked = torch.tensor([self.classes.index(samples.labels[number]) for number in known])
                values["label_accuracy"] = label_accuracy(probabilities[known], asked)
        values |= super().per_set(samples, reference, report)
        if self.inception is not None:
            from .set_metrics import frechet_distance, inception_features, kernel_distance

            features = inception_features(self.inception, torch.stack(samples.items))
            values["fid"] = frechet_distance(features, self.reference_features)
            values["kid"] = kernel_distance(features, self.reference_features)
        return values


@JUDGES.register("audio")
class AudioJudge(FixedSizeJudge):
    """Sound from every spectrogram by the adapter's Griffin-Lim (the same path for both sides,
    so the comparison is of spectrograms, not of vocoders): spectral centroid and level per
    item; pYIN pitch accuracy when classes are MIDI pitches; NDB over mel frames."""

    cell_name = "mel frames"
    MOST_FRAMES = 20_000  # NDB's k-means runs on at most this many frames of each set

    def __init__(self, adapter, options):
        super().__init__(adapter, options)
        self._sounds: dict[str, list[np.ndarray]] = {}

    def sounds(self, samples: Samples) -> list[np.ndarray]:
        if samples.name not in self._sounds:
            self._sounds[samples.name] = [self.adapter.decode(values) for values in samples.items]
        return self._sounds[samples.name]

    def per_item(self, samples):
        from .audio_quality import spectral_centroids

        return {"spectral_centroid_hz": spectral_centroids(self.sounds(samples), self.adapter.settings.sample_rate),
                "mel_level": torch.stack(samples.items).flatten(1).mean(1).numpy()}

    def vectors(self, samples):
        frames = torch.cat([values[0] for values in samples.items])  # (frames, mels)
        keep = torch.randperm(len(frames), generator=torch.Generator().manual_seed(self.options.seed))[:self.MOST_FRAMES]
        return frames[keep.sort().values]

    def reference_metrics(self, reference, report):
        return self._pitch(reference, report)

    def per_set(self, samples, reference, report):
        return self._pitch(samples, report) | super().per_set(samples, reference, report)

    def _pitch(self, samples, report) -> dict[str, float]:
        """Share of items within a semitone of their class's MIDI pitch, when classes are pitches."""
        from .audio_quality import note_pitch, pitch_accuracy

        if not samples.labels or not all(label.isdigit() and int(label) < 128 for label in samples.labels):
            return {}
        _note(report, "pitch accuracy: share of notes whose pYIN pitch is within a semitone of their class's")
        rate = self.adapter.settings.sample_rate
        return {"pitch_accuracy": pitch_accuracy([note_pitch(sound, rate) for sound in self.sounds(samples)],
                                                 [int(label) for label in samples.labels])}


@JUDGES.register("text")
class TextJudge(Judge):
    """Length per piece; character n-gram Jensen-Shannon divergence from the reference; for ABC
    (most reference pieces have a K: line), the share of pieces that parse into music."""

    def __init__(self, adapter, options):
        super().__init__(adapter, options)
        self.abc = False

    def samples(self, name, pieces, count):
        from .adapters.text import text_of

        return Samples(name, [text_of(piece.roll) for piece in pieces])

    def generate(self, muse, count):
        texts = []
        for start in range(0, count, CHUNK):
            texts += muse.sample(min(CHUNK, count - start), seed=self.options.seed + start,
                                 temperature=self.options.temperature)
        return Samples(GENERATED, texts)

    def per_item(self, samples):
        return {"characters": np.array([len(text) for text in samples.items], dtype=float),
                "lines": np.array([text.count("\n") + 1 for text in samples.items], dtype=float)}

    def reference_metrics(self, reference, report):
        self.abc = sum(_has_key_line(text) for text in reference.items) >= len(reference.items) / 2
        return self._parse_rate(reference)

    def per_set(self, samples, reference, report):
        from .text_quality import ngram_js_divergence

        divergence = ngram_js_divergence(samples.items, reference.items)
        return self._parse_rate(samples) | {f"js_{n}gram": value for n, value in divergence.items()}

    def _parse_rate(self, samples) -> dict[str, float]:
        from .text_quality import abc_parse_rate

        return {"abc_parse_rate": abc_parse_rate(samples.items)} if self.abc else {}


def _has_key_line(text: str) -> bool:
    return any(line.startswith("K:") for line in text.splitlines())


def _note(report, note: str) -> None:
    if note not in report.notes:
        report.notes.append(note)

