"""Breach -> rollback_started in every state a launch can wait in (issue 9), against a real Prometheus.

Run on demand (not collected by pytest):

    python tests/perf/bench_preemption.py [--reps 5] [--keep]

For each scenario of ``tests/preemption_scenarios.py`` (a confirmation waiting, an ``ask``
waiting, the Ctrl-C menu open, an HTTP check on a stalled endpoint, a command running, the
launch held after go-live, a ``then: ask`` guard prompting), --reps launches run on a
pseudo-terminal nobody answers; the guard's metric turns bad once the state is reached. From
each journal: the breaching ``guard_sample`` to ``rollback_started`` (goal: at most 1 s, every
repetition). Printed: median and max per state. Exit status 0 when every repetition meets it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import verdict  # noqa: E402
from preemption_scenarios import SCENARIOS, Lab, breach_to_rollback  # noqa: E402
from realservers import Exporter, Prometheus  # noqa: E402

GOAL_SECONDS = 1.0


def _events(journal: Path) -> list[dict]:
    lines = (journal / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directories")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-preemption-"))
    exporter = Exporter()
    (base / "prometheus").mkdir()
    prometheus = Prometheus(base / "prometheus", exporter.port)
    ok = True
    rows = []
    try:
        for index, (name, scenario) in enumerate(SCENARIOS.items()):
            figures = []
            for rep in range(args.reps):
                metric = f"bench_preempt_{index}_{rep}"
                exporter.set(metric, 0.0)
                prometheus.wait_for(metric, lambda v: v == 0.0)
                workdir = base / f"s{index}-r{rep}"
                workdir.mkdir()
                lab = Lab(workdir, prometheus.url, exporter, prometheus, metric)
                code, _pty = scenario(lab)
                if code != 1:
                    print(
                        f"  {name}: rep {rep} ended with exit {code}, expected 1", file=sys.stderr
                    )
                    ok = False
                    continue
                figures.append(breach_to_rollback(_events(workdir / "j")))
            if figures:
                worst = max(figures)
                ok = ok and worst <= GOAL_SECONDS and len(figures) == args.reps
                rows.append((name, statistics.median(figures), worst, len(figures)))
    finally:
        prometheus.stop()
        exporter.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(
        f"breaching sample -> rollback_started (goal <= {GOAL_SECONDS:.1f} s), {args.reps} runs each"
    )
    print(f"  {'state':<36} {'median':>8} {'max':>8}")
    for name, median, worst, count in rows:
        note = "" if count == args.reps else f"  ({count} of {args.reps} runs)"
        print(f"  {name:<36} {median * 1000:6.0f}ms {worst * 1000:6.0f}ms{note}")
    print(f"verdict: {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
