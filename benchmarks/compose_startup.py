"""Cold-start time of `muse compose --bars 16 > /dev/null` next to `python -c "import torch"`.

Each command runs in a fresh process, 5 times; the medians and their ratio are printed
(target: compose at most 1.5x the torch import). Also lists which heavy libraries the compose
path imported (none of librosa, music21, torchvision should be).

    python benchmarks/compose_startup.py [--runs 5] [--model NAME]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("librosa", "music21", "torchvision", "matplotlib", "scipy")


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)  # like `> /dev/null`
    return time.perf_counter() - start


def heavy_imports(model: str | None) -> list[str]:
    arguments = ["compose", "--bars", "16", "--seed", "1", "-o", "probe.mid"] + (
        ["--model", model] if model else []
    )
    probe = (
        "import sys, tempfile, os\nfrom muse_gan.cli import main\nos.chdir(tempfile.mkdtemp())\n"
        f"try: main({arguments!r})\nexcept SystemExit: pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    last_line = (result.stderr.splitlines() or [""])[-1]
    return [name for name in last_line.split(",") if name]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default=None)
    arguments = parser.parse_args()
    compose = [sys.executable, "-m", "muse_gan", "compose", "--bars", "16", "--seed", "1"]
    if arguments.model:
        compose += ["--model", arguments.model]
    torch_import = [sys.executable, "-c", "import torch"]
    wall_time(torch_import)  # warm the file cache for both
    wall_time(compose)
    torch_times = [wall_time(torch_import) for _ in range(arguments.runs)]
    compose_times = [wall_time(compose) for _ in range(arguments.runs)]
    baseline, ours = statistics.median(torch_times), statistics.median(compose_times)
    rows = {
        'python -c "import torch"': torch_times,
        "muse compose --bars 16 > /dev/null": compose_times,
    }
    print(f"{'command':<42} {'median s':>9}  runs")
    for name, times in rows.items():
        print(f"{name:<42} {statistics.median(times):9.3f}  {' '.join(f'{t:.2f}' for t in times)}")
    print(f"ratio {ours / baseline:.2f}x (target <= 1.5x)")
    print(
        f"heavy libraries imported by compose: {', '.join(heavy_imports(arguments.model)) or 'none'}"
    )


if __name__ == "__main__":
    main()
