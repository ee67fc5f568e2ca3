"""Latency and load of `muse serve` on this machine, against a warm server.

- cold start: from launching `muse serve` until its first answer to `POST /compose` (4 bars),
  and the CPU time the server used until then;
- p50/p95 of compose 4 and 16 bars (bach-rnn), continue 8 bars (from data/primer.mid) and
  render 8 bars, each request with its own seed, one at a time, and the server's CPU time per
  request (near what a request takes with a CPU to itself, whatever else the machine runs);
- load: CLIENTS clients at once for SECONDS seconds, composing 4 bars on bach-rnn, bach-gan and
  bach-vae in turn, then 8-bar renders now and then: errors counted, the server's resident
  memory after the run against after the warm-up.

Targets (2-core CPU): compose 4 bars p50 <= 150 ms, 16 bars <= 600 ms, cold start <= 4 s, no
errors, memory within 10%.

    python benchmarks/server_latency.py [--runs 20] [--clients 20] [--seconds 60] [--json out.json]

Only this machine's loopback address is used; every loop is bounded in count and time. The
machine's load average is sampled each second through the run and reported beside the table:
above the CPU count, other programs shared the CPUs and the latencies are theirs too.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIMER = base64.b64encode((ROOT / "data" / "primer.mid").read_bytes()).decode()
MODELS = "bach-rnn,bach-gan,bach-vae"


def start_server() -> tuple[subprocess.Popen, str, float]:
    """A fresh `muse serve`, its address, and the seconds from launch to the first compose answer."""
    launched = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "muse_gan", "serve", "--port", "0", "--models", MODELS, "-q"],
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        found = re.search(r"(http://\S+?)/ serving", line)
        if found:
            url = found.group(1)
            break
    else:
        raise SystemExit("muse serve did not start")
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    post(url, "/compose", {"bars": 4, "seed": 0})
    return process, url, time.perf_counter() - launched


def post(url: str, path: str, body: dict) -> bytes:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def timed(url: str, path: str, body: dict) -> float:
    started = time.perf_counter()
    post(url, path, body)
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def latencies(url: str, runs: int, pid: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Each case's latencies (seconds), and the server's CPU seconds per request for it."""
    clip = post(url, "/compose", {"bars": 8, "seed": 1, "format": "notes"})
    notes = json.loads(clip)
    eight_bars = {"notes": notes["notes"], "tempo": notes["tempo"]}
    cases = {
        "compose 4 bars (bach-rnn)": ("/compose", lambda seed: {"bars": 4, "seed": seed}),
        "compose 16 bars (bach-rnn)": ("/compose", lambda seed: {"bars": 16, "seed": seed}),
        "continue 8 bars (bach-rnn, 2-bar primer)": (
            "/continue",
            lambda seed: {"bars": 8, "seed": seed, "primer": {"midi": PRIMER}},
        ),
        "render 8 bars (WAV)": ("/render", lambda seed: {"clip": eight_bars}),
    }
    measured, cpu = {}, {}
    for name, (path, body) in cases.items():
        timed(url, path, body(10_000))  # warm
        used = cpu_seconds(pid)
        measured[name] = [timed(url, path, body(seed)) for seed in range(runs)]
        cpu[name] = (cpu_seconds(pid) - used) / runs
    return measured, cpu


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used, all its threads and the children it waited for (the
    FluidSynth that renders): what a request costs, however busy the machine is (its wall time
    also holds the waits for a CPU that others use)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(map(int, fields[11:15])) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def load(url: str, clients: int, seconds: float) -> dict:
    """``clients`` threads asking at once for ``seconds``: answers, errors, their latencies."""
    ends = time.monotonic() + seconds
    answered, errors, times = [], [], []
    models = MODELS.split(",")

    def client(number: int) -> None:
        for turn in range(100_000):  # bounded; the clock ends it first
            if time.monotonic() > ends:
                return
            path, body = (
                ("/render", {"clip": {"midi": PRIMER}})
                if turn % 10 == 9
                else ("/compose", {"model": models[(number + turn) % 3], "bars": 4, "seed": turn})
            )
            try:
                times.append(timed(url, path, body))
                answered.append(1)
            except (urllib.error.URLError, OSError) as error:
                errors.append(str(error))

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "answers": len(answered),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "p50": statistics.median(times),
        "p95": percentile(times, 0.95),
    }


class LoadAverage:
    """The 1-minute load average of this machine, sampled each second while it runs."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def line(self) -> str:
        if not self.samples:
            return f"machine: {os.cpu_count()} CPUs"
        return (
            f"machine: {os.cpu_count()} CPUs, load average (1 min) through the run: median "
            f"{statistics.median(self.samples):.1f}, max {max(self.samples):.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", default=None)
    arguments = parser.parse_args()

    with LoadAverage() as machine:
        colds, cold_cpu = [], []
        for _ in range(arguments.cold_starts):
            process, url, cold = start_server()
            colds.append(cold)
            cold_cpu.append(cpu_seconds(process.pid))  # all its threads: imports, loads, compose
            process.terminate()
            process.wait(60)
        process, url, _ = start_server()
        try:
            measured, cpu = latencies(url, arguments.runs, process.pid)
            warm_rss = resident_kib(process.pid)
            loaded = load(url, arguments.clients, arguments.seconds)
            after_rss = resident_kib(process.pid)
        finally:
            process.terminate()
            process.wait(60)

    print("| measure | p50 | p95 | server CPU per request | runs |\n|---|---|---|---|---|")
    for name, values in measured.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(
            f"| {name} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | {cpu[name] * 1000:.0f} ms "
            f"| {len(values)} |"
        )
    print(
        f"| cold start to first compose answer | {statistics.median(colds):.2f} s | "
        f"{max(colds):.2f} s (max) | {statistics.median(cold_cpu):.2f} s | {len(colds)} |"
    )
    growth = after_rss / warm_rss - 1
    print(
        f"\nload: {arguments.clients} clients for {arguments.seconds:.0f} s: {loaded['answers']} answers, "
        f"{loaded['errors']} errors, latency p50 {loaded['p50']:.2f} s p95 {loaded['p95']:.2f} s; "
        f"RSS {warm_rss / 1024:.0f} MiB after warm-up, {after_rss / 1024:.0f} MiB after ({growth:+.1%})"
    )
    if loaded["first_error"]:
        print(f"first error: {loaded['first_error']}")
    print(machine.line())
    if arguments.json:
        Path(arguments.json).write_text(
            json.dumps(
                {
                    "latency_s": measured,
                    "server_cpu_s_per_request": cpu,
                    "cold_start_s": colds,
                    "cold_start_server_cpu_s": cold_cpu,
                    "load": loaded,
                    "rss_kib": {"warm": warm_rss, "after": after_rss},
                    "load_average": machine.samples,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
