"""What the live view shows, folded from the event stream; no rendering here.

The recorder calls ``apply`` from whichever thread emitted the event; the
view's refresh thread reads a consistent snapshot under the lock. Nothing here
blocks the engine for longer than a dictionary update.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SPARK = "▁▂▃▄▅▆▇█"


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
    started: datetime | None = None
    finished: datetime | None = None
    late_s: float | None = None
    reason: str | None = None
    hosts_ok: int = 0
    hosts_failed: int = 0
    hosts_total: int | None = None
    irreversible: str | None = None


@dataclass
class GuardRow:
    id: str
    threshold: str = ""
    value: float | None = None
    status: str = "waiting"
    history: deque = field(default_factory=lambda: deque(maxlen=24))
    breaches: int = 0

    def sparkline(self) -> str:
        values = [v for v in self.history if v is not None]
        if not values:
            return ""
        # Scaled from 0 to the threshold (or the peak above it), so a flat healthy line stays low
        # and a breach reaches the top: the trend reads against the limit, not against noise.
        limit = _number(self.threshold)
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
    clock: datetime | None = None
    mode: str = "live"
    banner: str | None = None
    phase: str = "starting"
    steps: dict[str, StepRow] = field(default_factory=dict)
    guards: dict[str, GuardRow] = field(default_factory=dict)
    output: deque = field(default_factory=lambda: deque(maxlen=8))
    running: str | None = None
    rollback_reason: str | None = None
    rollback_steps: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None
    notes: deque = field(default_factory=lambda: deque(maxlen=4))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, event: dict[str, Any]) -> None:
        with self.lock:
            stamp = parse_ts(event.get("clock") or event.get("ts"))
            if stamp is not None:
                self.clock = stamp
            handler = getattr(self, "_on_" + event["event"], None)
            if handler is not None:
                handler(event)

    def _on_launch_started(self, e: dict[str, Any]) -> None:
        self.name, self.launch_id, self.t0 = e["name"], e["launch_id"], parse_ts(e["t0"])
        self.mode = (
            "dry run"
            if e.get("dry_run")
            else ("live" if e.get("speed", 1) == 1 else f"rehearsal ×{e['speed']:g}")
        )
        if e.get("no_wait"):
            self.mode += ", no-wait"
        for item in e.get("plan", []):
            self.steps[item["step"]] = StepRow(
                item["step"],
                item["title"],
                item["offset"],
                parse_ts(item["planned"]),
                item.get("target", "local"),
            )
        for guard in e.get("guards", []):
            self.guards[guard] = GuardRow(guard)
        gate = e.get("gate")
        if e.get("gate_override"):
            self.banner = (
                f"GATE OVERRIDDEN ({gate['decision'] if gate else '?'}): {e['gate_override']}"
            )
        elif gate and gate["decision"] == "GO WITH CAUTION":
            self.banner = "GO WITH CAUTION: enhanced monitoring"
        self.phase = "running"

    def _on_launch_resumed(self, e: dict[str, Any]) -> None:
        self.notes.append(f"resumed by {e.get('user')}")

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
        row.hosts_ok = row.hosts_failed = 0
        row.hosts_total = e.get("hosts")
        self.running = row.id
        self.output.clear()

    def _on_confirm_requested(self, e: dict[str, Any]) -> None:
        if e["step"] in self.steps and not e.get("dry_run"):
            self.steps[e["step"]].state = "confirm?"

    def _on_command_finished(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e.get("step", ""))
        if row is not None and e.get("phase") != "rollback":
            if e.get("status") == "ok":
                row.hosts_ok += 1
            else:
                row.hosts_failed += 1

    def _on_step_finished(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e["step"])
        if row is not None:
            row.state, row.finished, row.reason = e["status"], self.clock, e.get("reason")
        if self.running == e["step"]:
            self.running = None

    def _on_step_failed(self, e: dict[str, Any]) -> None:
        if e["step"] in self.steps:
            self.steps[e["step"]].reason = e.get("reason")

    def _on_step_interrupted(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e["step"])
        if row is not None:
            row.state, row.reason = "interrupted", e.get("reason")

    def _on_point_of_no_return(self, e: dict[str, Any]) -> None:
        row = self.steps.get(e["step"])
        if row is not None:
            row.irreversible = e.get("reason")
        self.notes.append(f"⚑ point of no return: {e['step']} ({e.get('reason')})")

    def _on_guard_window_opened(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.status, row.threshold = "watching", e.get("threshold", row.threshold)

    def _on_guard_window_closed(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.status = "closed"

    def _on_guard_sample(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.value, row.status = e.get("value"), e["status"]
        row.history.append(e.get("value"))

    def _on_guard_breach(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.threshold = e.get("threshold", row.threshold)
        self.notes.append(f"guard {e['guard']} breaching: {e.get('value')} {row.threshold}")

    def _on_guard_recovered(self, e: dict[str, Any]) -> None:
        self.notes.append(f"guard {e['guard']} recovered: {e.get('value')}")

    def _on_guard_triggered(self, e: dict[str, Any]) -> None:
        row = self.guards.setdefault(e["guard"], GuardRow(e["guard"]))
        row.breaches += 1
        self.notes.append(e.get("reason", "guard breach"))

    _on_guard_inconclusive = _on_guard_triggered

    def _on_guard_planned(self, e: dict[str, Any]) -> None:
        self.guards.setdefault(e["guard"], GuardRow(e["guard"])).threshold = e.get("threshold", "")

    def _on_monitoring_started(self, e: dict[str, Any]) -> None:
        self.phase = f"monitoring guards until {parse_ts(e['until']).astimezone():%H:%M:%S}"

    def _on_rollback_started(self, e: dict[str, Any]) -> None:
        self.phase, self.rollback_reason = "ROLLING BACK", e.get("reason")
        self.rollback_steps = {step: "pending" for step in e.get("steps", [])}

    def _on_rollback_step_started(self, e: dict[str, Any]) -> None:
        self.rollback_steps[e["step"]] = "running"
        self.output.clear()

    def _on_rollback_step_finished(self, e: dict[str, Any]) -> None:
        self.rollback_steps[e["step"]] = e["status"]

    def _on_launch_paused(self, e: dict[str, Any]) -> None:
        self.phase = "PAUSED"
        self.notes.append(e.get("reason", "paused"))

    def _on_launch_finished(self, e: dict[str, Any]) -> None:
        self.outcome, self.phase = e["status"], "finished"
        self.running = None

    def _on_notification(self, e: dict[str, Any]) -> None:
        if e.get("milestone") in ("step", "go_live", "guard_warning"):
            self.notes.append("notify: " + e["message"])

    def _on_output(self, e: dict[str, Any]) -> None:
        host = e.get("host")
        self.output.append(e["line"] if host in (None, "localhost") else f"{host}: {e['line']}")


def _number(threshold: str) -> float | None:
    try:
        return float(threshold.split()[-1])
    except (ValueError, IndexError):
        return None
