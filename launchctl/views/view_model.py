"""What the live view shows, folded from the event stream; no rendering here.

The recorder calls ``apply`` from whichever thread emitted the event; the
view's refresh thread reads a consistent snapshot under the lock. Nothing here
blocks the engine for longer than a dictionary update. ``generation`` counts the
events applied, so the view redraws only when something changed.

Both clocks are kept: ``wall`` is the latest event's ``ts`` and ``clock`` its
launch clock (the same outside a rehearsal); ``launch_now`` runs the launch clock
on from there at the rehearsal's speed, so the header ticks between events.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from launchctl.journal.dispatch import EventTable
from launchctl.views.sanitize import terminal_safe

SPARK = "▁▂▃▄▅▆▇█"

Handler = Callable[["ViewModel", dict[str, Any]], None]
HANDLERS: EventTable[Handler] = EventTable("live view")


def parse_ts(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


@dataclass
class StepRow:
    id: str
    title: str
    offset: str
    planned: datetime | None
    target: str = "local"
    state: str = "pending"
    started: datetime | None = None  # on the launch clock
    finished: datetime | None = None
    wall_started: datetime | None = None
    wall_finished: datetime | None = None
    late_s: float | None = None
    reason: str | None = None
    hosts_ok: int = 0
    hosts_failed: int = 0
    hosts_total: int | None = None
    irreversible: str | None = None
    wave: int | None = None  # the wave running (or last run) of a step in waves
    waves: int | None = None
    running_hosts: list[str] = field(default_factory=list)
    holding: str | None = None


@dataclass
class GuardRow:
    id: str
    threshold: str = ""
    value: float | None = None
    status: str = "waiting"
    history: deque = field(default_factory=lambda: deque(maxlen=24))
    breaches: int = 0
    baseline: float | None = None  # a relative threshold's measured baseline
    limit: float | None = None  # ... and the number it makes the threshold
    window: str = ""  # when it watches, as the runbook says it (T+0..T+30m)

    def shown_threshold(self) -> str:
        """``> 1.5x baseline (0.24 → 0.36)`` once measured; a fixed threshold as written."""
        if self.baseline is None:
            return self.threshold
        limit = f" → {self.limit:.3g}" if self.limit is not None else ""
        return f"{self.threshold} ({self.baseline:.3g}{limit})".strip()

    def sparkline(self) -> str:
        values = [v for v in self.history if v is not None]
        if not values:
            return ""
        # Scaled from 0 to the threshold (or the peak above it), so a flat healthy line stays low
        # and a breach reaches the top: the trend reads against the limit, not against noise.
        limit = self.limit if self.limit is not None else _number(self.threshold)
        low = min(0.0, *values)
        high = max(values + ([limit] if limit is not None else []))
        span = (high - low) or 1.0
        return "".join(
            SPARK[min(7, int((v - low) / span * 7.999))] if v is not None else " "
            for v in self.history
        )


@dataclass
class ViewModel:
    name: str = ""
    launch_id: str = ""
    t0: datetime | None = None
    clock: datetime | None = None  # the launch clock at the latest event
    wall: datetime | None = None  # the wall clock at the latest event
    speed: float | None = None  # a --speed rehearsal's; None in real time
    rehearsal: bool = False
    mode: str = "live"
    banner: str | None = None
    phase: str = "starting"
    steps: dict[str, StepRow] = field(default_factory=dict)
    guards: dict[str, GuardRow] = field(default_factory=dict)
    output: deque = field(default_factory=lambda: deque(maxlen=8))
    running: str | None = None
    rollback_reason: str | None = None
    rollback_title: str = "ROLLBACK"
    rollback_steps: dict[str, str] = field(default_factory=dict)
    rollback_running: str | None = None
    outcome: str | None = None
    notes: deque = field(default_factory=lambda: deque(maxlen=6))
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, event: dict[str, Any]) -> None:
        event = _clean(event)
        with self.lock:
            wall, clock = parse_ts(event.get("ts")), parse_ts(event.get("clock"))
            if wall is not None and (clock is not None or not self.rehearsal):
                # Both clocks read together; a live-only output line has no launch clock.
                self.wall, self.clock = wall, clock or wall
            handler = HANDLERS.get(event["event"])
            if handler is not None:
                handler(self, event)
            self.generation += 1

    def launch_now(self, now: datetime) -> datetime | None:
        """Where the launch clock stands at wall-clock ``now`` (None before any event); once the
        launch has finished, where it stood at the end."""
        if self.clock is None or self.wall is None:
            return None
        if self.outcome is not None:
            return self.clock
        return self.clock + (now - self.wall) * (self.speed or 1.0)

    def wall_at(self, moment: datetime, now: datetime) -> datetime | None:
        """The wall-clock moment the launch clock reaches ``moment`` (None when unknown)."""
        launch = self.launch_now(now)
        if launch is None:
            return None
        return now + (moment - launch) / (self.speed or 1.0)

    @HANDLERS.on("launch_started")
    def _on_launch_started(self, e: dict[str, Any]) -> None:
        self.name, self.launch_id, self.t0 = e.get("name", ""), e["launch_id"], parse_ts(e["t0"])
        self.mode = (
            "dry run"
            if e.get("dry_run")
            else ("live" if e.get("speed", 1) == 1 else f"rehearsal ×{e['speed']:g}")
        )
        speed = e.get("speed")
        self.rehearsal = bool(e.get("dry_run")) or speed not in (None, 1, 1.0)
        self.speed = speed if self.rehearsal and not e.get("dry_run") else None
        if e.get("no_wait"):
            self.mode += ", no-wait"
        for item in e.get("plan", []):
            self.steps[item["step"]] = StepRow(
                item["step"],
                item["title"],
                item["offset"],
                parse_ts(item.get("planned")),
                item.get("target", "local"),
            )
        for guard in e.get("guards", []):
            self.guards[guard] = GuardRow(guard)
        for planned in e.get("guard_plan") or []:
            row = self.guards.setdefault(planned["guard"], GuardRow(planned["guard"]))
            row.threshold, row.window = planned.get("threshold", ""), planned.get("window", "")
        gate = e.get("gate")
        if e.get("gate_override"):
            self.banner = (
                f"GATE OVERRIDDEN ({gate['decision'] if gate else '?'}): {e['gate_override']}"
            )
        elif gate and gate["decision"] == "GO WITH CAUTION":
            self.banner = "GO WITH CAUTION: enhanced monitoring"
        self.phase = "running"

    @HANDLERS.on("launch_resumed")
    def _on_launch_resumed(self, e: dict[str, Any]) -> None:
        self.notes.append(f"resumed by {e.get('user')}")

    @HANDLERS.on("step_started")
    def _on_step_started(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e["step"])
        if row is None:
            return
        row.state, row.started, row.late_s, row.reason = (
            "running",
            self.clock,
            e.get("late_s"),
            None,
        )
        row.wall_started, row.wall_finished = self.wall, None
        row.hosts_ok = row.hosts_failed = 0
        row.hosts_total = e.get("hosts")
        row.waves = len(e["waves"]) if e.get("waves") else None
        row.wave, row.holding, row.running_hosts = None, None, []
        self.running = row.id
        self.output.clear()

    @HANDLERS.on("wave_started")
    def _on_wave_started(self, e: dict[str, Any]) -> None:
        if e.get("phase") in ("rollback", "roll_forward"):
            hosts = len(e.get("hosts") or [])
            self.rollback_steps[e["step"]] = f"undoing wave {e['wave']} ({hosts} hosts)"
            return
        row = self.steps.get(e.get("step", ""))
        if row is not None:
            row.wave, row.waves, row.holding = e["wave"], e["of"], None

    @HANDLERS.on("wait_started")
    def _on_wait_started(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e.get("step", ""))
        if row is not None and e.get("wave") and e.get("phase") is None:
            row.holding = f"holding {e['seconds']:.0f}s after wave {e['wave']}, guards watching"

    @HANDLERS.on("host_started")
    def _on_host_started(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e.get("step", ""))
        if row is not None and e.get("phase") is None:
            row.running_hosts.append(e["host"])

    @HANDLERS.on("host_finished")
    def _on_host_finished(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e.get("step", ""))
        if row is not None and e.get("phase") is None and e["host"] in row.running_hosts:
            row.running_hosts.remove(e["host"])

    @HANDLERS.on("confirm_requested")
    def _on_confirm_requested(self, e: dict[str, Any]) -> None:
        if e["step"] in self.steps and not e.get("dry_run"):
            self.steps[e["step"]].state = "confirm?"

    @HANDLERS.on("command_finished")
    def _on_command_finished(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e.get("step", ""))
        if row is not None and e.get("phase") != "rollback":
            if e.get("status") == "ok":
                row.hosts_ok += 1
            else:
                row.hosts_failed += 1

    @HANDLERS.on("step_finished")
    def _on_step_finished(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e["step"])
        if row is not None:
            row.state, row.finished, row.reason = e["status"], self.clock, e.get("reason")
            row.wall_finished = self.wall
        if self.running == e["step"]:
            self.running = None

    @HANDLERS.on("step_failed")
    def _on_step_failed(self, e: dict[str, Any]) -> None:
        if e["step"] in self.steps:
            self.steps[e["step"]].reason = e.get("reason")

    @HANDLERS.on("step_interrupted")
    def _on_step_interrupted(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e["step"])
        if row is not None:
            row.state, row.reason = "interrupted", e.get("reason")

    @HANDLERS.on("point_of_no_return")
    def _on_point_of_no_return(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e["step"])
        if row is not None:
            row.irreversible = e.get("reason")
        self.notes.append(f"⚑ point of no return: {e['step']} ({e.get('reason')})")

    @HANDLERS.on("guard_window_opened")
    def _on_guard_window_opened(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.status, row.threshold = "watching", e.get("threshold", row.threshold)
        row.limit = e.get("limit", row.limit)

    @HANDLERS.on("baseline_measured")
    def _on_baseline_measured(self, e: dict[str, Any]) -> None:
        guards = [
            who.removeprefix("guard:") for who in e.get("used_by") or [] if who.startswith("guard:")
        ]
        for guard in guards:
            self.guards.setdefault(guard, GuardRow(guard)).baseline = e.get("value")
        value = e.get("value")
        shown = f"{value:.4g}" if value is not None else f"none ({e.get('reason')})"
        self.notes.append(
            f"baseline {e.get('window')} of {', '.join(guards) or e.get('query')}: {shown}"
        )

    @HANDLERS.on("guard_window_closed")
    def _on_guard_window_closed(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.status = "closed"

    @HANDLERS.on("guard_sample")
    def _on_guard_sample(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.value, row.status = e.get("value"), e["status"]
        row.history.append(e.get("value"))

    @HANDLERS.on("guard_breach")
    def _on_guard_breach(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.threshold = e.get("threshold", row.threshold)
        self.notes.append(f"guard {e['guard']} breaching: {e.get('value')} {row.threshold}")

    @HANDLERS.on("guard_recovered")
    def _on_guard_recovered(self, e: dict[str, Any]) -> None:
        self.notes.append(f"guard {e['guard']} recovered: {e.get('value')}")

    @HANDLERS.on("guard_triggered")
    def _on_guard_triggered(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.breaches += 1
        self.notes.append(e.get("reason", "guard breach"))

    HANDLERS.add(_on_guard_triggered, "guard_inconclusive")

    @HANDLERS.on("guard_planned")
    def _on_guard_planned(self, e: dict[str, Any]) -> None:
        self.guards.setdefault(e["guard"], GuardRow(e["guard"])).threshold = e.get("threshold", "")

    @HANDLERS.on("monitoring_started")
    def _on_monitoring_started(self, e: dict[str, Any]) -> None:
        until = parse_ts(e["until"])
        self.phase = f"monitoring guards until {_at(until, self)}"

    @HANDLERS.on("rollback_started")
    def _on_rollback_started(self, e: dict[str, Any]) -> None:
        self._remedy_started("ROLLING BACK", e)
        self.rollback_title = "ROLLBACK"

    @HANDLERS.on("roll_forward_started")
    def _on_roll_forward_started(self, e: dict[str, Any]) -> None:
        self._remedy_started("ROLLING FORWARD", e)
        self.rollback_title = "ROLL-FORWARD"

    def _remedy_started(self, phase: str, e: dict[str, Any]) -> None:
        self.phase, self.rollback_reason = phase, e.get("reason")
        self.rollback_steps = {step: "pending" for step in e.get("steps", [])}
        self.running = None

    @HANDLERS.on("decision_needed")
    def _on_decision_needed(self, e: dict[str, Any]) -> None:
        self.phase = "A PERSON MUST DECIDE"
        self.notes.append(e.get("reason", "a person must decide"))

    @HANDLERS.on("rollback_refused")
    def _on_rollback_refused(self, e: dict[str, Any]) -> None:
        self.notes.append(f"rollback refused: {e.get('why')}")

    @HANDLERS.on("rollback_step_started", "roll_forward_step_started")
    def _on_rollback_step_started(self, e: dict[str, Any]) -> None:
        self.rollback_steps[e["step"]] = "running"
        self.rollback_running = e["step"]
        self.output.clear()

    @HANDLERS.on("rollback_step_finished", "roll_forward_step_finished")
    def _on_rollback_step_finished(self, e: dict[str, Any]) -> None:
        self.rollback_steps[e["step"]] = e["status"]
        if self.rollback_running == e["step"]:
            self.rollback_running = None

    @HANDLERS.on("launch_paused")
    def _on_launch_paused(self, e: dict[str, Any]) -> None:
        self.phase = "PAUSED"
        self.notes.append(e.get("reason", "paused"))

    @HANDLERS.on("launch_held")
    def _on_launch_held(self, e: dict[str, Any]) -> None:
        self.phase = "HELD (guards watching)"
        self.notes.append(f"held: {e.get('reason')}")

    @HANDLERS.on("launch_unheld")
    def _on_launch_unheld(self, e: dict[str, Any]) -> None:
        self.phase = "running"

    @HANDLERS.on("checkpoint_result")
    def _on_checkpoint_result(self, e: dict[str, Any]) -> None:
        self.notes.append(f"checkpoint {e.get('slot')}: {e.get('status')}")

    @HANDLERS.on("launch_finished")
    def _on_launch_finished(self, e: dict[str, Any]) -> None:
        self.outcome, self.phase = e["status"], "finished"
        self.running = self.rollback_running = None

    @HANDLERS.on("notification")
    def _on_notification(self, e: dict[str, Any]) -> None:
        if e.get("milestone") in ("step", "go_live", "guard_warning"):
            self.notes.append("notify: " + e["message"])

    @HANDLERS.on("output")
    def _on_output(self, e: dict[str, Any]) -> None:
        host = e.get("host")
        self.output.append(e["line"] if host in (None, "localhost") else f"{host}: {e['line']}")


HANDLERS.ignore(
    "gate_refused",  # the launch never starts: nothing to show live
    "monitoring_finished",
    "notification_failed",
    "work_abandoned",
    "check_result",
    "confirm_answered",
    "question_withdrawn",
    "approval_ignored",
    "operator_decision",
    "guards_anchored",
    "rollback_requested",
    "rollback_step_retry",
    "rollback_finished",
    "roll_forward_finished",  # launch_finished follows with the outcome
    "awaiting_answer",  # the step's row already says confirm?
    "remedy_preview",  # dry runs are not shown live
    "drill_injected",
    "drill_result",
    "wave_finished",  # the step's row counts its hosts as each one finishes
)


def _at(moment: datetime, model: ViewModel) -> str:
    """A launch-clock moment for the header: its wall time, the launch time beside it in a
    rehearsal (computed when the event arrives, from the event's own two clocks)."""
    wall = moment
    if model.rehearsal and model.wall is not None and model.clock is not None:
        wall = model.wall + (moment - model.clock) / (model.speed or 1.0)
        if model.speed is None:  # a dry run: its launch clock jumps, no wall time to give
            return f"launch {moment.astimezone():%H:%M:%S}"
        return f"{wall.astimezone():%H:%M:%S} (launch {moment.astimezone():%H:%M:%S})"
    return f"{wall.astimezone():%H:%M:%S}"


def _clean(event: dict[str, Any]) -> dict[str, Any]:
    """Every text the view may show made terminal-safe; an output line keeps its colour (the
    output panel renders SGR), everything else shows as plain text in a table cell."""
    return {
        key: terminal_safe(value) if key == "line" and isinstance(value, str) else _plain(value)
        for key, value in event.items()
    }


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return terminal_safe(value, colour=False)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _number(threshold: str) -> float | None:
    try:
        return float(threshold.split()[-1])
    except (ValueError, IndexError):
        return None
