"""Evaluating criteria: once, or every ``every`` until they pass or ``within`` runs out.

Shared by a step's checks and the checks between its waves; every evaluation
is reported through the context's ``emit`` as it happens.
"""

from __future__ import annotations

from collections.abc import Sequence

from runbook import model
from steps.baseline import Baseline
from steps.context import ActionContext
from steps.deadline import Deadline
from steps.results import CriterionResult, Outcome

ATTEMPT_FLOOR_SECONDS = 1.0
"""Every attempt of a check gets at least this long (or its whole timeout, if shorter), even at the
end of ``within`` or under ``--speed``: a real request or process needs real time."""


def run_checks(
    criteria: Sequence[model.Criterion],
    ctx: ActionContext,
    targets: Sequence[model.Target | None],
) -> tuple[list[CriterionResult], str | None]:
    """Each criterion (on its target) in order, stopping at the first that does not pass.

    Returns every evaluation and the failure's reason (None when all passed);
    a cancellation is a failure ("interrupted during checks").
    """
    results: list[CriterionResult] = []
    for criterion, target in zip(criteria, targets, strict=True):
        evaluations = poll_criterion(criterion, ctx, target)
        results.extend(evaluations)
        if ctx.cancel.cancelled:
            return results, "interrupted during checks"
        failed = [r for r in evaluations if not r.passed]
        if failed:
            first = failed[0]
            where = f" on {first.host}" if first.host else ""
            return results, (
                f"check {first.kind} {first.subject!r}{where} {first.outcome.value}: {first.reason}"
            )
    return results, None


def _baseline(criterion: model.Criterion, ctx: ActionContext) -> Baseline | None:
    """What a relative Prometheus check compares with: the launch measures it once and keeps it."""
    if not isinstance(criterion, model.PrometheusCriterion) or criterion.expect.relative is None:
        return None
    if ctx.baseline is None or ctx.executor.dry_run:
        return None
    return ctx.baseline(criterion, ctx.values, ctx.cancel)


def poll_criterion(
    criterion: model.Criterion, ctx: ActionContext, target: model.Target | None
) -> list[CriterionResult]:
    """Evaluate once, or every ``every`` until all hosts pass or ``within`` runs out (tenacity).

    ``within`` bounds the check as a whole: each attempt's deadline is its own
    ``timeout`` or what is left of ``within``, whichever is sooner, so a
    server that stalls or trickles cannot stretch the check. ``within`` and
    ``every`` are real seconds, never compressed by ``--speed``: the system
    being checked recovers at its own pace.
    """
    import time

    from tenacity import RetryCallState, Retrying, retry_if_result, wait_fixed

    poll = criterion.poll
    within = poll.within.total_seconds() if poll.within is not None else 0.0
    end = time.monotonic() + within
    every = poll.every.total_seconds()
    timeout = criterion.timeout.total_seconds()
    attempts = 0

    def deadline() -> Deadline:
        if poll.within is None:
            return Deadline.after(timeout, ctx.cancel)
        left = end - time.monotonic()
        return Deadline.after(min(timeout, max(left, ATTEMPT_FLOOR_SECONDS)), ctx.cancel)

    def evaluate() -> list[CriterionResult]:
        nonlocal attempts
        attempts += 1
        results = ctx.executor.evaluate(
            criterion, target, ctx.values, deadline(), attempts, _baseline(criterion, ctx)
        )
        for result in results:
            ctx.emit(
                "check_result",
                result.to_event() | ({"status": "not-evaluated"} if result.dry_run else {}),
            )
        return results

    def out_of_time(state: RetryCallState) -> bool:
        return ctx.cancel.cancelled or time.monotonic() + every > end

    if poll.within is None:
        return evaluate()
    retrying = Retrying(
        retry=retry_if_result(lambda results: any(r.outcome is not Outcome.PASS for r in results)),
        stop=out_of_time,
        wait=wait_fixed(every),
        sleep=lambda seconds: ctx.clock.sleep_real(seconds, ctx.cancel),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    return retrying(evaluate)
