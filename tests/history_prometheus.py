"""A real Prometheus serving a known past: a generated OpenMetrics history backfilled with
``promtool tsdb create-blocks-from openmetrics``, for the replay tests and benchmark.

The story, at 15 s resolution from T0-75m to T0+75m, with T0 five hours ago (blocks must be
older than the head's window, and retention long enough to keep them):

- ``http_requests_total{service="shop",code="200"|"500"}``: 100 requests a second; 0.5 % are
  5xx until ``INCIDENT`` (T+12m), then 20 %.
- ``queue_depth{service="gappy"}``: a gauge at 10 with no samples from ``GAP`` (T+5m) to
  ``GAP_END`` (T+7m): a scrape outage, for inconclusive history.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from realservers import Prometheus, free_port, unavailable

STEP = 15
RATE = 100.0
BASE_ERRORS = 0.005
INCIDENT_ERRORS = 0.20
INCIDENT = timedelta(minutes=12)
GAP, GAP_END = timedelta(minutes=5), timedelta(minutes=7)
SPAN_BEFORE, SPAN_AFTER = timedelta(minutes=75), timedelta(minutes=75)


def past_t0(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return (now - timedelta(hours=5)).replace(second=0, microsecond=0)


def openmetrics(t0: datetime) -> str:
    """The story above as an OpenMetrics exposition with timestamps, one series after another."""
    start = int((t0 - SPAN_BEFORE).timestamp())
    end = int((t0 + SPAN_AFTER).timestamp())
    incident = (t0 + INCIDENT).timestamp()
    gap = ((t0 + GAP).timestamp(), (t0 + GAP_END).timestamp())
    ok, errors = [], []
    good = bad = 0.0
    for moment in range(start, end + 1, STEP):
        share = INCIDENT_ERRORS if moment > incident else BASE_ERRORS
        good += RATE * STEP * (1 - share)
        bad += RATE * STEP * share
        ok.append(f'http_requests_total{{service="shop",code="200"}} {good:.1f} {moment}')
        errors.append(f'http_requests_total{{service="shop",code="500"}} {bad:.1f} {moment}')
    depth = [
        f'queue_depth{{service="gappy"}} 10 {moment}'
        for moment in range(start, end + 1, STEP)
        if not gap[0] <= moment < gap[1]
    ]
    return "\n".join(
        [
            "# TYPE http_requests counter",
            *ok,
            *errors,
            "# TYPE queue_depth gauge",
            *depth,
            "# EOF",
            "",
        ]
    )


class BackfilledPrometheus(Prometheus):
    """Prometheus over blocks backfilled from an OpenMetrics text (``t0``: the story's go-live),
    its global scrape interval 15 s (its one target is a port nobody listens on: the history is
    all it serves)."""

    def __init__(self, workdir: Path, text: str, t0: datetime) -> None:
        promtool = shutil.which("promtool")
        if promtool is None:
            unavailable("promtool is not installed (Debian package prometheus)")
        self.t0 = t0
        data = workdir / "history-data"
        source = workdir / "history.om"
        source.write_text(text)
        made = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if made.returncode != 0:
            unavailable(f"promtool could not backfill: {made.stderr.strip()[-300:]}")
        super().__init__(
            workdir,
            free_port(),
            scrape_interval="15s",
            data=data,
            extra_args=("--storage.tsdb.retention.time=3650d",),
        )


class HistoryPrometheus(BackfilledPrometheus):
    """The incident story above."""

    def __init__(self, workdir: Path, t0: datetime | None = None) -> None:
        t0 = t0 or past_t0()
        super().__init__(workdir, openmetrics(t0), t0)
