"""Dataset preparation: files per second with 1 and with 2 worker processes, side by side, and
the warm path (reading the prepared cache back).

Each built-in corpus is prepared cold (its ``prepared/`` cache removed first) once per worker
count, in this process, into a fresh cache folder; the time includes starting the workers.
The built-in images and sounds are written into that folder before any timing starts. The
warm time is ``load_pieces`` once the cache exists: mapping the file and making the pieces.

    python benchmarks/prepare_data.py [--corpora bach digits folk notes] [--workers 1 2 0]

(``--workers 0``: as ``data.workers = 0`` decides.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

CORPORA = {"bach": "midi", "digits": "image", "folk": "text", "notes": "audio"}


def measure(corpus: str, workers: list[int]) -> list[str]:
    """The corpus's row: files, pieces, files/s per worker count, warm load in ms."""
    from muse_gan.assembly import build_adapter, load_config
    from muse_gan.core.store import cache_dir, load_pieces, prepare, source_files

    adapter = build_adapter(load_config(None, [f'data.modality="{CORPORA[corpus]}"']))
    # writes the built-in files once
    files = source_files(corpus, adapter.suffixes, corpora=adapter.corpora)
    rates = []
    for count in workers:
        shutil.rmtree(cache_dir() / "prepared", ignore_errors=True)
        started = time.perf_counter()
        pieces = prepare(adapter, files, quiet=True, workers=count)
        rates.append(f"{len(files) / (time.perf_counter() - started):.1f}")
    started = time.perf_counter()
    load_pieces(adapter, corpus, quiet=True)
    warm = (time.perf_counter() - started) * 1000
    return [corpus, str(len(files)), str(len(pieces)), *rates, f"{warm:.0f}"]


def worker_label(count: int) -> str:
    from muse_gan.core.store import AUTO_WORKERS

    return "workers as they pay" if count == AUTO_WORKERS else f"{count} worker{'s' * (count > 1)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", nargs="*", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--workers", nargs="*", type=int, default=[1, 2])
    arguments = parser.parse_args()
    header = ["corpus", "files", "pieces"] + [
        f"files/s, {worker_label(count)}" for count in arguments.workers
    ]
    header.append("warm load (ms)")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MUSE_GAN_CACHE"] = folder  # cold: none of the user's prepared data
        for corpus in arguments.corpora:
            print("| " + " | ".join(measure(corpus, arguments.workers)) + " |", flush=True)


if __name__ == "__main__":
    main()
