"""Pulls for one class of a conditioned MIDI model (a meter, a voice count), tried on tuning
seeds: for each candidate, ``--pieces`` pieces of ``--bars`` bars composed in the class and
measured by ``class_quality.py``'s columns against the held-out pieces of that class (every
window, or with ``--openings`` their first bars, for a model told its bar numbers). How the
bundled models' ``midi.class_pulls`` were chosen (docs/midi.md#pulls-by-class); the chosen
values go in the config as ``[midi.class_pulls."6 voices"]``. Measure the result on other
seeds with ``class_quality.py``.

    python benchmarks/tune_pulls.py --model palestrina --class "6 voices" --pieces 200 \\
        --try rest_hold=0 --try rest_hold=0.3 --try rest_hold=0.4 --try rest_hold=0.5
    python benchmarks/tune_pulls.py --model folk-melody --class 3/4 --pieces 200 --openings \\
        --try rest_hold=0 --try rest_hold=-0.1 --try rest_hold=-0.2

The first row is the model as it composes the class now (its own pulls); each ``--try`` is a
comma-separated list of pulls asked over them (``note_hold=-0.25,rest_hold=-0.15``).
"""

from __future__ import annotations

import argparse

import torch

import muse_gan
from class_quality import COLUMNS, cells, composed, held_out, means, within
from muse_gan.evaluation import evaluation_pieces
from muse_gan.measures.judge import Options
from muse_gan.options import PULLS


def candidate(text: str) -> dict:
    """``"note_hold=-0.25,rest_hold=0.1"`` as the pulls asked."""
    pulls = {}
    for part in filter(None, text.split(",")):
        name, _, value = part.partition("=")
        if name.strip() not in PULLS:
            raise SystemExit(f"--try {text}: {name.strip()!r} is not a pull ({', '.join(PULLS)})")
        whole = PULLS[name.strip()].whole
        pulls[name.strip()] = int(value) if whole else float(value)
    return pulls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="palestrina")
    parser.add_argument("--class", dest="label", required=True, help='"6 voices", "3/4"')
    parser.add_argument("--try", dest="tries", action="append", default=[], type=candidate)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--pieces", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0, help="first tuning seed")
    parser.add_argument("--openings", action="store_true", help="against the pieces' first bars")
    arguments = parser.parse_args()
    torch.set_num_threads(1)  # one thread: the composing is the same to the byte
    model = muse_gan.load(arguments.model)
    if arguments.label not in model.adapter.classes:
        known = ", ".join(model.adapter.classes) or "none"
        raise SystemExit(f"--class {arguments.label}: {arguments.model}'s classes are {known}")
    judge = model.adapter.judge(Options(bars=arguments.bars, seed=arguments.seed))
    pieces = evaluation_pieces(model.config, model.adapter, None, "test", quiet=True)
    data = held_out(judge, model.adapter.model_view(pieces), arguments.label, arguments.openings)
    reference = means(judge, data)
    print(
        f"{arguments.model}, {arguments.label}: {arguments.pieces} pieces of {arguments.bars} bars, seeds from {arguments.seed}"
    )
    print("| pulls | " + " | ".join(COLUMNS.values()) + " | within |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    print(f"| held out ({len(data.items)}) | {cells(reference)} | |")
    for pulls in [{}, *arguments.tries]:
        made = means(
            judge,
            composed(
                model, arguments.label, arguments.bars, arguments.pieces, arguments.seed, **pulls
            ),
        )
        hits = sum(within(key, made[key], reference[key]) for key in COLUMNS)
        named = ", ".join(f"{name} {value:g}" for name, value in pulls.items()) or "its own"
        print(f"| {named} | {cells(made)} | {hits}/{len(COLUMNS)} |", flush=True)


if __name__ == "__main__":
    main()
