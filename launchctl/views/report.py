"""The launch record, rendered from the journal alone: Markdown for people, JSON for tools."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from launchctl.journal.replay import LaunchState
from launchctl.views.checkpoint_record import checkpoint_data, markdown_lines
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


def _hms(stamp: str | None) -> str:
    moment = _dt(stamp)
    return moment.astimezone().strftime("%H:%M:%S") if moment else "—"


def _seconds(start: str | None, end: str | None) -> float | None:
    a, b = _dt(start), _dt(end)
    return round((b - a).total_seconds(), 3) if a and b else None


def outcome_of(state: LaunchState) -> str:
    if state.finished is not None:
        return state.finished.get("status", "finished")
    if state.paused is not None:
        return "paused"
    return "in_progress"


def step_rows(state: LaunchState) -> list[dict[str, Any]]:
    plan = {item["step"]: item for item in state.launch.get("plan", [])}
    rows = []
    for record in state.steps.values():
        planned = plan.get(record.id, {})
        rows.append(
            {
                "step": record.id,
                "title": planned.get("title"),
                "offset": planned.get("offset"),
                "target": planned.get("target"),
                "planned": record.planned or planned.get("planned"),
                "started": record.started,
                "finished": record.finished,
                "duration_s": _seconds(record.started, record.finished),
                "late_s": record.late_s,
                "status": record.status,
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


def _remedy_data(record: Any) -> dict[str, Any] | None:
    """A rollback or roll-forward, as the record shows it."""
    if record is None:
        return None
    return {
        "reason": record.reason,
        "trigger": record.trigger,
        "started": record.started,
        "finished": record.finished,
        "status": record.status,
        "steps": [
            {
                "step": r.id,
                "status": r.status,
                "reason": r.reason,
                "attempts": r.attempts,
                "commands": r.commands,
                "checks": r.checks,
                "fleet": hosts_data(r),
                "undid": undo_summary(r),
            }
            for r in record.steps.values()
        ],
    }


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
    rollback = _remedy_data(state.rollback)
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
        "outcome": outcome_of(state),
        "exit_code": state.finished.get("exit_code") if state.finished else None,
        "paused": state.paused,
        "steps": step_rows(state),
        "rollback": rollback,
        "roll_forward": _remedy_data(state.roll_forward),
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
    data = to_json_data(state)
    mode = data["mode"]
    kind = "dry run" if mode.get("dry_run") else "live"
    extras = [kind]
    if mode.get("no_wait"):
        extras.append("no-wait")
    if mode.get("speed") not in (None, 1, 1.0):
        extras.append(f"speed ×{mode['speed']:g}")
    outcome = data["outcome"]
    lines = [
        f"# Launch record: {data['name']}",
        "",
        f"- **Outcome:** {OUTCOMES.get(outcome, outcome)}"
        + (f" (exit {data['exit_code']})" if data["exit_code"] is not None else ""),
        f"- **Launch:** `{data['launch_id']}` ({', '.join(extras)}), driven by {data['user']}",
        f"- **T0:** {data['t0']}",
        f"- **Runbook:** `{data['runbook']}` (sha256 `{(data['runbook_sha256'] or '')[:12]}`)",
        f"- **Started:** {data['started']} — **finished:** {data['finished'] or '—'}",
    ]
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
    lines += [
        "",
        "## Timeline",
        "",
        "| Offset | Step | Planned | Actual | Slip | Duration | Status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["steps"]:
        slip = f"+{row['late_s']:.0f}s" if row["late_s"] else ""
        duration = f"{row['duration_s']:.1f}s" if row["duration_s"] is not None else ""
        status = row["status"] + (" (continued)" if row["continued"] else "")
        if row["attempts"] > 1:
            status += f", {row['attempts']} attempts"
        lines.append(
            f"| {row['offset'] or ''} | {_md_escape(row['step'])} | {_hms(row['planned'])} | {_hms(row['started'])} "
            f"| {slip} | {duration} | {status} |"
        )
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
    checks = [(row["step"], check) for row in data["steps"] for check in row["checks"]]
    if checks:
        lines += [
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
    if data["guards"]:
        lines += [
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
                    f"- {_hms(breach['ts'])} {_md_escape(breach['reason'])} → {breach['action']}"
                )
    for key, title in (("rollback", "Rollback"), ("roll_forward", "Roll-forward")):
        if data[key]:
            lines += _remedy_lines(data[key], title)
    lines += markdown_lines(data["checkpoints"])
    if data["decisions"]:
        lines += ["", "## Operator decisions", ""]
        for decision in data["decisions"]:
            lines.append(
                f"- {_hms(decision.get('ts'))} {decision.get('user')}: {decision.get('question')} → **{decision.get('answer')}**"
            )
    if data["notifications"]:
        lines += ["", "## Notifications", ""]
        lines += [f"- {_hms(n.get('ts'))} {n.get('message')}" for n in data["notifications"]]
    return "\n".join(lines) + "\n"


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
    duration = _seconds(rb["started"], rb["finished"])
    lines = [
        "",
        f"## {title}",
        "",
        f"- **Reason:** {rb['reason']}",
        f"- **Trigger:** {rb['trigger']}",
        f"- **Result:** {rb['status'] or 'in progress'}"
        + (f" in {duration:.1f}s" if duration is not None else ""),
        "",
        "| Step | Status | Attempts | Detail |",
        "|---|---|---|---|",
    ]
    for step in rb["steps"]:
        detail = "; ".join(part for part in (step["reason"], step.get("undid")) if part)
        lines.append(
            f"| {step['step']} | {step['status']} | {step['attempts']} | {_md_escape(detail)} |"
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
