"""The rollback sequence: which steps apply, each run with its own retries, never stopping early.

A rollback that gives up at its first failed step leaves the system half
restored with nobody told; so a failed rollback step is retried per its
settings, then the sequence goes on and the result says it is incomplete.
On resume, a rollback step the journal shows finished is never run again,
and one that was in flight runs again only when a person (or ``--yes``) says so.

``run_rollback`` is given what it acts through (``RollbackHooks``): the launch
loop performs each step, the recorder journals, the notifier tells people.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from runbook import model
from steps.action import ActionContext, run_action
from steps.host_plan import HostPlan

HostsFor = Callable[[model.RollbackStep], HostPlan | None]


@dataclass(frozen=True)
class PlannedRollbackStep:
    """A step of the sequence: whether it applies, and (``rollback.touched``) on which hosts."""

    step: model.RollbackStep
    applies: bool
    why_not: str | None = None
    hosts: HostPlan | None = None


@dataclass
class RollbackStepResult:
    step_id: str
    status: str  # ok | failed | skipped | interrupted
    reason: str | None = None
    attempts: int = 0


@dataclass
class RollbackResult:
    steps: list[RollbackStepResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(result.status in ("ok", "skipped") for result in self.steps)

    @property
    def failed(self) -> list[RollbackStepResult]:
        return [result for result in self.steps if result.status not in ("ok", "skipped")]


def plan_rollback(
    steps: Iterable[model.RollbackStep], started: set[str], hosts_for: HostsFor | None = None
) -> list[PlannedRollbackStep]:
    """Every step in order, with whether it applies given the launch steps that started."""
    planned = []
    for step in steps:
        if step.if_started is not None and step.if_started not in started:
            planned.append(PlannedRollbackStep(step, False, f"'{step.if_started}' never started"))
        elif step.if_not_started is not None and step.if_not_started in started:
            planned.append(PlannedRollbackStep(step, False, f"'{step.if_not_started}' has started"))
        else:
            hosts = hosts_for(step) if hosts_for is not None else None
            if hosts is not None and not hosts.hosts:
                why = f"'{step.if_started}' reached no host: nothing to undo"
                planned.append(PlannedRollbackStep(step, False, why))
                continue
            planned.append(PlannedRollbackStep(step, True, hosts=hosts))
    return planned


def worst_case_seconds(steps: Iterable[model.RollbackStep], started: set[str]) -> float:
    """How long the sequence could take if every applicable step used all its time: each
    command to its timeout, each check to its ``within`` (or timeout), every retry and delay.
    An estimate for dry drills, where nothing runs and the real duration says nothing."""
    total = 0.0
    for item in plan_rollback(steps, started):
        if not item.applies:
            continue
        step = item.step
        attempt = step.timeout.total_seconds() if step.run else 0.0
        for criterion in step.check:
            poll = criterion.poll
            attempt += (poll.within or criterion.timeout).total_seconds() + (
                criterion.timeout.total_seconds() if poll.within is not None else 0.0
            )
        total += attempt * (step.retries + 1) + step.retry_delay.total_seconds() * step.retries
    return total


def run_rollback_step(step: model.RollbackStep, ctx: ActionContext) -> RollbackStepResult:
    """Run one rollback step, retrying ``retries`` times ``retry_delay`` apart (tenacity; real
    seconds: the system being restored does not recover faster in a rehearsal)."""
    from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_fixed

    attempts = 0

    def attempt():
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            ctx.emit("rollback_step_retry", {"attempt": attempts})
        return run_action(step, ctx)

    retrying = Retrying(
        retry=retry_if_result(
            lambda outcome: not outcome.ok and not outcome.interrupted and not ctx.cancel.cancelled
        ),
        stop=stop_after_attempt(step.retries + 1),
        wait=wait_fixed(step.retry_delay.total_seconds()),
        sleep=lambda seconds: ctx.clock.sleep_real(seconds, ctx.cancel),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    outcome = retrying(attempt)
    if outcome.interrupted:
        return RollbackStepResult(step.id, "interrupted", outcome.reason, attempts)
    if not outcome.ok:
        return RollbackStepResult(step.id, "failed", outcome.reason, attempts)
    return RollbackStepResult(step.id, "ok", None, attempts)


@dataclass(frozen=True)
class PriorStep:
    """What the journal says of a rollback step from an earlier run: finished or in flight."""

    status: str | None  # None while in flight
    reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("ok", "failed", "skipped")


class Remedy(StrEnum):
    """The two sequences that answer a failure: undo the launch, or (past its point of no return)
    fix forward. Both run the same way; their journal events carry the kind's name."""

    ROLLBACK = "rollback"
    ROLL_FORWARD = "roll_forward"

    @property
    def title(self) -> str:
        return "ROLLBACK" if self is Remedy.ROLLBACK else "ROLL FORWARD"


