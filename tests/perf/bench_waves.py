"""Waves benchmark: what ``waves: [1, 10%, 100%]`` costs over the same fan-out without waves.

Run on demand, on an idle machine (not collected by pytest):

    python tests/perf/bench_waves.py [--hosts 100] [--parallel 20] [--reps 5]

It starts its own sshd (tests/realservers_ssh.py, ``MaxStartups 200``) and writes
N aliases h1..hN (all 127.0.0.1:PORT) into ``$HOME/.ssh/config`` of a scratch
HOME, as tests/perf/bench_ssh.py does. One ``launchctl run --no-wait`` drives a
runbook of a warm-up step (``true`` on every host: the connections are opened
and stay pooled) and then, REPS times in alternating order, the same ``true``
with ``parallel: P`` twice: ``flat`` (no waves) and ``waves`` (``waves: [1,
10%, 100%]``, no hold, no checks). Step times come from the journal
(``step_started`` to ``step_finished``), the canary's own round trip from its
wave (``wave_started`` 1 to ``wave_finished`` 1).

Goal (the issue's): waves' overhead over flat, after taking away the canary's
round trip, is at most 10% of flat. Each pair runs back to back, so the
overhead is taken pair by pair (waves - flat - canary, over flat) and the
median of the pairs is judged: a machine whose load drifts during the run
moves both halves of a pair alike. Exit status 0 when met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from bench_ssh import prepare_home, start_sshd
from perf_common import launch_journal, verdict

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))


def runbook(hosts: list[str], parallel: int, reps: int) -> str:
    steps = ["  - {id: warm, at: T+0, on: fleet, run: 'true'}"]
    for rep in range(reps):
        pair = [
            f"  - {{id: flat-{rep}, at: T+0, on: fleet, run: 'true'}}",
            f"  - {{id: waves-{rep}, at: T+0, on: fleet, run: 'true', waves: [1, 10%, 100%]}}",
        ]
        steps += pair if rep % 2 == 0 else pair[::-1]
    return (
        "version: 1\nname: Waves bench\n"
        f"targets:\n  fleet: {{hosts: [{', '.join(hosts)}], parallel: {parallel}}}\n"
        "steps:\n" + "\n".join(steps) + "\n"
    )


def _ts(event: dict) -> datetime:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))


def run_bench(hosts: list[str], parallel: int, reps: int, env: dict[str, str], work: Path):
    book = work / "bench.yaml"
    book.write_text(runbook(hosts, parallel, reps))
    events, wall, code, stderr, _ = launch_journal(book, env, work)
    failed = [e for e in events if e["event"] == "host_finished" and e.get("status") != "ok"]
    if code != 0 or failed:
        raise RuntimeError(f"launchctl run exited {code}: {failed[:1]} {stderr}")
    spans: dict[str, list[datetime]] = {}
    canary: dict[str, list[datetime]] = {}
    for event in events:
        if event["event"] in ("step_started", "step_finished"):
            spans.setdefault(event["step"], []).append(_ts(event))
        if event["event"] in ("wave_started", "wave_finished") and event.get("wave") == 1:
            canary.setdefault(event["step"], []).append(_ts(event))
    seconds = {step: (end - start).total_seconds() for step, (start, end) in spans.items()}
    canaries = {step: (end - start).total_seconds() for step, (start, end) in canary.items()}
    flat = [seconds[f"flat-{r}"] for r in range(reps)]
    waves = [seconds[f"waves-{r}"] for r in range(reps)]
    rounds = [canaries[f"waves-{r}"] for r in range(reps)]
    return flat, waves, rounds, seconds["warm"], wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-waves-"))
    (base / "sshd").mkdir()
    sshd = start_sshd(base / "sshd")
    try:
        env = prepare_home(base, sshd, [args.hosts])
        hosts = [f"h{i}" for i in range(1, args.hosts + 1)]
        flat, waves, canary, warm, wall = run_bench(hosts, args.parallel, args.reps, env, base)
    finally:
        sshd.stop()
        shutil.rmtree(base, ignore_errors=True)
    f, w, c = statistics.median(flat), statistics.median(waves), statistics.median(canary)
    pairs = [(wv - fl - cn) / fl for fl, wv, cn in zip(flat, waves, canary, strict=True)]
    overhead = statistics.median(pairs)
    print(
        f"{args.hosts} host aliases of one loopback sshd; {os.cpu_count()} CPUs; parallel "
        f"{args.parallel}; `true`; waves [1, 10%, 100%], no hold; {args.reps} pairs, alternating"
    )
    print(f"warm-up step (connections opened):    {warm:6.3f}s; whole run {wall:.2f}s")
    print(f"flat  (no waves), per run:  {' '.join(f'{x:.3f}' for x in flat)}  median {f:.3f}s")
    print(f"waves,            per run:  {' '.join(f'{x:.3f}' for x in waves)}  median {w:.3f}s")
    print(f"canary's round trip (wave 1), per run: {' '.join(f'{x:.3f}' for x in canary)}")
    print(
        "overhead beyond the canary, per pair: "
        + " ".join(f"{100 * x:+.1f}%" for x in pairs)
        + f"  median {100 * overhead:+.1f}% of flat"
    )
    ok = overhead <= 0.10
    print(
        f"{verdict(ok)}  waves - flat - canary: median {100 * overhead:+.1f}% of flat <= 10% "
        f"(medians: waves {w:.3f}s, flat {f:.3f}s, canary {c:.3f}s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
