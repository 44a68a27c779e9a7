"""Plain, timestamped lines for a launch without a terminal view (CI logs, pipes, ``--dry-run``).

Each line starts with the wall-clock time its event was journaled at; in a rehearsal
(``--speed``, a dry run, a dry drill) the launch clock follows in brackets, so a log
read later says both when it happened and where the launch's timeline stood. A dry
run says everything it would have done, in words that never read as done: the
guards it would watch and when, the rollback a failure at each step would run, and
"would notify" for every message it did not send.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from launchctl.journal.dispatch import EventTable
from launchctl.views.clock_text import event_time, hms
from launchctl.views.report import OUTCOMES
from launchctl.views.sanitize import terminal_safe

Formatter = Callable[[dict[str, Any]], str | None]


def _time(event: dict[str, Any]) -> str:
    return event_time(event) if event.get("ts") else " " * 8


def _launch_time(stamp: Any, event: dict[str, Any]) -> str:
    """A moment on the launch clock (a guard window's edge): labelled so in a rehearsal."""
    return f"launch {hms(stamp)}" if event.get("clock") else hms(stamp)


def _value(e: dict[str, Any]) -> str:
    value = e.get("value")
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _fmt_verdict(e: dict[str, Any]) -> str:
    return f"⚠ {e.get('reason')} → {e.get('action')}"


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


def hosts_text(hosts: list[str], limit: int = 6) -> str:
    """``app1, app2, app3 and 17 more``: a wave's hosts in one short line."""
    if len(hosts) <= limit:
        return ", ".join(hosts)
    return f"{', '.join(hosts[:limit])} and {len(hosts) - limit} more"


def _fmt_wave_started(e: dict[str, Any]) -> str:
    undo = "undo " if e.get("phase") in ("rollback", "roll_forward") else ""
    return f"  ≋ {undo}wave {e['wave']} of {e['of']}: {hosts_text(e.get('hosts') or [])}"


def _fmt_wave_finished(e: dict[str, Any]) -> str:
    failed = e.get("failed") or []
    counts = f"{e.get('ok', 0)} ok" + (f", {len(failed)} failed" if failed else "")
    if e.get("not_started"):
        counts += f", {len(e['not_started'])} not started"
    return f"  ≋ wave {e['wave']} of {e['of']} {e['status']}: {counts}"


def _fmt_guard_planned(e: dict[str, Any]) -> str:
    threshold = e.get("threshold", "")
    if e.get("baseline"):
        threshold += f" (baseline {e['baseline']})"
    window = f" ({e['window']})" if e.get("window") else ""
    return (
        f"  guard {e['guard']} would watch {e.get('query', '')} {threshold} from "
        f"{_launch_time(e.get('opens'), e)} to {_launch_time(e.get('closes'), e)}{window}, "
        f"then {e.get('then', 'rollback')}"
    )


def _fmt_window_opened(e: dict[str, Any]) -> str:
    limit = f" (limit {e['limit']:.4g})" if isinstance(e.get("limit"), int | float) else ""
    until = f" until {_launch_time(e['until'], e)}" if e.get("until") else ""
    return f"  guard {e['guard']} watching: {e.get('threshold', '')}{limit}{until}"


def _fmt_remedy_preview(e: dict[str, Any]) -> str:
    if e.get("person_decides"):
        return (
            f"  if {e['step']} failed here: a person would decide (past the point of no return, "
            "no roll_forward)"
        )
    remedy = str(e.get("remedy", "rollback")).replace("_", "-")
    skip = f"; would skip {', '.join(e['would_skip'])}" if e.get("would_skip") else ""
    return (
        f"  if {e['step']} failed here: {remedy} would run "
        f"{', '.join(e.get('would_run') or []) or 'nothing'}{skip}"
    )


def _fmt_notification(e: dict[str, Any]) -> str:
    return f"  {'would notify' if e.get('dry_run') else 'notify'}: {e['message']}"


def _fmt_launch_started(e: dict[str, Any]) -> str:
    mode = ""
    if e.get("dry_run"):
        mode = " (dry run)"
    elif e.get("speed") not in (None, 1, 1.0):
        mode = f" (rehearsal ×{e['speed']:g})"
    return f"launch {e['launch_id']}: {e.get('name', '')} — T0 {e['t0']}{mode}"


def _fmt_launch_finished(e: dict[str, Any]) -> str:
    """The launch's outcome in words; not its exit code, which is the launch's and not always
    the command's (``launchctl rollback`` exits 0 once the rollback it asked for completed)."""
    status = e["status"]
    words = OUTCOMES.get(status)
    return f"■ launch {status.replace('_', ' ')}" + (f": {words}" if words else "")


def _fmt_wait(e: dict[str, Any]) -> str:
    after = f" after wave {e['wave']} of {e.get('of')}, guards watching" if e.get("wave") else ""
    return f"  holding {e['seconds']:.0f}s{after}"


def _fmt_baseline(e: dict[str, Any]) -> str:
    who = ", ".join(e.get("used_by") or []) or e.get("query", "")
    if e.get("value") is None:
        return f"  baseline {e.get('window')} for {who}: none, {e.get('reason')} (inconclusive)"
    return (
        f"  baseline {e.get('window')} for {who}: {e['value']:.4g}, the average of "
        f"{e.get('points', 0)} points (fetched in {e.get('fetch_s', 0):.2f}s)"
    )


def _fmt_checkpoint(e: dict[str, Any]) -> str:
    mark = "✓" if e.get("status") == "pass" else "✗"
    review = " (review)" if e.get("review") else ""
    reason = f": {e['reason']}" if e.get("reason") else ""
    return f"{mark} checkpoint {e.get('slot')}{review} {e.get('status')}{reason}"


FORMATS: EventTable[Formatter] = EventTable("plain console")
_LINES: dict[str, Formatter] = {
    "baseline_measured": _fmt_baseline,
    "checkpoint_result": _fmt_checkpoint,
    "launch_started": _fmt_launch_started,
    "launch_resumed": lambda e: f"resumed by {e.get('user')}",
    "step_started": _fmt_started,
    "confirm_requested": lambda e: f"? {e['step']}: {e['question']}",
    "command_finished": _fmt_command,
    "check_result": _fmt_check,
    "wait_started": _fmt_wait,
    "wave_started": _fmt_wave_started,
    "wave_finished": _fmt_wave_finished,
    "step_failed": lambda e: f"✗ {e['step']} failed: {e.get('reason')}",
    "step_finished": lambda e: (
        f"{'✓' if e['status'] == 'ok' else '✗' if e['status'] == 'failed' else '·'} {e['step']} {e['status']}"
        + (f": {e['reason']}" if e.get("reason") else "")
    ),
    "step_interrupted": lambda e: f"✗ {e['step']} interrupted: {e.get('reason')}",
    "operator_decision": lambda e: f"  {e.get('user')} chose {e['answer']!r} ({e.get('question')})",
    "notification": _fmt_notification,
    "notification_failed": lambda e: f"  notify via {e.get('channel')} failed: {e.get('error')}",
    "rollback_started": lambda e: f"⟲ ROLLBACK: {e.get('reason')}",
    "rollback_step_started": lambda e: f"⟲ {e['step']}: {e.get('title', '')}",
    "rollback_step_finished": lambda e: (
        f"  {e['step']} {e['status']}" + (f": {e['reason']}" if e.get("reason") else "")
    ),
    "rollback_finished": lambda e: f"⟲ rollback {e['status']} in {e.get('duration_s', 0):.1f}s",
    "roll_forward_started": lambda e: f"⟳ ROLL FORWARD: {e.get('reason')}",
    "roll_forward_step_started": lambda e: f"⟳ {e['step']}: {e.get('title', '')}",
    "roll_forward_step_finished": lambda e: (
        f"  {e['step']} {e['status']}" + (f": {e['reason']}" if e.get("reason") else "")
    ),
    "roll_forward_finished": lambda e: (
        f"⟳ roll-forward {e['status']} in {e.get('duration_s', 0):.1f}s"
    ),
    "point_of_no_return": lambda e: f"⚑ point of no return: {e['step']} ({e.get('reason')})",
    "decision_needed": lambda e: f"? A PERSON MUST DECIDE: {e.get('reason')}",
    "rollback_refused": lambda e: f"  rollback request refused: {e.get('why')}",
    "remedy_preview": _fmt_remedy_preview,
    "guard_planned": _fmt_guard_planned,
    "guard_window_opened": _fmt_window_opened,
    "guard_window_closed": lambda e: f"  guard {e['guard']} window closed",
    "monitoring_started": lambda e: f"  monitoring guards until {_launch_time(e.get('until'), e)}",
    "monitoring_finished": lambda e: f"  monitoring ended: {e.get('reason')}",
    "launch_paused": lambda e: (
        f"⏸ paused: {e.get('reason')} — resume with: launchctl resume {e.get('journal', '')}"
    ),
    "launch_finished": _fmt_launch_finished,
    "launch_held": lambda e: f"⏸ held: {e.get('reason')}; guards keep watching",
    "launch_unheld": lambda e: f"▶ hold ended by {e.get('user')}",
    "confirm_answered": lambda e: f"  {e.get('by')} answered {e.get('answer')!r} ({e.get('how')})",
    "guard_breach": lambda e: (
        f"  guard {e['guard']} breaching: {_value(e)} {e.get('threshold', '')}"
    ),
    "guard_recovered": lambda e: f"  guard {e['guard']} recovered: {_value(e)}",
    "guard_triggered": _fmt_verdict,
    "guard_inconclusive": _fmt_verdict,
    "rollback_requested": lambda e: f"⟲ rollback requested: {e.get('reason')}",
    "work_abandoned": lambda e: f"  {e.get('step') or 'work'} abandoned: {e.get('reason')}",
    "drill_injected": lambda e: f"✗ drill: injected {e.get('fault')}",
    "output": lambda e: (
        f"  | {e['line']}"
        if e.get("host") in (None, "localhost")
        else f"  | {e['host']}: {e['line']}"
    ),
}
for _name, _formatter in _LINES.items():
    FORMATS.add(_formatter, _name)
FORMATS.ignore(
    "gate_refused",  # the CLI says why, on stderr
    "question_withdrawn",
    "awaiting_answer",  # confirm_requested already printed the question
    "approval_ignored",  # the second terminal that sent it says so
    "guards_anchored",
    "guard_sample",  # one line per sample would drown the log; breaches are shown
    "rollback_step_retry",
    "drill_result",  # the drill command prints its own summary
    "host_started",  # each host's command_finished says how it went
    "host_finished",
)


class PlainConsole:
    """A recorder sink printing one timestamped line per event."""

    def __init__(self, stream: TextIO | None = None, show_output: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.show_output = show_output
        self._indent = 8  # output lines line up under the text of stamped ones
        self._failed: tuple[str, Any] | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "output" and not self.show_output:
            return
        formatter = FORMATS.get(event["event"])
        if formatter is None or self._repeats(event):
            return
        text = formatter(event)
        if text is None:
            return
        if event["event"] == "output":
            prefix = " " * self._indent
        else:
            prefix = _time(event)
            self._indent = len(prefix)
        try:
            self.stream.write(f"{prefix} {terminal_safe(text)}\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass

    def _repeats(self, event: dict[str, Any]) -> bool:
        """A failed step's ``step_finished`` after its ``step_failed`` says nothing new."""
        if event["event"] == "step_failed":
            self._failed = (event.get("step"), event.get("reason"))
            return False
        if event["event"] == "step_finished" and event.get("status") == "failed":
            return self._failed == (event.get("step"), event.get("reason"))
        return False
