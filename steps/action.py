"""Running one action (a launch step's or a rollback step's body): notify, run + expect, wait, check.

The engine owns confirmation, scheduling and journaling; this module owns
what "the step worked" means and reports every command and evaluation
through ``emit`` as it happens, so the journal is evidence, not a summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from runbook import model
from runbook.durations import format_duration
from steps.baseline import Baseline
from steps.cancel import CancelToken
from steps.clock import Clock
from steps.deadline import Deadline
from steps.executor import Executor, render_text
from steps.results import ActionOutcome, CommandResult, CriterionResult, Outcome
from steps.shells.base import OutputListener

Emit = Callable[[str, dict[str, Any]], None]
BaselineFor = Callable[[model.PrometheusCriterion, Mapping[str, str], CancelToken], Baseline]
ATTEMPT_FLOOR_SECONDS = 1.0
"""Every attempt of a check gets at least this long (or its whole timeout, if shorter), even at the
end of ``within`` or under ``--speed``: a real request or process needs real time."""


@dataclass
class ActionContext:
    """What an action needs from the launch: values to fill, where to run, how to report."""

    runbook: model.Runbook
    executor: Executor
    clock: Clock
    values: Mapping[str, str]
    env: Mapping[str, str]
    emit: Emit
    notify: Callable[[str], None]
    cancel: CancelToken
    on_output: OutputListener | None = None
    baseline: BaselineFor | None = None  # a relative Prometheus check's baseline (measured once)


def run_action(
    action: model.Action, ctx: ActionContext, *, soak: timedelta | None = None
) -> ActionOutcome:
    """Run ``action``'s parts in order; stops at the first failure, keeping its reason."""
    outcome = ActionOutcome()
    if action.notify:
        ctx.notify(render_text(action.notify, ctx.values))
    if action.run:
        _run_command(action, ctx, outcome)
        if not outcome.ok or outcome.interrupted:
            return outcome
    if soak:
        ctx.emit("wait_started", {"seconds": soak.total_seconds()})
        if not ctx.clock.sleep(soak.total_seconds(), ctx.cancel):
            outcome.interrupted = True
            return outcome.fail(f"interrupted during the {format_duration(soak)} wait")
    for criterion in action.check:
        if not _check(criterion, ctx, outcome):
            break
    return outcome


def _run_command(action: model.Action, ctx: ActionContext, outcome: ActionOutcome) -> None:
    target = ctx.runbook.target(action.on)
    reported: set[int] = set()

    def report(result: CommandResult) -> None:
        """Journal each host's result as soon as it is known, not when the last host ends."""
        reported.add(id(result))
        problem = command_problem(result, action.expect)
        ctx.emit(
            "command_finished",
            {**result.to_event(), "status": "failed" if problem else "ok", "reason": problem},
        )

    results = ctx.executor.run_command(
        action.run,
        target,
        ctx.values,
        env=ctx.env,
        timeout=action.timeout.total_seconds(),
        cancel=ctx.cancel,
        on_output=ctx.on_output,
        failed=lambda result: command_problem(result, action.expect) is not None,
        on_result=report,
    )
    outcome.commands.extend(results)
    failures = []
    for result in results:
        if id(result) not in reported:
            report(result)
        problem = command_problem(result, action.expect)
        if result.interrupted:
            outcome.interrupted = True
        if problem:
            failures.append((result, problem))
    if outcome.interrupted:
        outcome.fail("interrupted")
        return
    allowed = target.max_fail.allowed(len(results)) if not target.is_local else 0
    if len(failures) > allowed:
        result, problem = failures[0]
        names_host = problem.startswith((f"{result.host}:", f"{result.host} ("))
        where = f"on {result.host}: " if not target.is_local and not names_host else ""
        more = f" (and {len(failures) - 1} more hosts)" if len(failures) > 1 else ""
        outcome.fail(f"{where}{problem}{more}")


def command_problem(result: CommandResult, expect: model.Expect) -> str | None:
    """Why ``result`` does not meet ``expect``, or None when it does."""
    if result.dry_run:
        return None
    if result.reason:
        return result.reason
    if result.exit_code != expect.exit:
        last = f" (last output: {result.tail[-1]!r})" if result.tail else ""
        return f"exit code {result.exit_code}, expected {expect.exit}{last}"
    if expect.stdout_contains is not None and expect.stdout_contains not in result.stdout:
        return f"output does not contain {expect.stdout_contains!r}"
    if expect.stdout_matches is not None and not re.search(
        expect.stdout_matches, result.stdout, re.MULTILINE
    ):
        return f"output does not match /{expect.stdout_matches}/"
    return None


def _check(criterion: model.Criterion, ctx: ActionContext, outcome: ActionOutcome) -> bool:
    target = ctx.runbook.target(criterion.on) if criterion.on else None
    results = poll_criterion(criterion, ctx, target)
    outcome.checks.extend(results)
    failed = [r for r in results if not r.passed]
    if ctx.cancel.cancelled:
        outcome.interrupted = True
        outcome.fail("interrupted during checks")
        return False
    if failed:
        first = failed[0]
        where = f" on {first.host}" if first.host else ""
        outcome.fail(
            f"check {first.kind} {first.subject!r}{where} {first.outcome.value}: {first.reason}"
        )
        return False
    return True


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
