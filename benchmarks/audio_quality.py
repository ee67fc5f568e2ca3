"""Do generated notes have the asked pitch? An independent pitch tracker (pYIN) judges them.

For each pitch-conditioned model, ``--count`` notes (the pitches in turn, one seed each) are
generated, turned into sound by the model's own Griffin-Lim decoding, and their pitch estimated
with librosa.pyin. Reference rows: the real held-out notes (valid + test split) as recorded, and
the same notes after the spectrogram round trip (mel → Griffin-Lim), the best any model of
these spectrograms can do. "centroid overlap" is the overlapping area of the notes' spectral-
centroid distribution with the real held-out notes' (1: the same distribution).

    python benchmarks/audio_quality.py runs/notes-gan runs/notes-vae runs/notes-rnn [--count 200]
"""

from __future__ import annotations

import argparse

import numpy as np

import muse_gan
from muse_gan.evaluation import evaluation_pieces
from muse_gan.measures.distributions import overlap_area
from muse_gan.modalities.audio.pitch import note_pitch, pitch_accuracy, spectral_centroids


def held_out(model):
    """The held-out notes' (recordings, spectrograms, pitches)."""
    adapter = model.adapter
    chosen = evaluation_pieces(model.config, adapter, None, "held-out", quiet=True)
    recordings = [adapter.read(piece.name.split("#")[0])[0] for piece in chosen]
    return (
        recordings,
        [adapter.values(piece.tensor) for piece in chosen],
        [int(piece.label) for piece in chosen],
    )


def generated(model, count: int, temperature: float):
    """``count`` generated notes as sound, and the pitches asked for."""
    classes = model.adapter.classes
    asked = [classes[index % len(classes)] for index in range(count)]
    sounds = [
        model.sample(1, seed=seed, label=pitch, temperature=temperature)[0]
        for seed, pitch in enumerate(asked)
    ]
    return sounds, [int(pitch) for pitch in asked]


def row(name: str, sounds, asked, rate: int, reference_centroids) -> str:
    estimated = [note_pitch(sound, rate) for sound in sounds]
    centroids = spectral_centroids(sounds, rate)
    overlap = overlap_area(
        centroids[np.isfinite(centroids)], reference_centroids[np.isfinite(reference_centroids)]
    )
    return f"| {name} | {len(sounds)} | {pitch_accuracy(estimated, asked):.3f} | {np.nanmean(centroids):.0f} | {overlap:.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "models", nargs="+", help="pitch-conditioned audio model run folders or checkpoints"
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (RNN)")
    parser.add_argument(
        "--no-reference", action="store_true", help="leave out the real notes' rows"
    )
    arguments = parser.parse_args()
    models = {name: muse_gan.load(name) for name in arguments.models}
    first = next(iter(models.values()))
    rate = first.adapter.settings.sample_rate
    recordings, spectrograms, pitches = held_out(first)
    reference = spectral_centroids(recordings, rate)
    print("| notes | count | pitch within 1 semitone | mean centroid (Hz) | centroid overlap |")
    print("|---|---|---|---|---|")
    if not arguments.no_reference:
        print(row("real, held out (recordings)", recordings, pitches, rate, reference))
        print(
            row(
                "real, held out (mel → Griffin-Lim)",
                [first.adapter.decode(values) for values in spectrograms],
                pitches,
                rate,
                reference,
            )
        )
    temperature = f", T={arguments.temperature:g}" if arguments.temperature != 1 else ""
    for name, model in models.items():
        sounds, asked = generated(model, arguments.count, arguments.temperature)
        print(
            row(f"{name} ({model.objective.family}{temperature})", sounds, asked, rate, reference)
        )


if __name__ == "__main__":
    main()
