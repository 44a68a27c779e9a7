"""Where a launch stands, rebuilt by folding its journal: for ``status``, ``report`` and ``resume``.

The journal is the only truth: nothing here reads the runbook or the world.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from launchctl.journal.dispatch import EventTable

FINISHED_STEP_STATES = {"ok", "failed", "skipped"}


@dataclass
class HostRun:
    """One host of a fan-out step, from ``host_started``/``host_finished``."""

    host: str
    status: str = "started"  # started | ok | failed | interrupted
    wave: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    recovered: bool = False
    never_started: bool = False  # the host could not be reached: nothing ran there

    @property
    def finished(self) -> bool:
        return self.status != "started"


@dataclass
class StepRecord:
    """One step (launch, rollback or roll-forward) as the journal left it. ``started`` and
    ``finished`` are on the launch clock (what the schedule and guard windows hang on);
    ``wall_started``/``wall_finished`` are the wall clock, what people are shown and what
    real durations are measured in. Outside a rehearsal the two are the same."""

    id: str
    status: str = "pending"  # pending | started | ok | failed | skipped | interrupted
    planned: str | None = None
    started: str | None = None
    finished: str | None = None
    wall_started: str | None = None
    wall_finished: str | None = None
    late_s: float | None = None
    reason: str | None = None
    attempts: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    continued: bool = False
    hosts: dict[str, HostRun] = field(default_factory=dict)
    wave_plan: list[list[str]] | None = None  # the step's waves, as ``step_started`` planned them
    waves: dict[int, dict[str, Any]] = field(default_factory=dict)  # wave_finished, by number

    @property
    def hosts_in_flight(self) -> list[str]:
        return [host for host, run in self.hosts.items() if not run.finished]

    @property
    def finished_state(self) -> bool:
        return self.status in FINISHED_STEP_STATES

    @property
    def in_flight(self) -> bool:
        return self.status in ("started", "interrupted")


@dataclass
class RollbackRecord:
    """A rollback or roll-forward: ``started``/``finished`` on the wall clock, ``clock_started``
    on the launch clock (None outside a rehearsal); ``planned`` the steps it was to run, in
    order, as ``rollback_started`` listed them (steps it skipped are added as they are)."""

    reason: str | None = None
    trigger: str | None = None
    started: str | None = None
    finished: str | None = None
    status: str | None = None  # complete | incomplete, once finished
    steps: dict[str, StepRecord] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    clock_started: str | None = None


@dataclass
class GuardRecord:
    """What a guard saw: its samples' values (in order), each sample with its moment (the launch
    clock where there is one) and why it had no value, and every verdict it reached."""

    samples: int = 0
    values: list[float] = field(default_factory=list)
    readings: list[tuple[str, float | None, str]] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)


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
    guards: dict[str, GuardRecord] = field(default_factory=dict)
    go_live: str | None = None  # the last guards_anchored: guard windows in T+ hang on it
    baselines: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
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

    def touched_hosts(self) -> dict[str, dict[str, int | None]]:
        """Per launch step, the hosts it started on and in which wave (what a rollback undoes);
        a host it could not reach is left out (an empty mapping: it reached none)."""
        return {
            step_id: {host: run.wave for host, run in record.hosts.items() if not run.never_started}
            for step_id, record in self.steps.items()
            if record.hosts
        }

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


Fold = Callable[["LaunchState", dict[str, Any]], None]
FOLDS: EventTable[Fold] = EventTable("replay")


def replay(events: list[dict[str, Any]], torn_lines: int = 0) -> LaunchState:
    state = LaunchState(launch=dict(events[0]), torn_lines=torn_lines)
    for step_id in events[0].get("steps", []):
        state.steps[step_id] = StepRecord(step_id)
    for event in events:
        fold = FOLDS.get(event["event"])
        if fold is not None:
            fold(state, event)
        state.last_seq = max(state.last_seq, int(event.get("seq", 0)))
        state.last_clock = event.get("clock", state.last_clock)
        state.last_ts = event.get("ts", state.last_ts)
    return state


def _step(state: LaunchState, event: dict[str, Any]) -> StepRecord:
    """The record an event about a step belongs to: the launch's, the rollback's or the
    roll-forward's (by its phase, or the event's name)."""
    step_id = event["step"]
    for remedy, record in (("rollback", state.rollback), ("roll_forward", state.roll_forward)):
        ours = event.get("phase") == remedy or event["event"].startswith(f"{remedy}_step")
        if record is not None and ours:
            return record.steps.setdefault(step_id, StepRecord(step_id))
    return state.steps.setdefault(step_id, StepRecord(step_id))


@FOLDS.on("step_started", "rollback_step_started", "roll_forward_step_started")
def _started(state: LaunchState, event: dict[str, Any]) -> None:
    record = _step(state, event)
    record.status = "started"
    record.started = record.started or event.get("clock") or event.get("ts")
    record.wall_started = record.wall_started or event.get("ts")
    record.planned = event.get("planned", record.planned)
    record.late_s = event.get("late_s", record.late_s)
    record.attempts += 1
    record.reason = None
    if not event.get("resumed"):
        record.hosts, record.waves = {}, {}
    record.wave_plan = event.get("waves", record.wave_plan)
    state.paused = None


@FOLDS.on("step_finished", "rollback_step_finished", "roll_forward_step_finished")
def _finished(state: LaunchState, event: dict[str, Any]) -> None:
    record = _step(state, event)
    record.status = event.get("status", "ok")
    record.finished = event.get("clock") or event.get("ts")
    record.wall_finished = event.get("ts")
    record.reason = event.get("reason")
    record.continued = bool(event.get("continued"))
    record.planned = event.get("planned", record.planned)


@FOLDS.on("step_failed")
def _failed(state: LaunchState, event: dict[str, Any]) -> None:
    _step(state, event).reason = event.get("reason")


@FOLDS.on("step_interrupted")
def _interrupted(state: LaunchState, event: dict[str, Any]) -> None:
    record = _step(state, event)
    record.status = "interrupted"
    record.reason = event.get("reason")


@FOLDS.on("command_finished")
def _command(state: LaunchState, event: dict[str, Any]) -> None:
    if event.get("step") is not None:
        _step(state, event).commands.append(event)


@FOLDS.on("host_started")
def _host_started(state: LaunchState, event: dict[str, Any]) -> None:
    if event.get("step") is not None:
        _step(state, event).hosts[event["host"]] = HostRun(event["host"], wave=event.get("wave"))


@FOLDS.on("host_finished")
def _host_finished(state: LaunchState, event: dict[str, Any]) -> None:
    if event.get("step") is None:
        return
    hosts = _step(state, event).hosts
    run = hosts.setdefault(event["host"], HostRun(event["host"], wave=event.get("wave")))
    run.status = event.get("status", "ok")
    run.exit_code = event.get("exit_code")
    run.reason = event.get("reason")
    run.recovered = bool(event.get("recovered"))
    run.never_started = bool(event.get("never_started"))


@FOLDS.on("wave_started", "wave_finished")
def _wave(state: LaunchState, event: dict[str, Any]) -> None:
    if event.get("step") is not None:
        _step(state, event).waves[int(event["wave"])] = event


@FOLDS.on("check_result")
def _check(state: LaunchState, event: dict[str, Any]) -> None:
    if event.get("step") is not None:
        _step(state, event).checks.append(event)


def _remedy_started(attribute: str) -> Fold:
    """The fold for ``rollback_started`` or ``roll_forward_started``: the sequence's record."""

    def fold(state: LaunchState, event: dict[str, Any]) -> None:
        record = RollbackRecord(event.get("reason"), event.get("trigger"), event.get("ts"))
        record.planned = list(event.get("steps") or [])
        record.clock_started = event.get("clock")
        setattr(state, attribute, record)
        state.paused = None

    return fold


