"""The ``plan`` table, built from the events of a dry walk (the same walk as ``run``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollback.touched import undoes_touched
from runbook import model
from runbook.comparison import Comparison
from runbook.durations import format_duration
from steps.executor import describe_criterion


def _local(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone()


def plan_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per step: offset, planned time, step, target and the list of what it does."""
    rows: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    pending_confirm: dict[str, str] = {}
    for event in events:
        kind = event["event"]
        if kind == "confirm_requested":
            pending_confirm[event["step"]] = event["question"]
        elif kind == "point_of_no_return":
            pending_confirm[event["step"] + "/ponr"] = event["reason"]
        elif kind == "step_started":
            current = {
                "offset": event["offset"],
                "time": event["planned"],
                "step": event["step"],
                "title": event.get("title"),
                "target": event.get("target", "local"),
                "does": [],
            }
            if event["step"] in pending_confirm:
                current["does"].append(f"confirm: {pending_confirm.pop(event['step'])}")
            if event["step"] + "/ponr" in pending_confirm:
                reason = pending_confirm.pop(event["step"] + "/ponr")
                current["does"].insert(0, f"⚑ POINT OF NO RETURN ({reason})")
            rows.append(current)
        elif current is None:
            continue
        elif kind == "notification" and event.get("milestone") == "step":
            current["does"].append(f"notify: {event['message']}")
        elif kind == "command_finished":
            host = f" [{event['host']}]" if event.get("host") not in (None, "localhost") else ""
            current["does"].append(f"run{host}: {event['command']}")
        elif kind == "wave_started":
            hosts = event.get("hosts") or []
            count = f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}"
            current["does"].append(f"wave {event['wave']} of {event['of']} ({count}):")
        elif kind == "wait_started" and event.get("wave"):
            current["does"].append(
                f"hold {_seconds(event['seconds'])} after wave {event['wave']} (guards watching; "
                "a breach stops the next wave)"
            )
        elif kind == "wait_started":
            current["does"].append(f"wait {event['seconds']:g}s")
        elif kind == "check_result":
            host = f" [{event['host']}]" if event.get("host") else ""
            current["does"].append(
                f"check {event['kind']}{host}: {event['subject']} ({event.get('reason')})"
            )
    return rows


def render_plan(runbook: model.Runbook, rows: list[dict[str, Any]], t0: str) -> str:
    lines = [f"{runbook.name} — T0 {_local(t0):%Y-%m-%d %H:%M:%S %Z}", ""]
    width = max([len(r["step"]) for r in rows] + [4])
    twidth = max([len(r["target"]) for r in rows] + [6])
    lines.append(f"{'OFFSET':<9} {'TIME':<8} {'STEP':<{width}} {'TARGET':<{twidth}} WHAT")
    for row in rows:
        does = row["does"] or ["(nothing)"]
        head = f"{row['offset']:<9} {_local(row['time']):%H:%M:%S} {row['step']:<{width}} {row['target']:<{twidth}} "
        lines.append(head + does[0])
        lines.extend(" " * len(head) + item for item in does[1:])
    if runbook.guards:
        lines += ["", "GUARDS"]
        for guard in runbook.guards:
            window = (
                "whole launch"
                if guard.during is None
                else f"{_fmt(guard.during[0])}..{_fmt(guard.during[1])}"
            )
            lines.append(
                f"  {guard.id}: breach when {guard.query} {_threshold(guard.breach, guard.baseline)}, "
                f"{window}, then {guard.then}"
            )
            if guard.baseline is not None:
                lines.append(f"    baseline: {_baseline(guard.baseline)}")
    if runbook.checkpoints is not None:
        lines += ["", *checkpoint_lines(runbook.checkpoints)]
    for title, sequence in (
        ("ROLLBACK SEQUENCE", runbook.rollback),
        ("ROLL-FORWARD SEQUENCE (past the point of no return)", runbook.roll_forward),
    ):
        if sequence:
            lines += ["", title]
            lines.extend(
                f"  {step.id}: " + "; ".join(_sequence_step(step, runbook)) for step in sequence
            )
    return "\n".join(lines)


def _threshold(threshold: Comparison, baseline: model.BaselineWindow | None) -> str:
    """``> 1.5 × baseline (measured at T-5m)``; a fixed threshold as written."""
    if baseline is None or threshold.relative is None:
        return str(threshold)
    return f"{threshold.words()} (measured at {_fmt(baseline.end)})"


def _baseline(baseline: model.BaselineWindow) -> str:
    return f"the query's average over {_fmt(baseline.start)}..{_fmt(baseline.end)}"


def checkpoint_lines(checkpoints: model.Checkpoints) -> list[str]:
    """The watch after the launch: when, what, and what a failure does."""
    slots = checkpoints.slots()
    lines = [
        f"CHECKPOINTS (after go-live; launchctl watch / checkpoint): {len(slots)}, "
        f"then {checkpoints.then} on a failure"
    ]
    for cadence in checkpoints.schedule:
        lines.append(
            f"  every {format_duration(cadence.every)} from {_fmt(cadence.start)} "
            f"until {_fmt(cadence.until)}"
        )
    if checkpoints.reviews:
        lines.append("  reviews at " + ", ".join(_fmt(offset) for offset in checkpoints.reviews))
    for criterion in checkpoints.check:
        if isinstance(criterion, model.PrometheusCriterion) and criterion.baseline is not None:
            window = criterion.baseline
            span = f"{_fmt(window.start)}..{_fmt(window.end)}"
            judged = (
                f"{criterion.expect.words()} (measured at {_fmt(window.end)}: the average over {span})"
                if criterion.expect.relative
                else f"{criterion.expect} (shown against its average over {span})"
            )
            lines.append(f"  check prometheus: {criterion.query} {judged}")
        else:
            lines.append(
                f"  check {criterion.kind}: {criterion.subject()} ({describe_criterion(criterion)})"
            )
    return lines


def _sequence_step(step: model.RollbackStep, runbook: model.Runbook) -> list[str]:
    parts = []
    if step.if_started and undoes_touched(step, runbook):
        parts.append(f"on the hosts '{step.if_started}' started, last wave first")
    elif step.if_started:
        parts.append(f"if '{step.if_started}' started")
    if step.if_not_started:
        parts.append(f"if '{step.if_not_started}' has not started")
    if step.notify:
        parts.append(f"notify: {step.notify}")
    if step.run:
        parts.append(f"run on {step.on}: {step.run}")
    parts.extend(f"check {c.kind}: {c.subject()} ({describe_criterion(c)})" for c in step.check)
    return parts


def _seconds(seconds: float) -> str:
    from datetime import timedelta

    from runbook.durations import format_duration

    return format_duration(timedelta(seconds=seconds))


def _fmt(offset) -> str:
    from runbook.durations import format_offset

    return format_offset(offset)
