"""``launchctl status``: where a launch stands, from its journal and whether a driver holds its lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launchctl.journal.lock import driver_alive
from launchctl.journal.reader import read_journal
from launchctl.journal.replay import replay
from launchctl.views.checkpoint_record import checkpoint_data, status_line
from launchctl.views.fleet_text import hosts_data, undo_summary, wave_lines
from launchctl.views.report import _hms, no_return_side, outcome_of, step_rows
from launchctl.views.sanitize import terminal_safe


def _remedy(record: Any) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "reason": record.reason,
        "status": record.status or "in progress",
        "steps": {k: v.status for k, v in record.steps.items()},
        "undid": {k: undo_summary(v) for k, v in record.steps.items() if undo_summary(v)} or None,
        "hosts": {k: hosts_data(v) for k, v in record.steps.items() if hosts_data(v)} or None,
    }


def status_data(directory: Path) -> dict[str, Any]:
    read = read_journal(directory)
    state = replay(read.events, read.torn_lines)
    in_flight = state.in_flight_step
    return {
        "launch_id": state.launch_id,
        "name": state.launch.get("name"),
        "t0": state.launch.get("t0"),
        "dry_run": bool(state.launch.get("dry_run")),
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
        "steps": [
            {k: row[k] for k in ("step", "offset", "planned", "started", "status", "reason")}
            | {"waves": wave_lines(state.steps[row["step"]]) or None}
            | {"hosts": hosts_data(state.steps[row["step"]])}
            for row in step_rows(state)
        ],
        "rollback": _remedy(state.rollback),
        "roll_forward": _remedy(state.roll_forward),
        "point_of_no_return": no_return_side(state),
        "torn_lines": state.torn_lines,
        "journal": str(directory.absolute()),
        "checkpoints": checkpoint_data(state),
    }


def render_status(data: dict[str, Any]) -> str:
    mode = " (dry run)" if data["dry_run"] else ""
    driver = f"live, driven by {data['driver']}" if data["driver"] else "no live driver"
    lines = [
        f"{data['name']}{mode} — {data['launch_id']}",
        f"phase: {data['phase']} ({driver}); outcome: {data['outcome']}"
        + (f", exit {data['exit_code']}" if data["exit_code"] is not None else ""),
        f"T0: {data['t0']}   last event: {data['last_event']}",
    ]
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
        marker = {"ok": "✓", "failed": "✗", "started": "▶", "interrupted": "!", "skipped": "·"}.get(
            step["status"], " "
        )
        reason = f" — {step['reason']}" if step["reason"] else ""
        lines.append(
            f" {marker} {step['offset'] or '':<8} {step['step']:<24} planned {_hms(step['planned'])}"
            f"  actual {_hms(step['started'])}  {step['status']}{reason}"
        )
        lines += [f"      {line}" for line in step["waves"] or ()]
    if data["point_of_no_return"]:
        lines.append(data["point_of_no_return"])
    for key in ("rollback", "roll_forward"):
        if data[key]:
            rb = data[key]
            lines += ["", f"{key.replace('_', '-')}: {rb['status']} — {rb['reason']}"]
            undid = rb["undid"] or {}
            lines += [
                f"   {k}: {v}" + (f" — {undid[k]}" if k in undid else "")
                for k, v in rb["steps"].items()
            ]
    watch = status_line(data["checkpoints"])
    if watch:
        lines += ["", watch]
    if data["torn_lines"]:
        lines.append(f"\n(note: {data['torn_lines']} torn journal line(s) ignored)")
    return terminal_safe("\n".join(lines))