def _remedy_finished(attribute: str) -> Fold:
    """The fold for ``rollback_finished`` or ``roll_forward_finished``."""

    def fold(state: LaunchState, event: dict[str, Any]) -> None:
        record: RollbackRecord | None = getattr(state, attribute)
        if record is not None:
            record.finished = event.get("ts")
            record.status = event.get("status")

    return fold


for _remedy in ("rollback", "roll_forward"):
    FOLDS.add(_remedy_started(_remedy), f"{_remedy}_started")
    FOLDS.add(_remedy_finished(_remedy), f"{_remedy}_finished")


@FOLDS.on("point_of_no_return")
def _point_of_no_return(state: LaunchState, event: dict[str, Any]) -> None:
    state.point_of_no_return = event


@FOLDS.on("launch_paused")
def _paused(state: LaunchState, event: dict[str, Any]) -> None:
    state.paused = event
    state.held = None


@FOLDS.on("launch_held")
def _held(state: LaunchState, event: dict[str, Any]) -> None:
    state.held = event


@FOLDS.on("launch_unheld")
def _unheld(state: LaunchState, event: dict[str, Any]) -> None:
    state.held = None


@FOLDS.on("awaiting_answer", "confirm_answered", "question_withdrawn")
def _confirmation(state: LaunchState, event: dict[str, Any]) -> None:
    state.confirmations.append(event)


