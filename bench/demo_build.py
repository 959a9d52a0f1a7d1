"""Time and peak memory of `congress demo` at the default size and at a million committees.

Run: .venv/bin/python -m bench.demo_build [--sizes 5,301] [--backends sqlite,postgresql]
     [--activity]

The tree alone (`--no-activity`) by default; `--activity` also records the months of
progress the first-run demo has (domain/demo_activity.py), as `congress demo` does.

Each run is a fresh `congress demo` process on a new, empty database; the peak memory is
that process's maximum resident set size (the PostgreSQL server's own memory is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.demo import demo_size
from tests.databases import BACKENDS, throwaway_database


def run_demo(
    database_url: str, data_dir: Path, cells_per_commune: int, activity: bool
) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one `congress demo` process."""
    command = [
        sys.executable, "-m", "cli", "--data-dir", str(data_dir), "--database-url", database_url,
        "demo", "--cells-per-commune", str(cells_per_commune),
        "--activity" if activity else "--no-activity",
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(process.stderr.read().decode() if process.stderr else "demo failed")
    return elapsed, usage.ru_maxrss / 1024


async def measure(backend: str, cells_per_commune: int, activity: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        async with throwaway_database(backend, Path(directory)) as url:
            return await asyncio.to_thread(
                run_demo, url, Path(directory), cells_per_commune, activity
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="5,301", help="cells per commune, comma-separated")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--activity", action="store_true", help="record the demo's progress")
    arguments = parser.parse_args()
    print(
        f"{'backend':<11} {'cells/commune':>13} {'committees':>11} {'seconds':>8} {'peak MiB':>9}"
    )
    for backend in arguments.backends.split(","):
        for cells in (int(size) for size in arguments.sizes.split(",")):
            seconds, peak_mib = asyncio.run(measure(backend, cells, arguments.activity))
            print(
                f"{backend:<11} {cells:>13} {demo_size(cells):>11,} {seconds:>8.1f} {peak_mib:>9.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
