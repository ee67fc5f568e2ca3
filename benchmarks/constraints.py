"""Do the bundled models keep hard constraints? (issue 22, point 5c)

Each model composes 4-bar pieces on seeds 0..N-1 twice: (A) in D minor with narrow voice ranges
and one note at a time per voice; (B) in D minor over the chords "Dm | Gm | A7 | Dm" with a
density asked per voice, one note at a time. Counted on the rolls the models return (what the MIDI files hold):

- notes outside the key: sounding cells whose pitch class is not in D minor (natural minor and
  the leading tone C#), in A and B;
- notes outside the range: sounding cells outside their voice's range (A);
- most notes at once in one voice (A and B; asked: 1);
- non-chord tones on strong beats: cells sounding on the steps the chords are kept on (beats
  1 and 3, and where a chord begins) whose pitch class is not in the chord (B); bass off the
  root: the bass sounding other than the root where a chord begins (B);
- density: notes started per bar in each voice, averaged over the piece, against the asked
  number (B): the mean and the largest relative miss over pieces and voices, and the share of
  pieces and voices within 15%.

    python benchmarks/constraints.py [--models bach-rnn bach-vae bach-gan] [--seeds 50]
"""

from __future__ import annotations

import argparse

import torch

import muse_gan
from muse_gan.modalities.midi.constraints import Constraints, MeterSteps

BARS = 4
KEY = "D minor"
RANGES = "soprano=64-76, alto=57-69, tenor=50-62, bass=40-55"
CHORDS = "Dm | Gm | A7 | Dm"
DENSITY = {"soprano": 8, "alto": 4, "tenor": 4, "bass": 2}


def sounding(model, piece) -> torch.Tensor:
    """``(tracks, steps, pitches)`` bool: the piece's sounding cells."""
    return piece.roll[:, :, : model.adapter.pitches] > 0


def pitch_classes(model) -> torch.Tensor:
    return (model.adapter.settings.pitch_low + torch.arange(model.adapter.pitches)) % 12


def outside(cells: torch.Tensor, allowed: torch.Tensor) -> int:
    """Sounding cells ``(..., pitches)`` where ``allowed`` (broadcast) is False."""
    return int((cells & ~allowed).sum())


def range_misses(model, cells, ranges: Constraints) -> int:
    midi = model.adapter.settings.pitch_low + torch.arange(model.adapter.pitches)
    names = [name.lower() for name in model.adapter.layout.names]
    return sum(
        outside(cells[names.index(name)], (midi >= low) & (midi <= high))
        for name, low, high in ranges.ranges
    )


def chord_misses(model, cells, asked: Constraints) -> tuple[int, int]:
    """Non-chord tones on the kept steps, and bass notes off the root where a chord begins."""
    classes = pitch_classes(model)
    meter = MeterSteps(model.adapter.meter, model.adapter.settings.steps_per_beat)
    tones = bass = 0
    for step, chord, begins in asked.chord_steps(cells.shape[1], meter):
        tones += outside(cells[:, step], torch.isin(classes, torch.tensor(sorted(chord.tones))))
        if begins:
            bass += outside(cells[-1, step], classes == chord.bass)
    return tones, bass


def notes_per_bar(cells: torch.Tensor) -> torch.Tensor:
    """``(tracks,)`` notes started per bar: a cell sounding where it did not the step before."""
    before = torch.cat([torch.zeros_like(cells[:, :1]), cells[:, :-1]], dim=1)
    return (cells & ~before).sum((1, 2)).float() / BARS


def measure(name: str, seeds: int) -> dict:
    model = muse_gan.load(name)
    in_key = torch.isin(
        pitch_classes(model), torch.tensor(sorted(Constraints.parse(key=KEY).scale))
    )
    ranges, chords = Constraints.parse(ranges=RANGES), Constraints.parse(key=KEY, chords=CHORDS)
    density = ", ".join(f"{voice}={notes}" for voice, notes in DENSITY.items())
    asked = torch.tensor([DENSITY[voice.lower()] for voice in model.adapter.layout.names]).float()
    found = {"key": 0, "range": 0, "at once": 0, "chord": 0, "bass": 0, "misses": []}
    for seed in range(seeds):
        a = sounding(
            model,
            model.compose(bars=BARS, seed=seed, key=KEY, ranges=RANGES, polyphony="1"),
        )
        b = sounding(
            model,
            model.compose(
                bars=BARS, seed=seed, key=KEY, chords=CHORDS, density=density, polyphony="1"
            ),
        )
        found["key"] += outside(a, in_key) + outside(b, in_key)
        found["range"] += range_misses(model, a, ranges)
        found["at once"] = max(found["at once"], int(a.sum(2).max()), int(b.sum(2).max()))
        tones, bass = chord_misses(model, b, chords)
        found["chord"] += tones
        found["bass"] += bass
        found["misses"].append((notes_per_bar(b) / asked - 1).abs())
    misses = torch.stack(found.pop("misses"))
    return found | {
        "density mean miss": float(misses.mean()),
        "density worst miss": float(misses.max()),
        "within 15%": float((misses <= 0.15).float().mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["bach-rnn", "bach-vae", "bach-gan"])
    parser.add_argument("--seeds", type=int, default=50)
    options = parser.parse_args()
    print(
        "| model | notes outside the key | outside the range | most at once | non-chord tones "
        "on strong beats | bass off the root | density: mean miss | worst miss | within 15% |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in options.models:
        row = measure(name, options.seeds)
        print(
            f"| {name} | {row['key']} | {row['range']} | {row['at once']} | {row['chord']} "
            f"| {row['bass']} | {row['density mean miss']:.1%} | {row['density worst miss']:.1%} "
            f"| {row['within 15%']:.0%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
