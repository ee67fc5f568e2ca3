"""Peak memory (resident set size) of training each bundled model's config on the CPU.

Each config trains ``--steps`` steps in a process of its own, after a first one-step run has
prepared and cached its data (so the number is training's, not the first preparation's); the
peak RSS is that process's own, from getrusage.

    python benchmarks/memory.py [--steps 20] [--configs configs/bach-rnn.toml ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile

from muse_gan.pretrained import DESCRIPTIONS

# Runs the muse command in this process and prints its peak RSS in kB (Linux units) last.
MEASURE = """
import resource, sys
from muse_gan.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def peak_rss_mb(config: str, steps: int) -> float:
    with tempfile.TemporaryDirectory() as run:
        command = [
            sys.executable,
            "-c",
            MEASURE,
            "train",
            "--config",
            config,
            "--steps",
            str(steps),
            "--out",
            f"{run}/run",
            "--device",
            "cpu",
            "--quiet",
        ]
        finished = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(finished.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--configs", nargs="*", default=[f"configs/{name}.toml" for name in DESCRIPTIONS]
    )
    parser.add_argument("--steps", type=int, default=20)
    arguments = parser.parse_args()
    baseline = (
        float(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import resource, torch, muse_gan.cli; "
                    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        / 1024
    )
    print(f"| config | peak RSS, {arguments.steps} training steps (MB) |\n|---|---|")
    print(f"| (python + import torch, muse_gan) | {baseline:.0f} |")
    for config in arguments.configs:
        peak_rss_mb(config, 1)  # prepares and caches the data
        print(f"| {config} | {peak_rss_mb(config, arguments.steps):.0f} |", flush=True)


if __name__ == "__main__":
    main()
