"""Checkpoint benchmark: ``launchctl checkpoint`` against two days of a local Prometheus's
backfilled history (tests/checkpoint_history.py), and what a baseline costs to fetch.

Run on demand (not collected by pytest):

    python tests/perf/bench_checkpoint.py [--runs 5]

A launch goes live 52 hours ago (libfaketime), then, on a fresh copy of its journal each run:

- the whole 48-hour schedule in one call (``checkpoint --now T+48h10m``: 18 checkpoints of three
  Prometheus checks at their moments, three baselines measured and journaled);
- the same call again (nothing due: what a systemd timer costs every 15 minutes);
- one baseline fetched in process (``measure_baseline``: a 25-minute window, 121 points).

Goals: the 48-hour call under 3 s wall, the repeat under 1 s, a baseline fetch under 50 ms.
Exit status: 0 when all are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from checkpoint_history import RATIO, checkpoint_history, launch_in_the_past  # noqa: E402
from perf_common import launchctl_script, verdict  # noqa: E402

from launchctl.journal.catalogue import iso  # noqa: E402
from steps.baseline import measure_baseline  # noqa: E402
from steps.deadline import Deadline  # noqa: E402
from steps.http import HttpSession  # noqa: E402

ALL_GOAL_S, REPEAT_GOAL_S, FETCH_GOAL_S = 3.0, 1.0, 0.05


def timed_checkpoint(journal: Path, now: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [launchctl_script(), "checkpoint", str(journal), "--now", now],
        capture_output=True,
        text=True,
        cwd=journal.parent,
    )
    took = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"checkpoint failed ({done.returncode}): {done.stderr}")
    return took


def baseline_fetches(url: str, t0, runs: int) -> tuple[float, list[float]]:
    """The first fetch (a new connection) and the following ones, in seconds."""
    session = HttpSession()
    try:
        times = []
        for _ in range(runs + 1):
            measured = measure_baseline(
                session,
                url,
                RATIO,
                t0 - timedelta(minutes=30),
                t0 - timedelta(minutes=5),
                Deadline.after(10),
            )
            assert measured.value is not None, measured.reason
            times.append(measured.fetch_s)
        return times[0], times[1:]
    finally:
        session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "prometheus").mkdir()
        server = checkpoint_history(work / "prometheus")
        try:
            launched = launch_in_the_past(work, server.url, server.t0)
            end = iso(server.t0 + timedelta(hours=48, minutes=10))
            whole, repeat = [], []
            for run in range(args.runs):
                journal = work / f"run{run}"
                shutil.copytree(launched, journal)
                (journal / "journal.lock").unlink(missing_ok=True)
                whole.append(timed_checkpoint(journal, end))
                repeat.append(timed_checkpoint(journal, end))
            cold, warm = baseline_fetches(server.url, server.t0, args.runs)
        finally:
            server.stop()
    all_s, again_s = statistics.median(whole), statistics.median(repeat)
    fetch_s = statistics.median(warm)
    print(f"checkpoint, 48 hours (18 checkpoints x 3 checks, 3 baselines), {args.runs} runs:")
    print(f"  median {all_s:.2f}s, worst {max(whole):.2f}s (goal < {ALL_GOAL_S:g}s)")
    print(f"checkpoint again, nothing due: median {again_s:.2f}s (goal < {REPEAT_GOAL_S:g}s)")
    print(
        f"baseline fetch (25 min, 121 points): first {cold * 1000:.1f} ms, then median "
        f"{fetch_s * 1000:.1f} ms (goal < {FETCH_GOAL_S * 1000:g} ms)"
    )
    ok = all_s < ALL_GOAL_S and again_s < REPEAT_GOAL_S and fetch_s < FETCH_GOAL_S
    print(verdict(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
