"""The launch record, rendered from the journal alone: Markdown for people, JSON for tools."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from launchctl.journal.replay import LaunchState, StepRecord
from launchctl.views.checkpoint_record import checkpoint_data, markdown_lines
from launchctl.views.clock_text import (
    clock_note,
    elapsed,
    event_time,
    hms,
    is_rehearsal,
    planned_wall,
    rehearsal_speed,
    slip_text,
    wall_and_launch,
)
from launchctl.views.fleet_text import hosts_data, undo_summary, wave_lines
from launchctl.views.sanitize import terminal_safe
from runbook.errors import InputError

OUTCOMES = {
    "completed": "Launch completed",
    "rolled_back": "Launch failed; rollback completed (system restored)",
    "rollback_incomplete": "ROLLBACK INCOMPLETE: a person must act",
    "rolled_forward": "Launch failed past the point of no return; roll-forward completed",
    "roll_forward_incomplete": "ROLL-FORWARD INCOMPLETE: a person must act",
    "paused": "Paused (resumable)",
}


def _dt(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


_hms = hms


def outcome_of(state: LaunchState) -> str:
    if state.finished is not None:
        return state.finished.get("status", "finished")
    if state.paused is not None:
        return "paused"
    return "in_progress"


def ended(state: LaunchState) -> bool:
    """The launch will run no more of its steps: finished, or undoing itself."""
    return any(x is not None for x in (state.finished, state.rollback, state.roll_forward))


def step_status(state: LaunchState, record: StepRecord) -> str:
    """A step's status for people: one that never started once the launch ended is "not run",
    never "pending"."""
    return "not run" if record.status == "pending" and ended(state) else record.status


def step_rows(state: LaunchState) -> list[dict[str, Any]]:
    """The launch steps: ``planned`` on the launch clock and ``planned_wall`` when the wall clock
    was to reach it (None in a dry run); ``started``/``finished`` on the wall clock, with
    ``clock_started``/``clock_finished`` on the launch clock in a rehearsal; ``duration_s``
    real seconds."""
    plan = {item["step"]: item for item in state.launch.get("plan", [])}
    rehearsal = is_rehearsal(state.launch)
    speed = rehearsal_speed(state.launch)
    rows = []
    for record in state.steps.values():
        planned = plan.get(record.id, {})
        due = record.planned or planned.get("planned")
        anchor = (record.wall_started, record.started)
        if record.wall_started is None:
            anchor = (state.last_ts, state.last_clock)
        due_wall = planned_wall(due, *anchor, speed) if rehearsal else _dt(due)
        rows.append(
            {
                "step": record.id,
                "title": planned.get("title"),
                "offset": planned.get("offset"),
                "target": planned.get("target"),
                "planned": due,
                "planned_wall": due_wall.isoformat() if due_wall else None,
                "started": record.wall_started,
                "finished": record.wall_finished,
                "clock_started": record.started if rehearsal else None,
                "clock_finished": record.finished if rehearsal else None,
                "duration_s": elapsed(record.wall_started, record.wall_finished),
                "late_s": record.late_s,
                "status": step_status(state, record),
                "continued": record.continued,
                "attempts": record.attempts,
                "reason": record.reason,
                "commands": record.commands,
                "checks": record.checks,
                "fleet": hosts_data(record),
                "fleet_lines": wave_lines(record),
            }
        )
    return rows


def guard_summary(state: LaunchState) -> dict[str, Any]:
    """Per guard: how many samples, the last, lowest and highest values, and every breach."""
    summary: dict[str, Any] = {}
    for guard, record in state.guards.items():
        values = record.values
        summary[guard] = {
            "samples": record.samples,
            "breaches": record.breaches,
            "last": values[-1] if values else None,
            "min": min(values) if values else None,
            "max": max(values) if values else None,
            "trend": values[-120:],
        }
    return summary


def _remedy_data(record: Any, rehearsal: bool) -> dict[str, Any] | None:
    """A rollback or roll-forward, as the record shows it."""
    if record is None:
        return None
    return {
        "reason": record.reason,
        "trigger": record.trigger,
        "started": record.started,
        "finished": record.finished,
        "clock_started": record.clock_started,
        "duration_s": elapsed(record.started, record.finished),
        "status": record.status,
        "steps": [
            {
                "step": r.id,
                "status": r.status,
                "reason": r.reason,
                "attempts": r.attempts,
                "started": r.wall_started,
                "finished": r.wall_finished,
                "clock_started": r.started if rehearsal else None,
                "duration_s": elapsed(r.wall_started, r.wall_finished),
                "commands": r.commands,
                "checks": r.checks,
                "fleet": hosts_data(r),
                "undid": undo_summary(r),
            }
            for r in remedy_steps(record)
        ],
    }


def remedy_steps(record: Any) -> list[StepRecord]:
    """A rollback's (or roll-forward's) steps in the order they ran or were skipped, then the
    ones it planned that have not started yet (pending): the sequence runs in plan order."""
    done = list(record.steps.values())
    return done + [StepRecord(sid) for sid in record.planned if sid not in record.steps]


def no_return_side(state: LaunchState) -> str | None:
    """Which side of the point of no return the launch ended on, in words (None: it has none)."""
    irreversible = state.launch.get("irreversible") or {}
    ponr = state.point_of_no_return
    if ponr is not None:
        return f"past the point of no return ('{ponr.get('step')}': {ponr.get('reason')})"
    if irreversible:
        first = next(iter(irreversible))
        return f"before the point of no return ('{first}' never started)"
    return None


def to_json_data(state: LaunchState) -> dict[str, Any]:
    launch = state.launch
    rehearsal = is_rehearsal(launch)
    rollback = _remedy_data(state.rollback, rehearsal)
    return {
        "launch_id": state.launch_id,
        "name": launch.get("name"),
        "runbook": launch.get("runbook"),
        "runbook_sha256": launch.get("runbook_sha256"),
        "user": launch.get("user"),
        "t0": launch.get("t0"),
        "mode": {k: launch.get(k) for k in ("dry_run", "no_wait", "speed", "yes")},
        "gate_override": launch.get("gate_override"),
        "started": launch.get("ts"),
        "finished": state.finished.get("ts") if state.finished else None,
        "clock_started": launch.get("clock"),
        "clock_finished": state.finished.get("clock") if state.finished else None,
        "duration_s": elapsed(
            launch.get("ts"), state.finished.get("ts") if state.finished else None
        ),
        "clock_note": clock_note(launch),
        "outcome": outcome_of(state),
        "exit_code": state.finished.get("exit_code") if state.finished else None,
        "paused": state.paused,
        "steps": step_rows(state),
        "rollback": rollback,
        "roll_forward": _remedy_data(state.roll_forward, rehearsal),
        "point_of_no_return": no_return_side(state),
        "gate": launch.get("gate"),
        "guards": guard_summary(state),
        "drill": launch.get("drill"),
        "decisions": state.decisions,
        "notifications": state.notifications,
        "resumes": state.resumes,
        "baselines": state.baselines,
        "checkpoints": checkpoint_data(state),
    }


def render_json(state: LaunchState) -> str:
    return json.dumps(to_json_data(state), indent=2, ensure_ascii=False, default=str)


def format_value(value: Any) -> str:
    """Observed values for people: four significant digits, integers as they are."""
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return str(value)


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(state: LaunchState) -> str:
    """The record for people; output in it keeps its colour and nothing else (``terminal_safe``)."""
    return terminal_safe(_markdown(state))


def _markdown(state: LaunchState) -> str:
    """The record's sections in reading order; each is left out when it has nothing to say."""
    data = to_json_data(state)
    lines = _md_summary(data)
    lines += _md_timeline(data, state)
    lines += _md_fleet_and_failures(data)
    lines += _md_checks(data)
    lines += _md_guards(data)
    for key, title in (("rollback", "Rollback"), ("roll_forward", "Roll-forward")):
        if data[key]:
            lines += _remedy_lines(data[key], title)
    lines += markdown_lines(data["checkpoints"])
    lines += _md_people(data)
    return "\n".join(lines) + "\n"


