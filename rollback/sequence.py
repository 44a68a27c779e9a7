"""The rollback sequence: which steps apply, each run with its own retries, never stopping early.

A rollback that gives up at its first failed step leaves the system half
restored with nobody told; so a failed rollback step is retried per its
settings, then the sequence goes on and the result says it is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from runbook import model
from steps.action import ActionContext, run_action


@dataclass(frozen=True)
class PlannedRollbackStep:
    step: model.RollbackStep
    applies: bool
    why_not: str | None = None


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
    steps: Iterable[model.RollbackStep], started: set[str]
) -> list[PlannedRollbackStep]:
    """Every rollback step in order, with whether it applies given the launch steps that started."""
    planned = []
    for step in steps:
        if step.if_started is not None and step.if_started not in started:
            planned.append(PlannedRollbackStep(step, False, f"'{step.if_started}' never started"))
        else:
            planned.append(PlannedRollbackStep(step, True))
    return planned


def run_rollback_step(step: model.RollbackStep, ctx: ActionContext) -> RollbackStepResult:
    """Run one rollback step, retrying ``retries`` times ``retry_delay`` apart (tenacity, launch clock)."""
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
        sleep=lambda seconds: ctx.clock.sleep(seconds, ctx.cancel),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    outcome = retrying(attempt)
    if outcome.interrupted:
        return RollbackStepResult(step.id, "interrupted", outcome.reason, attempts)
    if not outcome.ok:
        return RollbackStepResult(step.id, "failed", outcome.reason, attempts)
    return RollbackStepResult(step.id, "ok", None, attempts)
