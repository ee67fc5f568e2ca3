"""Fingerprints of what every bundled model makes, to show that rewriting the bundled files
(a new header field, a format upgrade) changed nothing they compose.

    python benchmarks/bundled_outputs.py > before.txt
    python benchmarks/bundled_outputs.py --resave      # each file saved again as this version writes it
    python benchmarks/bundled_outputs.py | diff before.txt - && echo byte-identical

Each line is one `muse compose` (MIDI models) or `muse sample` (the others) with a fixed
seed, and the SHA-256 of the file it wrote. ``--resave`` rewrites every file in
``src/muse_gan/pretrained/`` through ``core.checkpoint.save_checkpoint`` with its own header
and tensors, and checks that the tensors read back are the ones it read.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from muse_gan.core import checkpoint as ckpt
from muse_gan.pretrained import DESCRIPTIONS, bundled_path

SEEDS = (0, 1, 7)
# the command after `muse`, per model; each is run once per seed, the output's suffix last
COMMANDS = {
    "bach-rnn": (["compose", "--bars", "8"], (".mid", ".wav")),
    "bach-gan": (["compose", "--bars", "8"], (".mid",)),
    "bach-vae": (["compose", "--bars", "8"], (".mid",)),
    "digits-gan": (["sample", "-n", "16"], (".png",)),
    "notes-gan": (["sample", "-n", "2"], (".wav",)),
    "folk-rnn": (["sample", "-n", "3"], (".abc",)),
}


def fingerprints() -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        for name in DESCRIPTIONS:
            command, suffixes = COMMANDS[name]
            for seed in SEEDS:
                for suffix in suffixes:
                    output = Path(folder) / f"out{suffix}"
                    arguments = [*command, "--model", name, "--seed", str(seed), "-o", str(output)]
                    subprocess.run(["muse", *arguments], check=True, capture_output=True)
                    digest = hashlib.sha256(output.read_bytes()).hexdigest()
                    lines.append(f"muse {' '.join(arguments[:-2])} -o out{suffix}  {digest}")
    return lines


def resave() -> None:
    for name in DESCRIPTIONS:
        path = bundled_path(name)
        tensors, header = ckpt.load_checkpoint(path)
        ckpt.save_checkpoint(path, tensors, header)
        again, _ = ckpt.load_checkpoint(path)
        assert again.keys() == tensors.keys()
        assert all(torch.equal(again[key], tensors[key]) for key in tensors), name
        print(f"saved {path} again", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resave", action="store_true", help="rewrite the bundled files")
    if parser.parse_args().resave:
        resave()
        return
    for line in fingerprints():
        print(line, flush=True)


if __name__ == "__main__":
    main()