def _md_summary(data: dict[str, Any]) -> list[str]:
    outcome = data["outcome"]
    lines = [
        f"# Launch record: {data['name']}",
        "",
        f"- **Outcome:** {OUTCOMES.get(outcome, outcome)}"
        + (f" (exit {data['exit_code']})" if data["exit_code"] is not None else ""),
        f"- **Launch:** `{data['launch_id']}` ({mode_words(data['mode'])}), driven by {data['user']}",
        f"- **T0:** {data['t0']}",
        f"- **Runbook:** `{data['runbook']}` (sha256 `{(data['runbook_sha256'] or '')[:12]}`)",
        f"- **Started:** {_when(data, 'started')} — **finished:** {_when(data, 'finished')}"
        + (f" ({data['duration_s']:.1f}s)" if data["duration_s"] is not None else ""),
    ]
    if data["clock_note"]:
        lines.append(f"- **Times:** {data['clock_note'].removeprefix('times: ')}")
    if data["gate"]:
        gate = data["gate"]
        lines.append(
            f"- **Go/no-go:** {gate['decision']} (critical {gate['critical']['passed']}/{gate['critical']['total']}, "
            f"total {gate['total']['passed']}/{gate['total']['total']})"
            + (f" — {'; '.join(gate['reasons'])}" if gate["reasons"] else "")
        )
    if data["gate_override"]:
        lines.append(f"- **Go/no-go gate overridden:** {data['gate_override']}")
    if data["point_of_no_return"]:
        lines.append(f"- **Ended:** {data['point_of_no_return']}")
    if data["paused"]:
        lines.append(f"- **Paused:** {data['paused'].get('reason')}")
    return lines


