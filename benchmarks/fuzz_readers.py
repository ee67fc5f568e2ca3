"""Fuzz every reader and count how its inputs ended.

    python benchmarks/fuzz_readers.py [--inputs 200] [--seed 0] [--readers midi,audio]

Each reader (MIDI, scores, audio, images, text, configs, checkpoints) gets its named edge cases
(absurd ticks, gigapixel headers, NaN samples, ...) and then ``--inputs`` random or mutated
inputs (tests/fuzz_inputs.py); a config or checkpoint may also have one of its settings or
header values replaced (-1, 10**12, a string, a list, ...). Prints one row per reader: inputs
tried, how many were skipped (a clean per-file skip), refused with one clear error, read fine,
and crashed (any other exception, or no answer within 90 s), the seconds taken and the
process's peak memory so far.
A crash of the process itself (a segfault in a native library) stops the table: rerun with
--readers to narrow it down.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package holds the inputs

from tests.fuzz_inputs import READERS, attempt, random_input, suffix_of

COLUMNS = ("skipped", "error", "ok", "crash")


def run(reader, count: int, seed: int, folder: Path) -> tuple[Counter, list[str]]:
    """Outcome counts and a line per crash, for the edge cases and ``count`` fuzzed inputs."""
    rng = random.Random(seed)
    seeds = reader.seeds()
    cases = list(reader.edge_cases().items()) + [
        random_input(reader, seeds, rng) for _ in range(count)
    ]
    outcomes, crashes = Counter(), []
    for name, data in cases:
        try:
            outcomes[attempt(reader, data, folder, suffix_of(reader, name))] += 1
        except Exception as error:
            outcomes["crash"] += 1
            crashes.append(f"{reader.name} ({name}): {type(error).__name__}: {str(error)[:120]}")
    return outcomes, crashes


def peak_megabytes() -> int:
    """The process's peak resident memory so far: it only grows, so a reader's row shows
    whether that reader raised it."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--inputs", type=int, default=200, help="fuzzed inputs per reader (besides the edge cases)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--readers", default=",".join(READERS), help="comma-separated, of: " + ", ".join(READERS)
    )
    options = parser.parse_args()
    print(
        f"{'reader':<11} {'tried':>6} "
        + " ".join(f"{column:>8}" for column in COLUMNS)
        + f" {'seconds':>8} {'peak MB':>8}"
    )
    all_crashes = []
    with tempfile.TemporaryDirectory() as folder:
        for name in options.readers.split(","):
            start = time.perf_counter()
            outcomes, crashes = run(READERS[name], options.inputs, options.seed, Path(folder))
            all_crashes += crashes
            print(
                f"{name:<11} {sum(outcomes.values()):>6} "
                + " ".join(f"{outcomes[column]:>8}" for column in COLUMNS)
                + f" {time.perf_counter() - start:>8.1f} {peak_megabytes():>8}",
                flush=True,
            )
    for line in all_crashes:
        print("crash:", line)


if __name__ == "__main__":
    main()
