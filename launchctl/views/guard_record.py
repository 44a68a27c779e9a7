"""The launch record's guards as charts: each guard's journaled samples, threshold, window,
breach and action, for the same chart the replay draws (``launchctl.views.guard_chart``),
and the moments the record's timeline marks (breach starts, guard verdicts, rollback)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from launchctl.journal.catalogue import parse_iso
from launchctl.journal.replay import LaunchState
from launchctl.views.guard_chart import GuardChart
from runbook.comparison import parse_comparison


def _moment(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("clock") or event.get("ts")
    return parse_iso(stamp) if isinstance(stamp, str) else None


def _threshold(chart: GuardChart, text: Any) -> None:
    if chart.threshold is not None or not isinstance(text, str):
        return
    try:
        found = parse_comparison(text)
    except ValueError:
        return
    chart.threshold, chart.comparator = found.threshold, found.op


def guard_charts(state: LaunchState) -> dict[str, GuardChart]:
    """One chart per guard that left events; the action marked is its first verdict."""
    charts: dict[str, GuardChart] = {}
    t0 = state.launch.get("t0")
    for event in state.guard_events:
        guard, moment = event.get("guard"), _moment(event)
        if not isinstance(guard, str) or moment is None:
            continue
        chart = charts.setdefault(guard, GuardChart(guard, None, t0=parse_iso(t0) if t0 else None))
        _threshold(chart, event.get("threshold"))
        kind = event["event"]
        if kind == "guard_window_opened":
            until = event.get("until")
            chart.window = (moment, parse_iso(until) if isinstance(until, str) else None)
        elif kind == "guard_window_closed" and chart.window[0] is not None:
            chart.window = (chart.window[0], chart.window[1] or moment)
        elif kind == "guard_sample":
            value = event.get("value")
            number = (
                value if isinstance(value, int | float) and not isinstance(value, bool) else None
            )
            chart.points.append((moment, None if number is None else float(number)))
        elif kind == "guard_breach" and chart.action_at is None:
            chart.breach_at = moment
        elif kind in ("guard_triggered", "guard_inconclusive") and chart.action_at is None:
            chart.action_at, chart.action = moment, str(event.get("action") or "action")
    return charts


def timeline_marks(state: LaunchState) -> list[tuple[datetime, str, str]]:
    """(moment, label, css class) for the timeline: breach starts, verdicts and the rollback."""
    marks = []
    for guard, chart in guard_charts(state).items():
        if chart.breach_at is not None:
            marks.append((chart.breach_at, f"{guard} breach", "breach-marker"))
        if chart.action_at is not None:
            marks.append((chart.action_at, f"{guard} → {chart.action}", "action-marker"))
    rollback = state.rollback
    if rollback is not None and (rollback.clock_started or rollback.started):
        # On the launch clock, like the rest of the timeline it marks.
        began = parse_iso(rollback.clock_started or rollback.started)
        marks.append((began, "rollback started", "rollback-marker"))
    return sorted(marks)