class RollbackHooks(Protocol):
    def emit(self, event: str, **fields: Any) -> None: ...

    def notify(self, message: str, milestone: str) -> None: ...

    def perform(
        self, step: model.RollbackStep, remedy: Remedy, hosts: HostPlan | None
    ) -> RollbackStepResult:
        """Run one step (journaled ``{remedy}_step_started`` to ``_finished``), on ``hosts``
        when given (None: every host of its target)."""
        ...

    def rerun_in_flight(self, step_id: str) -> bool:
        """On resume: may a rollback step that was in flight run again?"""
        ...


def run_rollback(
    steps: Iterable[model.RollbackStep],
    started: set[str],
    reason: str,
    trigger: str,
    hooks: RollbackHooks,
    prior: Mapping[str, PriorStep] | None = None,
    remedy: Remedy = Remedy.ROLLBACK,
    hosts_for: HostsFor | None = None,
    **announced: Any,
) -> tuple[RollbackResult, float]:
    """Run the sequence; returns the result and its duration in seconds.

    ``prior`` is set when resuming a sequence that had started: it is not
    announced again and its finished steps are taken as they were.
    ``hosts_for`` narrows a step to the hosts it must undo (``rollback.touched``).
    ``announced`` adds fields to the ``…_started`` event (who forced it, say).
    """
    planned = plan_rollback(steps, started, hosts_for)
    began = time.monotonic()
    if prior is None:
        hooks.emit(
            f"{remedy}_started",
            reason=reason,
            trigger=trigger,
            steps=[p.step.id for p in planned if p.applies],
            **announced,
        )
        hooks.notify(f"{remedy.title} INITIATED - reason: {reason}", f"{remedy}_started")
    result = RollbackResult()
    for item in planned:
        result.steps.append(_run_planned(item, hooks, (prior or {}).get(item.step.id), remedy))
    duration = time.monotonic() - began
    hooks.emit(
        f"{remedy}_finished",
        status="complete" if result.complete else "incomplete",
        duration_s=round(duration, 3),
        failed=[r.step_id for r in result.failed] or None,
    )
    hooks.notify(
        f"{remedy.title} COMPLETE"
        if result.complete
        else f"{remedy.title} INCOMPLETE - a person must act",
        f"{remedy}_finished",
    )
    return result, duration


def _run_planned(
    item: PlannedRollbackStep, hooks: RollbackHooks, prior: PriorStep | None, remedy: Remedy
) -> RollbackStepResult:
    step_id = item.step.id
    finished = f"{remedy}_step_finished"
    if prior is not None and prior.finished:
        return RollbackStepResult(step_id, prior.status or "ok", prior.reason)
    if prior is not None and not hooks.rerun_in_flight(step_id):
        why = "skipped on resume by operator"
        hooks.emit(finished, step=step_id, status="skipped", reason=why)
        return RollbackStepResult(step_id, "skipped", why)
    if not item.applies:
        hooks.emit(finished, step=step_id, status="skipped", reason=item.why_not)
        return RollbackStepResult(step_id, "skipped", item.why_not)
    return hooks.perform(item.step, remedy, item.hosts)
