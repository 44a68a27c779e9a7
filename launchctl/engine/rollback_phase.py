"""The rollback phase of a launch: the sequence run in order, resumable, each step journaled.

Which steps apply and how a step is retried is ``rollback.sequence``'s; this
module drives them through the engine's blocker and journal, and on resume
never re-runs a rollback step the journal shows finished.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rollback.sequence import RollbackResult, RollbackStepResult, plan_rollback, run_rollback_step
from runbook import model
from runbook.errors import EXIT_ROLLBACK_INCOMPLETE, EXIT_ROLLED_BACK

if TYPE_CHECKING:
    from launchctl.engine.engine import Engine


class RollbackPhase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, reason: str, trigger: str) -> int:
        engine = self.engine
        previous = engine.state.rollback if engine.state and engine.state.rollback else None
        planned = plan_rollback(engine.runbook.rollback, engine.started_ids)
        started = time.monotonic()
        engine.drills.rollback_started(started)
        if previous is None or previous.status is not None:
            engine.recorder.emit(
                "rollback_started",
                reason=reason,
                trigger=trigger,
                steps=[p.step.id for p in planned if p.applies],
            )
            engine.notify(f"ROLLBACK INITIATED - reason: {reason}", "rollback_started")
        values = {**engine.values, "rollback.reason": reason, "rollback.trigger": trigger}
        result = RollbackResult()
        for item in planned:
            prior = previous.steps.get(item.step.id) if previous else None
            if prior is not None and prior.finished_state:
                result.steps.append(RollbackStepResult(item.step.id, prior.status, prior.reason))
                continue
            if (
                prior is not None
                and prior.in_flight
                and not engine.ask_rerun(item.step.id, "rollback step", "rollback_step_finished")
            ):
                result.steps.append(
                    RollbackStepResult(item.step.id, "skipped", "skipped on resume by operator")
                )
                continue
            if not item.applies:
                engine.recorder.emit(
                    "rollback_step_finished",
                    step=item.step.id,
                    status="skipped",
                    reason=item.why_not,
                )
                result.steps.append(RollbackStepResult(item.step.id, "skipped", item.why_not))
                continue
            result.steps.append(self._run_rollback_step(item.step, values))
        status = "complete" if result.complete else "incomplete"
        engine.recorder.emit(
            "rollback_finished",
            status=status,
            duration_s=round(time.monotonic() - started, 3),
            failed=[r.step_id for r in result.failed] or None,
        )
        engine.notify(
            "ROLLBACK COMPLETE" if result.complete else "ROLLBACK INCOMPLETE - a person must act",
            "rollback_finished",
        )
        if result.complete:
            return engine.finish("rolled_back", EXIT_ROLLED_BACK)
        return engine.finish("rollback_incomplete", EXIT_ROLLBACK_INCOMPLETE)

    def _run_rollback_step(
        self, step: model.RollbackStep, values: dict[str, str]
    ) -> RollbackStepResult:
        engine = self.engine
        engine.recorder.emit(
            "rollback_step_started", step=step.id, title=step.title, phase="rollback"
        )
        step_values = {**values, "step.id": step.id}
        result = self.engine.blocker.run(
            lambda cancel: run_rollback_step(
                step, self.engine.action_context(step, cancel, step_values, phase="rollback")
            ),
            step.id,
            phase="rollback",
        )
        engine.recorder.emit(
            "rollback_step_finished",
            step=step.id,
            status=result.status,
            reason=result.reason,
            attempts=result.attempts,
        )
        return result
