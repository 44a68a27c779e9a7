"""``launchctl status``: where a launch stands, from its journal and whether a driver holds its lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launchctl.journal.lock import driver_alive
from launchctl.journal.reader import read_journal
from launchctl.journal.replay import replay
from launchctl.views.checkpoint_record import checkpoint_data, status_line
from launchctl.views.clock_text import (
    clock_note,
    elapsed,
    is_rehearsal,
    wall_and_launch,
)
from launchctl.views.fleet_text import hosts_data, undo_summary, wave_lines
from launchctl.views.report import (
    no_return_side,
    outcome_of,
    remedy_steps,
    row_planned,
    row_started,
    step_rows,
)
from launchctl.views.sanitize import terminal_safe

MARKERS = {
    "ok": "✓",
    "failed": "✗",
    "started": "▶",
    "interrupted": "!",
    "skipped": "–",
    "pending": "·",
    "not run": "·",
}


def _remedy(record: Any, rehearsal: bool) -> dict[str, Any] | None:
    """A rollback or roll-forward: every step it runs, in order, with its own status (pending
    until it starts, skipped with the reason), apart from the launch's steps."""
    if record is None:
        return None
    steps = remedy_steps(record)
    return {
        "reason": record.reason,
        "status": record.status or "in progress",
        "started": record.started,
        "clock_started": record.clock_started,
        "duration_s": elapsed(record.started, record.finished),
        "steps": {r.id: r.status for r in steps},
        "reasons": {r.id: r.reason for r in steps if r.reason} or None,
        "times": {
            r.id: {
                "started": r.wall_started,
                "clock_started": r.started if rehearsal else None,
                "duration_s": elapsed(r.wall_started, r.wall_finished),
            }
            for r in steps
            if r.wall_started
        }
        or None,
        "undid": {r.id: undo_summary(r) for r in steps if undo_summary(r)} or None,
        "hosts": {r.id: hosts_data(r) for r in steps if hosts_data(r)} or None,
    }


def status_data(directory: Path) -> dict[str, Any]:
    read = read_journal(directory)
    state = replay(read.events, read.torn_lines)
    in_flight = state.in_flight_step
    launch = state.launch
    rehearsal = is_rehearsal(launch)
    return {
        "launch_id": state.launch_id,
        "name": launch.get("name"),
        "t0": launch.get("t0"),
        "dry_run": bool(launch.get("dry_run")),
        "speed": launch.get("speed"),
        "clock_note": clock_note(launch),
        "started": launch.get("ts"),
        "clock_started": launch.get("clock"),
        "elapsed_s": elapsed(launch.get("ts"), state.last_ts),
        "phase": state.phase,
        "outcome": outcome_of(state),
        "exit_code": state.finished.get("exit_code") if state.finished else None,
        "driver": driver_alive(directory),
        "in_flight": in_flight.id if in_flight else None,
        "paused_reason": state.paused.get("reason") if state.paused else None,
        "held": None
        if state.held is None
        else {
            "reason": state.held.get("reason"),
            "guards_watching": state.held.get("guards") or [],
        },
        "last_event": state.last_ts,
        "last_event_clock": state.last_clock if rehearsal else None,
        "steps": [
            {
                k: row[k]
                for k in (
                    "step",
                    "offset",
                    "planned",
                    "planned_wall",
                    "started",
                    "clock_started",
                    "duration_s",
                    "status",
                    "reason",
                )
            }
            | {"waves": wave_lines(state.steps[row["step"]]) or None}
            | {"hosts": hosts_data(state.steps[row["step"]])}
            | {"shown_planned": row_planned(row, state), "shown_started": row_started(row)}
            for row in step_rows(state)
        ],
        "rollback": _remedy(state.rollback, rehearsal),
        "roll_forward": _remedy(state.roll_forward, rehearsal),
        "point_of_no_return": no_return_side(state),
        "torn_lines": state.torn_lines,
        "journal": str(directory.absolute()),
        "checkpoints": checkpoint_data(state),
    }


def render_status(data: dict[str, Any]) -> str:
    """Where the launch stands, for people: wall-clock times (the launch clock beside them in a
    rehearsal), real durations, the launch's steps, then any rollback or roll-forward apart."""
    mode = " (dry run)" if data["dry_run"] else ""
    if not data["dry_run"] and data.get("speed") not in (None, 1, 1.0):
        mode = f" (rehearsal ×{data['speed']:g})"
    driver = f"live, driven by {data['driver']}" if data["driver"] else "no live driver"
    last = wall_and_launch(data["last_event"], data.get("last_event_clock"))
    ran = f", {data['elapsed_s']:.1f}s after the start" if data.get("elapsed_s") else ""
    lines = [
        f"{data['name']}{mode} — {data['launch_id']}",
        f"phase: {data['phase']} ({driver}); outcome: {data['outcome']}"
        + (f", exit {data['exit_code']}" if data["exit_code"] is not None else ""),
        f"T0: {data['t0']}   started {wall_and_launch(data['started'], data.get('clock_started'))}"
        f"   last event: {last}{ran}",
    ]
    if data.get("clock_note"):
        lines.append(data["clock_note"])
    if data["held"]:
        held = data["held"]
        watching = ", ".join(held["guards_watching"]) or "none open now"
        lines.append(
            f"held: {held['reason']}; guards watching: {watching} "
            "(resume, roll back or exit at the driver's terminal, or `launchctl rollback`)"
        )
    if data["paused_reason"]:
        lines.append(f"paused: {data['paused_reason']}  → launchctl resume {data['journal']}")
    lines.append("")
    for step in data["steps"]:
        marker = MARKERS.get(step["status"], " ")
        reason = f" — {step['reason']}" if step["reason"] else ""
        took = f"  {step['duration_s']:.1f}s" if step["duration_s"] is not None else ""
        lines.append(
            f" {marker} {step['offset'] or '':<8} {step['step']:<24} planned {step['shown_planned']}"
            f"  actual {step['shown_started']}{took}  {step['status']}{reason}"
        )
        lines += [f"      {line}" for line in step["waves"] or ()]
    if data["point_of_no_return"]:
        lines.append(data["point_of_no_return"])
    for key in ("rollback", "roll_forward"):
        if data[key]:
            lines += ["", *_remedy_lines(key.replace("_", "-"), data[key])]
    watch = status_line(data["checkpoints"])
    if watch:
        lines += ["", watch]
    if data["torn_lines"]:
        lines.append(f"\n(note: {data['torn_lines']} torn journal line(s) ignored)")
    return terminal_safe("\n".join(lines))


def _remedy_lines(title: str, rb: dict[str, Any]) -> list[str]:
    """``rollback: complete in 2.1s — why`` and one line per rollback step, in its own order."""
    took = f" in {rb['duration_s']:.1f}s" if rb.get("duration_s") is not None else ""
    began = wall_and_launch(rb.get("started"), rb.get("clock_started"))
    lines = [f"{title}: {rb['status']}{took} — {rb['reason']}", f"   started {began}"]
    undid, reasons, times = rb["undid"] or {}, rb.get("reasons") or {}, rb.get("times") or {}
    for step, status in rb["steps"].items():
        detail = undid.get(step) or (reasons.get(step) if status != "ok" else None)
        when = times.get(step)
        at = ""
        if when:
            at = f"   {wall_and_launch(when['started'], when['clock_started'])}"
            if when["duration_s"] is not None:
                at += f", {when['duration_s']:.1f}s"
        lines.append(
            f" {MARKERS.get(status, ' ')} {step}: {status}"
            + (f" — {detail}" if detail else "")
            + at
        )
    return lines