@FOLDS.on("launch_resumed")
def _resumed(state: LaunchState, event: dict[str, Any]) -> None:
    state.resumes.append(event)
    state.paused = None


@FOLDS.on("launch_finished")
def _launch_finished(state: LaunchState, event: dict[str, Any]) -> None:
    state.finished = event
    state.held = None


@FOLDS.on("operator_decision")
def _decision(state: LaunchState, event: dict[str, Any]) -> None:
    state.decisions.append(event)
    state.confirmations.append(event)


@FOLDS.on("notification")
def _notification(state: LaunchState, event: dict[str, Any]) -> None:
    state.notifications.append(event)


def _guard_record(state: LaunchState, event: dict[str, Any]) -> GuardRecord | None:
    state.guard_events.append(event)
    guard = event.get("guard")
    return None if guard is None else state.guards.setdefault(guard, GuardRecord())


@FOLDS.on("baseline_measured")
def _baseline(state: LaunchState, event: dict[str, Any]) -> None:
    state.baselines.append(event)


@FOLDS.on("checkpoint_result")
def _checkpoint(state: LaunchState, event: dict[str, Any]) -> None:
    state.checkpoints.append(event)


@FOLDS.on("guards_anchored")
def _anchored(state: LaunchState, event: dict[str, Any]) -> None:
    state.guard_events.append(event)
    state.go_live = event.get("anchor", state.go_live)


@FOLDS.on(
    "guard_planned",
    "guard_window_opened",
    "guard_window_closed",
    "guard_breach",
    "guard_recovered",
)
def _guard(state: LaunchState, event: dict[str, Any]) -> None:
    _guard_record(state, event)


@FOLDS.on("guard_sample")
def _guard_sample(state: LaunchState, event: dict[str, Any]) -> None:
    record = _guard_record(state, event)
    if record is None:
        return
    record.samples += 1
    value = event.get("value")
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )
    if number is not None:
        record.values.append(value)
    why = "" if number is not None else str(event.get("reason") or "no value")
    record.readings.append((event.get("clock") or event["ts"], number, why))


@FOLDS.on("guard_triggered", "guard_inconclusive")
def _guard_verdict(state: LaunchState, event: dict[str, Any]) -> None:
    record = _guard_record(state, event)
    if record is not None:
        record.breaches.append(
            {k: event.get(k) for k in ("ts", "clock", "reason", "action", "value")}
        )


FOLDS.ignore(
    "launch_started",  # the state's ``launch``, taken before the fold
    "gate_refused",  # launch_finished says refused_by_gate; the reasons are in launch_started's gate
    "monitoring_started",
    "monitoring_finished",
    "notification_failed",
    "work_abandoned",
    "wait_started",
    "output",  # never journaled
    "approval_ignored",
    "rollback_requested",  # rollback_started follows; the request is the second terminal's ack
    "rollback_step_retry",  # rollback_step_finished carries the attempts
    "drill_injected",  # read by the drill summary straight from the journal
    "drill_result",
    "confirm_requested",  # the awaiting_answer that follows is what a second terminal answers
    "remedy_preview",  # dry runs only: what a failure would run
    "decision_needed",  # the question that follows (awaiting_answer) carries it
    "rollback_refused",  # the second terminal that asked reads it as its answer
)
