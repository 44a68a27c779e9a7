"""One checkpoint: every check of ``checkpoints:`` judged for one slot, and the slot's verdict.

Prometheus checks are judged at the slot's due moment (an instant query with
``time=``), so a checkpoint run late, or by a timer that fired after it, still
reads the service as it was then; each is shown against its baseline (the
trend the record draws). HTTP and command checks can only see the world now:
they run for the newest due slot, and an older slot missed while nobody
watched records them as ``missed``. The verdict is the guards': any failure
fails the slot, anything unknown makes it inconclusive (never a pass), and a
slot where nothing could be judged was missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from launchctl.engine.baselines import BaselineBook
from launchctl.watch.slots import DueSlot
from runbook import model
from steps.action import ActionContext, poll_criterion
from steps.baseline import Baseline
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.criteria import evaluate_prometheus
from steps.deadline import Deadline
from steps.executor import Executor, render_text
from steps.http import HttpSession
from steps.results import CriterionResult, Outcome

MISSED = "missed"


@dataclass
class CheckpointJudge:
    """What judging a slot needs: the launch's runbook and values, where to ask, its baselines."""

    runbook: model.Runbook
    values: Mapping[str, str]
    url: str | None
    clock: Clock
    executor: Executor
    baselines: BaselineBook
    http: HttpSession
    cancel: CancelToken

    def judge(self, slot: DueSlot, newest: bool, following: DueSlot | None) -> dict[str, Any]:
        """The ``checkpoint_result`` fields of ``slot``; ``newest``: the last one due now."""
        assert self.runbook.checkpoints is not None
        checks = [
            self._check(criterion, slot, newest) for criterion in self.runbook.checkpoints.check
        ]
        status = verdict([check["status"] for check in checks])
        failed = next((c for c in checks if c["status"] in ("fail", "inconclusive")), None)
        return {
            "slot": slot.label,
            "due": slot.due,
            "review": slot.review or None,
            "last": slot.last or None,
            "status": status,
            "reason": _reason(failed) if failed else None,
            "late_s": round((self.clock.now() - slot.due).total_seconds(), 1),
            "checks": checks,
            "then": self.runbook.checkpoints.then.value,
            "next": following.label if following else None,
            "next_due": following.due if following else None,
        }

    def _check(self, criterion: model.Criterion, slot: DueSlot, newest: bool) -> dict[str, Any]:
        if isinstance(criterion, model.PrometheusCriterion):
            return self._prometheus(criterion, slot)
        subject = render_text(criterion.subject(), self.values)
        if not newest:
            return _row(
                criterion.kind,
                subject,
                MISSED,
                None,
                "not run: checkpoint missed, and "
                f"{criterion.kind} checks can only see the world now",
            )
        target = self.runbook.target(criterion.on) if criterion.on else None
        results = poll_criterion(criterion, self._context(), target)
        worst = _worst(results)
        return _row(worst.kind, worst.subject, worst.outcome.value, worst.value, worst.reason)

    def _prometheus(self, criterion: model.PrometheusCriterion, slot: DueSlot) -> dict[str, Any]:
        query = render_text(criterion.query, self.values)
        baseline = self.baselines.for_check(criterion, self.values, self.cancel)
        if not self.url:
            return _row("prometheus", query, "inconclusive", None, "no prometheus url configured")
        result = evaluate_prometheus(
            self.url,
            query,
            criterion.expect,
            deadline=Deadline.after(criterion.timeout.total_seconds(), self.cancel),
            session=self.http,
            baseline=baseline if criterion.expect.relative else None,
            at=self.clock.real_at(slot.due),
        )
        row = _row("prometheus", query, result.outcome.value, result.value, result.reason)
        return row | _against(result.value, baseline) | {"expect": str(criterion.expect)}

    def _context(self) -> ActionContext:
        def ignore(*_args: Any, **_kwargs: Any) -> None:
            return None

        return ActionContext(
            runbook=self.runbook,
            executor=self.executor,
            clock=self.clock,
            values=self.values,
            env={},
            emit=ignore,
            notify=ignore,
            cancel=self.cancel,
        )


def verdict(statuses: list[str]) -> str:
    """Guards-style: a failure fails it, anything unknown is inconclusive, nothing judged: missed."""
    judged = [status for status in statuses if status != MISSED]
    if not judged:
        return MISSED
    if "fail" in judged:
        return "fail"
    return "inconclusive" if "inconclusive" in judged else "pass"


def _against(value: float | None, baseline: Baseline | None) -> dict[str, Any]:
    """The value against its baseline: the baseline and their ratio (the record's trend)."""
    if baseline is None or baseline.value is None:
        return {"baseline": None}
    ratio = value / baseline.value if value is not None and baseline.value else None
    return {"baseline": baseline.value, "ratio": None if ratio is None else round(ratio, 4)}


def _row(kind: str, subject: str, status: str, value: Any, reason: str) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "status": status, "value": value, "reason": reason}


def _worst(results: list[CriterionResult]) -> CriterionResult:
    order = {Outcome.FAIL: 0, Outcome.INCONCLUSIVE: 1, Outcome.PASS: 2}
    return min(results, key=lambda result: order[result.outcome])


def _reason(check: Mapping[str, Any]) -> str:
    return f"{check['kind']} {check['subject']}: {check['status']} ({check['reason']})"
