"""Plain, timestamped lines for a launch without a terminal view (CI logs, pipes, ``--dry-run``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

Formatter = Callable[[dict[str, Any]], str | None]


def _time(event: dict[str, Any]) -> str:
    stamp = event.get("clock") or event.get("ts")
    if not stamp:
        return " " * 8
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")


def _fmt_started(e: dict[str, Any]) -> str:
    late = f", LATE by {e['late_s']:.0f}s" if e.get("late_s", 0) >= 1 else ""
    attempt = f" (attempt {e['attempt']})" if e.get("attempt", 1) > 1 else ""
    return f"▶ {e.get('offset', '')} {e['step']}: {e.get('title', '')}{attempt}{late}"


def _fmt_command(e: dict[str, Any]) -> str:
    where = f" [{e['host']}]" if e.get("host") not in (None, "localhost") else ""
    if e.get("dry_run"):
        return f"  would run{where}: {e['command']}"
    status = "ok" if e.get("status") == "ok" else f"FAILED: {e.get('reason')}"
    return f"  $ {e['command']}{where} → exit {e.get('exit_code')} in {e.get('duration_s', 0):.2f}s, {status}"


def _fmt_check(e: dict[str, Any]) -> str:
    where = f" [{e['host']}]" if e.get("host") else ""
    if e.get("status") == "not-evaluated":
        return f"  would check {e['kind']}{where}: {e['subject']} ({e.get('reason')})"
    return f"  check {e['kind']}{where} {e['subject']}: {e['status'].upper()} ({e.get('reason')})"


_FORMATS: dict[str, Formatter] = {
    "launch_started": lambda e: (
        f"launch {e['launch_id']}: {e['name']} — T0 {e['t0']}{' (dry run)' if e.get('dry_run') else ''}"
    ),
    "launch_resumed": lambda e: f"resumed by {e.get('user')}",
    "step_started": _fmt_started,
    "confirm_requested": lambda e: f"? {e['step']}: {e['question']}",
    "command_finished": _fmt_command,
    "check_result": _fmt_check,
    "wait_started": lambda e: f"  holding {e['seconds']:.0f}s",
    "step_failed": lambda e: f"✗ {e['step']} failed: {e.get('reason')}",
    "step_finished": lambda e: (
        f"{'✓' if e['status'] == 'ok' else '✗' if e['status'] == 'failed' else '·'} {e['step']} {e['status']}"
        + (f": {e['reason']}" if e.get("reason") else "")
    ),
    "step_interrupted": lambda e: f"✗ {e['step']} interrupted: {e.get('reason')}",
    "operator_decision": lambda e: f"  {e.get('user')} chose {e['answer']!r} ({e.get('question')})",
    "notification": lambda e: f"  notify: {e['message']}",
    "notification_failed": lambda e: f"  notify via {e.get('channel')} failed: {e.get('error')}",
    "rollback_started": lambda e: f"⟲ ROLLBACK: {e.get('reason')}",
    "rollback_step_started": lambda e: f"⟲ {e['step']}: {e.get('title', '')}",
    "rollback_step_finished": lambda e: (
        f"  {e['step']} {e['status']}" + (f": {e['reason']}" if e.get("reason") else "")
    ),
    "rollback_finished": lambda e: f"⟲ rollback {e['status']} in {e.get('duration_s', 0):.1f}s",
    "launch_paused": lambda e: (
        f"⏸ paused: {e.get('reason')} — resume with: launchctl resume {e.get('journal', '')}"
    ),
    "launch_finished": lambda e: f"■ launch {e['status']} (exit {e['exit_code']})",
    "output": lambda e: (
        f"  | {e['line']}"
        if e.get("host") in (None, "localhost")
        else f"  | {e['host']}: {e['line']}"
    ),
}


class PlainConsole:
    """A recorder sink printing one timestamped line per event."""

    def __init__(self, stream: TextIO | None = None, show_output: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.show_output = show_output

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "output" and not self.show_output:
            return
        formatter = _FORMATS.get(event["event"])
        if formatter is None:
            return
        text = formatter(event)
        if text is None:
            return
        prefix = " " * 8 if event["event"] == "output" else _time(event)
        try:
            self.stream.write(f"{prefix} {text}\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass
