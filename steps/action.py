"""Running one action (a launch step's or a rollback step's body): notify, run + expect, wait, check.

The engine owns confirmation, scheduling and journaling; this module owns
what "the step worked" means and reports every command and evaluation
through ``emit`` as it happens, so the journal is evidence, not a summary.
A command on an SSH target fans out through ``steps.rollout`` (waves, the
hosts a rollback must undo, a resumed step's hosts); a local one runs here.
"""

from __future__ import annotations

from datetime import timedelta

from runbook import model
from runbook.durations import format_duration
from steps.context import ActionContext, Emit
from steps.expect import command_problem, hosts_failure
from steps.host_plan import HostPlan
from steps.polling import ATTEMPT_FLOOR_SECONDS, poll_criterion, run_checks
from steps.results import ActionOutcome, CommandResult
from steps.rollout import run_rollout

__all__ = [
    "ATTEMPT_FLOOR_SECONDS",
    "ActionContext",
    "Emit",
    "command_problem",
    "poll_criterion",
    "run_action",
]


def run_action(
    action: model.Action, ctx: ActionContext, *, soak: timedelta | None = None
) -> ActionOutcome:
    """Run ``action``'s parts in order; stops at the first failure, keeping its reason."""
    outcome = ActionOutcome()
    if action.notify:
        from steps.executor import render_text

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
    if action.check:
        targets = [ctx.runbook.target(c.on) if c.on else None for c in action.check]
        checks, failure = run_checks(action.check, ctx, targets)
        outcome.checks.extend(checks)
        if failure is not None:
            outcome.interrupted = ctx.cancel.cancelled
            outcome.fail(failure)
    return outcome


def _run_command(action: model.Action, ctx: ActionContext, outcome: ActionOutcome) -> None:
    target = ctx.runbook.fan_out_target(action)
    if not target.is_local:
        plan = ctx.hosts or HostPlan((target.hosts,))
        rollout = run_rollout(action, ctx, target, plan)
        outcome.commands.extend(rollout.results)
        outcome.interrupted = rollout.interrupted
        if rollout.failure:
            outcome.fail(rollout.failure)
        return
    results = ctx.executor.run_command(
        action.run,
        target,
        ctx.values,
        env=ctx.env,
        timeout=action.timeout.total_seconds(),
        cancel=ctx.cancel,
        on_output=ctx.on_output,
        failed=lambda result: command_problem(result, action.expect) is not None,
    )
    outcome.commands.extend(results)
    failures: list[tuple[CommandResult, str]] = []
    for result in results:
        problem = command_problem(result, action.expect)
        ctx.emit(
            "command_finished",
            {**result.to_event(), "status": "failed" if problem else "ok", "reason": problem},
        )
        outcome.interrupted = outcome.interrupted or result.interrupted
        if problem:
            failures.append((result, problem))
    if outcome.interrupted:
        outcome.fail("interrupted")
    elif failures:
        outcome.fail(hosts_failure(failures, per_host=False))
