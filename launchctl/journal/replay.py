"""Where a launch stands, rebuilt by folding its journal: for ``status``, ``report`` and ``resume``.

The journal is the only truth: nothing here reads the runbook or the world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINISHED_STEP_STATES = {"ok", "failed", "skipped"}


@dataclass
class StepRecord:
    id: str
    status: str = "pending"  # pending | started | ok | failed | skipped | interrupted
    planned: str | None = None
    started: str | None = None
    finished: str | None = None
    late_s: float | None = None
    reason: str | None = None
    attempts: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    continued: bool = False

    @property
    def finished_state(self) -> bool:
        return self.status in FINISHED_STEP_STATES

    @property
    def in_flight(self) -> bool:
        return self.status in ("started", "interrupted")


@dataclass
class RollbackRecord:
    reason: str | None = None
    trigger: str | None = None
    started: str | None = None
    finished: str | None = None
    status: str | None = None  # complete | incomplete, once finished
    steps: dict[str, StepRecord] = field(default_factory=dict)


@dataclass
class LaunchState:
    launch: dict[str, Any]
    steps: dict[str, StepRecord] = field(default_factory=dict)
    rollback: RollbackRecord | None = None
    roll_forward: RollbackRecord | None = None
    point_of_no_return: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    paused: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    guard_events: list[dict[str, Any]] = field(default_factory=list)
    confirmations: list[dict[str, Any]] = field(default_factory=list)
    held: dict[str, Any] | None = None
    resumes: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int = 0
    last_clock: str | None = None
    last_ts: str | None = None
    torn_lines: int = 0

    @property
    def launch_id(self) -> str:
        return self.launch.get("launch_id", "?")

    @property
    def started_step_ids(self) -> set[str]:
        return {s.id for s in self.steps.values() if s.status != "pending"}

    @property
    def in_flight_step(self) -> StepRecord | None:
        for record in self.steps.values():
            if record.in_flight:
                return record
        return None

    @property
    def phase(self) -> str:
        if self.finished is not None:
            return "finished"
        if self.rollback is not None:
            return "rolling back"
        if self.roll_forward is not None:
            return "rolling forward"
        if self.paused is not None:
            return "paused"
        if self.held is not None:
            return "held"
        return "running"


def replay(events: list[dict[str, Any]], torn_lines: int = 0) -> LaunchState:
    state = LaunchState(launch=dict(events[0]), torn_lines=torn_lines)
    for step_id in events[0].get("steps", []):
        state.steps[step_id] = StepRecord(step_id)
    for event in events:
        _apply(state, event)
        state.last_seq = max(state.last_seq, int(event.get("seq", 0)))
        state.last_clock = event.get("clock", state.last_clock)
        state.last_ts = event.get("ts", state.last_ts)
    return state


def _step(state: LaunchState, event: dict[str, Any]) -> StepRecord | None:
    step_id = event.get("step")
    if step_id is None:
        return None
    for remedy, record in (("rollback", state.rollback), ("roll_forward", state.roll_forward)):
        ours = event.get("phase") == remedy or event["event"].startswith(f"{remedy}_step")
        if record is not None and ours:
            return record.steps.setdefault(step_id, StepRecord(step_id))
    return state.steps.setdefault(step_id, StepRecord(step_id))


def _apply(state: LaunchState, event: dict[str, Any]) -> None:
    kind = event["event"]
    record = _step(state, event)
    if kind in ("step_started", "rollback_step_started", "roll_forward_step_started"):
        record.status = "started"
        record.started = record.started or event.get("clock") or event.get("ts")
        record.planned = event.get("planned", record.planned)
        record.late_s = event.get("late_s", record.late_s)
        record.attempts += 1
        record.reason = None
        state.paused = None
    elif kind in ("step_finished", "rollback_step_finished", "roll_forward_step_finished"):
        record.status = event.get("status", "ok")
        record.finished = event.get("clock") or event.get("ts")
        record.reason = event.get("reason")
        record.continued = bool(event.get("continued"))
        record.planned = event.get("planned", record.planned)
    elif kind == "step_failed" and record is not None:
        record.reason = event.get("reason")
    elif kind == "step_interrupted" and record is not None:
        record.status = "interrupted"
        record.reason = event.get("reason")
    elif kind == "command_finished" and record is not None:
        record.commands.append(event)
    elif kind == "check_result" and record is not None:
        record.checks.append(event)
    elif kind == "rollback_started":
        state.rollback = RollbackRecord(event.get("reason"), event.get("trigger"), event.get("ts"))
        state.paused = None
    elif kind == "rollback_finished" and state.rollback is not None:
        state.rollback.finished = event.get("ts")
        state.rollback.status = event.get("status")
    elif kind == "roll_forward_started":
        state.roll_forward = RollbackRecord(
            event.get("reason"), event.get("trigger"), event.get("ts")
        )
        state.paused = None
    elif kind == "roll_forward_finished" and state.roll_forward is not None:
        state.roll_forward.finished = event.get("ts")
        state.roll_forward.status = event.get("status")
    elif kind == "point_of_no_return":
        state.point_of_no_return = event
    elif kind == "launch_paused":
        state.paused = event
        state.held = None
    elif kind == "launch_held":
        state.held = event
    elif kind == "launch_unheld":
        state.held = None
    elif kind in ("awaiting_answer", "confirm_answered", "question_withdrawn"):
        state.confirmations.append(event)
    elif kind == "launch_resumed":
        state.resumes.append(event)
        state.paused = None
    elif kind == "launch_finished":
        state.finished = event
        state.held = None
    elif kind == "operator_decision":
        state.decisions.append(event)
        state.confirmations.append(event)
    elif kind == "notification":
        state.notifications.append(event)
    elif kind.startswith("guard_"):
        state.guard_events.append(event)