def _md_timeline(data: dict[str, Any], state: LaunchState) -> list[str]:
    lines = [
        "",
        "## Timeline",
        "",
        "| Offset | Step | Planned | Actual | Slip | Duration | Status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["steps"]:
        lines.append(
            f"| {row['offset'] or ''} | {_md_escape(row['step'])} | {row_planned(row, state)} "
            f"| {row_started(row)} | {slip_text(row['late_s'], state.launch)} "
            f"| {_duration(row['duration_s'])} | {row_status(row)} |"
        )
    return lines


def _md_fleet_and_failures(data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    fleet = [row for row in data["steps"] if row["fleet_lines"]]
    if fleet:
        lines += ["", "## Hosts, per wave"]
        for row in fleet:
            lines += ["", f"### {row['step']}", ""]
            lines += [f"- {_md_escape(line)}" for line in row["fleet_lines"]]
    failures = [
        row for row in data["steps"] if row["reason"] and row["status"] in ("failed", "interrupted")
    ]
    if failures:
        lines += ["", "## Failures"]
        for row in failures:
            lines += ["", f"### {row['step']}: {row['reason']}"]
            lines += _command_tails(row["commands"])
    return lines


def _md_checks(data: dict[str, Any]) -> list[str]:
    checks = [(row["step"], check) for row in data["steps"] for check in row["checks"]]
    if not checks:
        return []
    lines = [
        "",
        "## Checks",
        "",
        "| Step | Kind | Subject | Result | Value | Detail |",
        "|---|---|---|---|---|---|",
    ]
    for step, check in checks:
        host = f" [{check['host']}]" if check.get("host") else ""
        value = format_value(check.get("value"))
        lines.append(
            f"| {step} | {check['kind']} | `{_md_escape(check['subject'])}`{host} | {check['status']} | {value} | {_md_escape(check.get('reason', ''))} |"
        )
    return lines


def _md_guards(data: dict[str, Any]) -> list[str]:
    if not data["guards"]:
        return []
    lines = [
        "",
        "## Guards",
        "",
        "| Guard | Samples | Last | Min | Max | Breaches |",
        "|---|---|---|---|---|---|",
    ]
    for guard, entry in data["guards"].items():
        shown = ["" if entry[k] is None else f"{entry[k]:.4g}" for k in ("last", "min", "max")]
        lines.append(
            f"| {guard} | {entry['samples']} | {' | '.join(shown)} | {len(entry['breaches'])} |"
        )
    lines += baseline_lines(data["baselines"])
    for entry in data["guards"].values():
        for breach in entry["breaches"]:
            lines.append(
                f"- {wall_and_launch(breach['ts'], breach.get('clock'))} "
                f"{_md_escape(breach['reason'])} → {breach['action']}"
            )
    return lines


def _md_people(data: dict[str, Any]) -> list[str]:
    """Who decided what, and who was told."""
    lines: list[str] = []
    if data["decisions"]:
        lines += ["", "## Operator decisions", ""]
        for decision in data["decisions"]:
            lines.append(
                f"- {event_time(decision)} {decision.get('user')}: {decision.get('question')} → **{decision.get('answer')}**"
            )
    if data["notifications"]:
        dry = data["mode"].get("dry_run")
        lines += ["", "## Notifications" + (" (a dry run: none was sent)" if dry else ""), ""]
        lines += [
            f"- {event_time(n)} {'would notify: ' if n.get('dry_run') else ''}{n.get('message')}"
            for n in data["notifications"]
        ]
    return lines


def mode_words(mode: dict[str, Any]) -> str:
    """``dry run``, ``rehearsal, speed ×60, no-wait`` or ``live``: what kind of launch it was."""
    speed = mode.get("speed")
    sped = speed not in (None, 1, 1.0)
    words = ["dry run" if mode.get("dry_run") else "rehearsal" if sped else "live"]
    if mode.get("no_wait"):
        words.append("no-wait")
    if sped and not mode.get("dry_run"):
        words.append(f"speed ×{speed:g}")
    return ", ".join(words)


def _when(data: dict[str, Any], key: str) -> str:
    """The launch's start or finish: the ISO wall time, with the launch clock in a rehearsal."""
    wall, launch = data[key], data.get(f"clock_{key}")
    if wall is None:
        return "—"
    return f"{wall} (launch {hms(launch)})" if launch else str(wall)


def _duration(seconds: float | None) -> str:
    return f"{seconds:.1f}s" if seconds is not None else ""


def row_planned(row: dict[str, Any], state: LaunchState) -> str:
    """A step's planned start as people read it (see ``clock_text.planned_text``)."""
    if row["planned"] is None:
        return "—"
    if row["planned_wall"] is None:
        return f"(launch {hms(row['planned'])})"
    if not is_rehearsal(state.launch):
        return hms(row["planned"])
    return wall_and_launch(row["planned_wall"], row["planned"])


def row_started(row: dict[str, Any]) -> str:
    return wall_and_launch(row["started"], row.get("clock_started")) if row["started"] else "—"


def row_status(row: dict[str, Any]) -> str:
    status = row["status"] + (" (continued)" if row["continued"] else "")
    if row["attempts"] > 1:
        status += f", {row['attempts']} attempts"
    return status


def baseline_lines(baselines: list[dict[str, Any]]) -> list[str]:
    """Each baseline a guard or check judged against: its value, or why there was none."""
    lines = []
    for event in baselines:
        who = ", ".join(event.get("used_by") or []) or f"`{_md_escape(event.get('query'))}`"
        value = event.get("value")
        shown = (
            f"{value:.4g} (average of {event.get('points')} points)"
            if value is not None
            else f"none: {_md_escape(event.get('reason'))} (inconclusive)"
        )
        lines.append(f"- baseline {event.get('window')} for {who}: {shown}")
    return lines


def _remedy_lines(rb: dict[str, Any], title: str) -> list[str]:
    duration = rb["duration_s"]
    lines = [
        "",
        f"## {title}",
        "",
        f"- **Reason:** {rb['reason']}",
        f"- **Trigger:** {rb['trigger']}",
        f"- **Result:** {rb['status'] or 'in progress'}"
        + (f" in {duration:.1f}s" if duration is not None else ""),
        "",
        "| Step | Started | Duration | Status | Attempts | Detail |",
        "|---|---|---|---|---|---|",
    ]
    for step in rb["steps"]:
        detail = "; ".join(part for part in (step["reason"], step.get("undid")) if part)
        started = row_started(step) if step["started"] else ""
        lines.append(
            f"| {step['step']} | {started} | {_duration(step['duration_s'])} | {step['status']} "
            f"| {step['attempts']} | {_md_escape(detail)} |"
        )
    for step in rb["steps"]:
        if step["status"] == "failed":
            lines += ["", f"### {title.lower()} {step['step']}: {step['reason']}"]
            lines += _command_tails(step["commands"])
    return lines


def _command_tails(commands: list[dict[str, Any]]) -> list[str]:
    lines = []
    for command in commands:
        if command.get("status") == "ok":
            continue
        host = f" on {command['host']}" if command.get("host") not in (None, "localhost") else ""
        lines += [
            "",
            f"`{command['command']}`{host} → exit {command.get('exit_code')} ({command.get('reason')})",
        ]
        if command.get("tail"):
            lines += ["", "```", *command["tail"][-20:], "```"]
    return lines


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a report file with exactly ``mode`` (0600 by default), whatever the umask or the
    mode an existing file had: a report carries command output and launch details."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
