"""Replay benchmark: a 2-hour window, 20 guards at ``every: 15s``, against a local Prometheus
serving a backfilled history (tests/history_prometheus.py).

Run on demand (not collected by pytest):

    python tests/perf/bench_replay.py [--runs 5]

Goal: ``launchctl replay`` (the real console script, a fresh process: startup, load, resolve,
20 range queries, 20 x 480 decisions, JSON out) under 2 s wall and under 150 MB peak RSS.
Prints the median and worst wall time, the peak RSS, and the in-process split (fetch vs.
decide) of one run. Exit status: 0 when both goals are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from history_prometheus import HistoryPrometheus  # noqa: E402
from perf_common import launchctl_script, verdict  # noqa: E402

GUARDS = 20
WALL_GOAL_S = 2.0
RSS_GOAL_MB = 150.0
QUERIES = [
    'sum(rate(http_requests_total{{service="shop",code=~"5.."}}[{r}])) / sum(rate(http_requests_total{{service="shop"}}[{r}]))',
    'sum(rate(http_requests_total{{service="shop"}}[{r}]))',
    'max_over_time(queue_depth{{service="gappy"}}[{r}])',
]


def write_runbook(directory: Path, url: str) -> Path:
    guards = []
    for index in range(GUARDS):
        query = QUERIES[index % len(QUERIES)].format(r=("1m", "2m", "5m")[index % 3])
        guards.append(
            f"  - id: g{index:02d}\n    prometheus: '{query}'\n    breach: \"> {1e9 + index}\"\n"
            "    every: 15s\n    during: [T-1h, T+1h]\n    then: warn\n    inconclusive_limit: 1000\n"
        )
    path = directory / "bench.yaml"
    path.write_text(
        "version: 1\nname: replay bench\n"
        f'prometheus: {{url: "{url}"}}\n'
        'steps:\n  - {id: golive, at: T+0, run: "true"}\n'
        "guards:\n" + "".join(guards)
    )
    return path


def timed_run(script: str, runbook: Path, t0: str) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS MB of that child, its JSON answer)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(
        [script, "replay", str(runbook), "--t0", t0, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        sys.exit(f"replay failed ({proc.returncode}): {proc.stderr}")
    return wall, max(peak, before) / 1024, json.loads(proc.stdout)


def split_in_process(runbook: Path, t0: str) -> tuple[float, float]:
    """(seconds fetching history, seconds deciding) of one in-process replay."""
    from datetime import datetime

    from launchctl.replay import evaluate
    from runbook.v1.loader import load_runbook
    from steps.clock import utcnow

    fetched: list[float] = []
    original = evaluate._fetch_all

    def timed(*args):
        started = time.perf_counter()
        try:
            return original(*args)
        finally:
            fetched.append(time.perf_counter() - started)

    evaluate._fetch_all = timed
    started = time.perf_counter()
    request = evaluate.ReplayRequest(datetime.fromisoformat(t0), utcnow())
    evaluate.run_replay(load_runbook(runbook), request, os.environ)
    total = time.perf_counter() - started
    evaluate._fetch_all = original
    return sum(fetched), total - sum(fetched)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as scratch:
        directory = Path(scratch)
        server = HistoryPrometheus(directory)
        try:
            runbook = write_runbook(directory, server.url)
            t0 = server.t0.isoformat()
            script = launchctl_script()
            results = [timed_run(script, runbook, t0) for _ in range(args.runs)]
            fetch, decide = split_in_process(runbook, t0)
        finally:
            server.stop()
    walls = [wall for wall, _, _ in results]
    peak = max(rss for _, rss, _ in results)
    answer = results[-1][2]
    samples = sum(guard["samples"] for guard in answer["guards"])
    wall_ok, rss_ok = max(walls) < WALL_GOAL_S, peak < RSS_GOAL_MB
    print(f"replay: {GUARDS} guards x 2 h window at every 15s = {samples} samples judged")
    print(
        f"wall: median {statistics.median(walls):.3f} s, worst {max(walls):.3f} s over "
        f"{len(walls)} runs (goal < {WALL_GOAL_S} s) {verdict(wall_ok)}"
    )
    print(f"peak RSS: {peak:.1f} MB (goal < {RSS_GOAL_MB:.0f} MB) {verdict(rss_ok)}")
    print(f"in process: fetching history {fetch:.3f} s, deciding and the rest {decide:.3f} s")
    return 0 if wall_ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main())
