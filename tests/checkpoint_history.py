"""A real Prometheus serving two days after a past go-live, for the checkpoint tests and benchmark:
a generated OpenMetrics history backfilled with ``promtool tsdb create-blocks-from openmetrics``.

The story, at one-minute resolution from T0-2h to T0+49h, with T0 52 hours ago:

- ``http_requests_total{service="shop",code="200"|"500"}``: 100 requests a second, 0.05 % of
  them 5xx, except during ``INCIDENT`` (T+5h30m to T+6h30m): 2 %.
- ``shop_p95_seconds``: 0.2 s before go-live, 0.22 s after it, 0.9 s during the incident.

The runbook ``LAUNCH`` checks the error ratio (< 0.1 %), P95 against 1.5x its baseline and the
request rate against 0.8x its own, every 2 h to T+24h and every 4 h to T+48h, with reviews at
T+24h and T+48h: every checkpoint passes but T+6h.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from history_prometheus import BackfilledPrometheus

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
STEP = 60
INCIDENT = (timedelta(hours=5, minutes=30), timedelta(hours=6, minutes=30))
BEFORE, AFTER = timedelta(hours=2), timedelta(hours=49)

RATIO = (
    'sum(rate(http_requests_total{service="shop",code="500"}[5m]))'
    ' / sum(rate(http_requests_total{service="shop"}[5m]))'
)
P95 = 'max(shop_p95_seconds{service="shop"})'
RATE = 'sum(rate(http_requests_total{service="shop"}[5m]))'

LAUNCH = f"""
version: 1
name: shop launch
prometheus: {{url: "URL"}}
steps:
  - {{id: deploy, at: T-5m, run: "true"}}
  - {{id: golive, at: T+0, run: "true"}}
checkpoints:
  check:
    - prometheus: '{RATIO}'
      expect: "< 0.001"
    - prometheus: '{P95}'
      expect: "< 1.5x baseline"
    - prometheus: '{RATE}'
      expect: "> 0.8x baseline"
  schedule:
    - {{every: 2h, until: T+24h}}
    - {{every: 4h, until: T+48h}}
  review: [T+24h, T+48h]
"""


def past_t0(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return (now - timedelta(hours=52)).replace(second=0, microsecond=0)


def openmetrics(t0: datetime) -> str:
    start, end = int((t0 - BEFORE).timestamp()), int((t0 + AFTER).timestamp())
    incident = tuple((t0 + moment).timestamp() for moment in INCIDENT)
    ok, errors, p95 = [], [], []
    good = bad = 0.0
    for moment in range(start, end + 1, STEP):
        during = incident[0] <= moment < incident[1]
        share = 0.02 if during else 0.0005
        good += 100 * STEP * (1 - share)
        bad += 100 * STEP * share
        ok.append(f'http_requests_total{{service="shop",code="200"}} {good:.1f} {moment}')
        errors.append(f'http_requests_total{{service="shop",code="500"}} {bad:.1f} {moment}')
        latency = 0.9 if during else (0.22 if moment >= t0.timestamp() else 0.2)
        p95.append(f'shop_p95_seconds{{service="shop"}} {latency} {moment}')
    return "\n".join(
        ["# TYPE http_requests counter", *ok, *errors, "# TYPE shop_p95_seconds gauge", *p95]
        + ["# EOF", ""]
    )


def checkpoint_history(workdir: Path) -> BackfilledPrometheus:
    """The Prometheus above, started; its ``t0`` is the past go-live."""
    t0 = past_t0()
    return BackfilledPrometheus(workdir, openmetrics(t0), t0)


def launch_in_the_past(workdir: Path, url: str, t0: datetime, runbook_text: str = LAUNCH) -> Path:
    """Run the launch for real with the wall clock set to ``t0`` (libfaketime): it goes live then."""
    if not os.path.exists(LIBFAKETIME):
        from realservers import unavailable

        unavailable("libfaketime is not installed (Debian package faketime)")
    runbook = workdir / "launch.yaml"
    runbook.write_text(runbook_text.replace("URL", url))
    env = {
        **os.environ,
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME": f"@{t0:%Y-%m-%d %H:%M:%S}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "TZ": "UTC",
    }
    journal = workdir / "journal"
    done = subprocess.run(
        [sys.executable, "-m", "launchctl.cli", "run", runbook, "--t0", "now", "--no-wait"]
        + ["--journal", journal],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the launch in the past failed: {done.stderr}")
    return journal
