"""The test suite on a busy machine: ``python -m benchmarks.busy`` runs the README's test command
twice in a row while every core is kept busy by another process, and writes
benchmarks/RESULTS-busy.md.

Tests that wait a fixed time instead of for a condition pass on a quiet machine and fail on a
shared one (a CI runner, a laptop compiling something); this is how such a test is found. The
hogs run at the same priority as the suite, so the suite gets about half of each core. Set
GKA_TEST_POSTGRES_URL as `.ci/run` does and the PostgreSQL and deployment tests run too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS-busy.md"
RUNS = 2


def _hog(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


@contextlib.contextmanager
def busy_cpus(count: int | None = None):
    """Every core (or ``count``) kept busy by a process of its own, until the block ends."""
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_hog, args=(stop,), daemon=True) for _ in range(count or os.cpu_count() or 2)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        stop.set()
        for hog in hogs:
            hog.join(timeout=10)


def main() -> None:
    rows = []
    for run in range(1, RUNS + 1):
        with busy_cpus():
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - started
        summary = next((line for line in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", line)),
                       done.stdout[-300:])
        failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        rows.append((run, done.returncode, summary.strip("= "), seconds, failed))
        print(f"run {run}: exit {done.returncode}, {summary} ({seconds / 60:.1f} min)", flush=True)
    lines = ["# The test suite with every core busy", "",
             f"Run `python -m benchmarks.busy`. Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, on "
             f"{os.cpu_count()} CPUs, each kept busy by a CPU hog at the suite's own priority; the suite "
             f"(`pytest`, as in the README) ran {RUNS} times in a row.", "",
             "| run | exit code | result | duration |", "|---|---|---|---|"]
    lines += [f"| {run} | {code} | {summary} | {seconds / 60:.1f} min |" for run, code, summary, seconds, _ in rows]
    for run, _, _, _, failed in rows:
        lines += [f"- run {run}: {line}" for line in failed]
    RESULTS.write_text("\n".join(lines + [""]), encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")
    sys.exit(max(code for _, code, _, _, _ in rows))


if __name__ == "__main__":
    main()
