"""Where a replay's history comes from: Prometheus itself, a saved series file, or a journal.

Each source answers one question — the ``Series`` of one guard over its
window at its ``every`` — so the decision code never knows which it was.

The series file (``--series FILE``, written by ``--save-series FILE``) is a
JSON object mapping a guard id, or the guard's query text exactly as the
launch would send it, to that query's Prometheus ``/api/v1/query_range``
answer as Prometheus returned it, e.g.
``{"error-rate": {"status": "success", "data": {"resultType": "matrix", "result": [...]}}}``;
``curl -G .../api/v1/query_range --data-urlencode query=... -d start=... -d end=... -d step=15``
gives one such value. A guard relative to its baseline also needs ``"GUARD.baseline"``: the
same query's answer over the baseline window (``--save-series`` writes both).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from launchctl.engine.baselines import BaselineKey, recorded, window_text
from launchctl.journal.catalogue import parse_iso
from launchctl.journal.reader import read_journal
from launchctl.journal.replay import replay
from rollback.guard_replay import Series, sample_times
from rollback.guards import LaunchTimes, baseline_range, window
from runbook import model
from runbook.errors import InputError
from steps.baseline import Baseline, from_points, measure_baseline
from steps.deadline import Deadline
from steps.http import HttpSession
from steps.prometheus import parse_range, range_query

TOTAL_SECONDS = 60.0  # the whole history fetch, every guard included
MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series in one query
BASELINE_SUFFIX = ".baseline"  # a series file's key for a guard's baseline range: "p95.baseline"


class SeriesSource(Protocol):
    def series(self, guard: model.Guard, query: str, times: LaunchTimes) -> Series: ...

    def baseline(self, guard: model.Guard, query: str, times: LaunchTimes) -> Baseline:
        """What a relative threshold is judged against, from the same history."""
        ...


def baseline_stretch(guard: model.Guard, times: LaunchTimes) -> tuple[datetime, datetime] | None:
    """The moments a guard's baseline covers, as the live launch measures them."""
    assert guard.baseline is not None
    return baseline_range(guard.baseline, times, window(guard, times)[0])


class PrometheusHistory:
    """One ``query_range`` per guard at its ``every``, all within one total deadline."""

    def __init__(self, base_url: str, now: datetime, session: HttpSession | None = None) -> None:
        self.base_url = base_url
        self.now = now
        self.session = session or HttpSession()
        self.total = Deadline.after(TOTAL_SECONDS)
        self.answers: dict[str, Any] = {}  # guard id -> the raw answers, for --save-series

    def series(self, guard: model.Guard, query: str, times: LaunchTimes) -> Series:
        moments = sample_times(guard, times, self.now)
        if not moments:
            return Series((), until=self.now)
        points: list = []
        step = guard.every.total_seconds()
        for first in range(0, len(moments), MAX_POINTS):
            chunk = moments[first : first + MAX_POINTS]
            deadline = self.total.sooner(max(guard.timeout.total_seconds(), 1.0))
            reading = range_query(
                self.session,
                self.base_url,
                query,
                start=chunk[0],
                end=chunk[-1],
                step_seconds=step,
                deadline=deadline,
            )
            if reading.points is None:
                return Series((), until=self.now, problem=reading.problem)
            points += reading.points
        self.answers[guard.id] = _as_answer(points)
        return Series(points, until=self.now)

    def baseline(self, guard: model.Guard, query: str, times: LaunchTimes) -> Baseline:
        stretch = baseline_stretch(guard, times)
        if stretch is None or stretch[1] > self.now:
            return Baseline(None, "the baseline window is not over yet")
        deadline = self.total.sooner(max(guard.timeout.total_seconds(), 1.0))
        measured = measure_baseline(self.session, self.base_url, query, *stretch, deadline)
        self.answers[f"{guard.id}{BASELINE_SUFFIX}"] = _as_answer(list(measured.readings))
        return measured

    def close(self) -> None:
        self.session.close()


def _as_answer(points: list) -> dict[str, Any]:
    """Points back in query_range shape, so a saved file replays exactly like the original."""
    values = [
        [when.timestamp(), "NaN" if value is None else repr(value)] for when, value, _ in points
    ]
    result = [{"metric": {}, "values": values}] if values else []
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def save_series(path: Path, answers: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(answers, indent=1) + "\n", encoding="utf-8")


class SeriesFile:
    """Saved ``query_range`` answers, found by guard id or by query text."""

    def __init__(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise InputError(f"{path}: cannot read: {error.strerror}") from None
        except ValueError as error:
            raise InputError(f"{path}: not JSON ({error})") from None
        if not isinstance(data, dict):
            raise InputError(
                f"{path}: expected a JSON object mapping guard ids or queries to query_range answers"
            )
        self.path = path
        self.answers = data

    def baseline(self, guard: model.Guard, query: str, times: LaunchTimes) -> Baseline:
        answer = self.answers.get(f"{guard.id}{BASELINE_SUFFIX}")
        stretch = baseline_stretch(guard, times)
        if answer is None or stretch is None:
            return Baseline(None, f"no baseline for this guard in {self.path.name}")
        reading = parse_range(answer)
        if reading.points is None:
            return Baseline(None, f"{self.path.name}: {reading.problem}")
        return from_points(reading.points, *stretch)

    def series(self, guard: model.Guard, query: str, times: LaunchTimes) -> Series:
        answer = self.answers.get(guard.id, self.answers.get(query))
        if answer is None:
            return Series((), problem=f"no series for this guard in {self.path.name}")
        reading = parse_range(answer)
        if reading.points is None:
            return Series((), problem=f"{self.path.name}: {reading.problem}")
        end = reading.points[-1][0] + guard.every if reading.points else None
        return Series(reading.points, until=end)


class JournalHistory:
    """A past launch's own guard samples (``guard_sample`` events), at their recorded moments."""

    def __init__(self, directory: Path) -> None:
        read = read_journal(directory)
        state = replay(read.events, read.torn_lines)
        self.launch = state.launch
        self.anchor: datetime | None = parse_iso(state.go_live) if state.go_live else None
        self.finished: dict[str, datetime] = {  # step id -> when it finished ok
            record.id: parse_iso(record.finished)
            for record in state.steps.values()
            if record.status == "ok" and record.finished
        }
        self.samples: dict[str, list] = {
            guard: [(parse_iso(when), value, why) for when, value, why in record.readings]
            for guard, record in state.guards.items()
            if record.readings
        }
        self.baselines: dict[BaselineKey, Baseline] = dict(map(recorded, state.baselines))

    @property
    def t0(self) -> datetime:
        return parse_iso(self.launch["t0"])

    def baseline(self, guard: model.Guard, query: str, times: LaunchTimes) -> Baseline:
        assert guard.baseline is not None
        found = self.baselines.get(BaselineKey.of(query, guard.baseline))
        if found is None:
            return Baseline(None, f"the journal holds no baseline {window_text(guard.baseline)}")
        return found

    def series(self, guard: model.Guard, query: str, times: LaunchTimes) -> Series:
        points = self.samples.get(guard.id, [])
        if not points:
            start, _ = window(guard, times)
            before = (start or times.t0) - timedelta(microseconds=1)
            return Series((), until=before)
        return Series(points, until=max(p[0] for p in points) + timedelta(milliseconds=1))
