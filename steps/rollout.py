"""Running a command over an SSH target's hosts, batch by batch, with what happens between batches.

One runner for every fan-out (``steps.host_plan`` says which hosts, in what
order): a launch step in waves (each wave a fan-out bounded by ``parallel``;
after each but the last a hold, guards watching, then the checks), a step
without waves (one batch), a rollback step undoing exactly the hosts a launch
step touched (its waves, last first) and a resumed step (finished hosts taken
as the journal has them; hosts that were in flight are asked, through their
record on the host, whether they finished).

``max_fail`` counts per wave and in total: a percentage is of the wave's hosts
for the wave and of all the hosts for the total, a count is the same number
for both. Once either is exceeded no further host or wave starts (hosts already
running finish) and the step fails, except in an undo: a rollback step goes on
to the earlier waves (their hosts are as changed as the failing one's) and
fails at the end. Every host's start is journaled on the
worker before its command starts (``host_started``), its end as soon as it is
known (``command_finished`` and ``host_finished``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from runbook import model, templating
from runbook.durations import format_duration
from steps.context import ActionContext
from steps.executor import render_command
from steps.expect import command_problem, hosts_failure
from steps.host_plan import HostPlan
from steps.polling import run_checks
from steps.results import CommandResult

RECORD_POLL_SECONDS = 1.0  # how often resume looks at a command still running on its host
NOT_STARTED_EARLIER_WAVE = "not started: the rollout stopped at an earlier wave"


@dataclass
class Rollout:
    """Every host's result (in the plan's order) and, when the rollout stopped, why."""

    results: list[CommandResult] = field(default_factory=list)
    failure: str | None = None
    interrupted: bool = False


def run_rollout(
    action: model.Action, ctx: ActionContext, target: model.Target, plan: HostPlan
) -> Rollout:
    """Run ``action.run`` on ``target``'s hosts as ``plan`` says; never raises for a host's failure."""
    return _Runner(action, ctx, target, plan).run()


def per_host(criterion: model.Criterion, target: model.Target) -> bool:
    """A check between waves runs once per host of the wave just done when it is on the step's
    target, or is an HTTP check that names ``{{ host }}``; otherwise once."""
    if criterion.on == target.name:
        return True
    if isinstance(criterion, model.HttpCriterion) and criterion.on is None:
        texts = [criterion.url, criterion.body_contains or ""]
        return any("host" in templating.template_names(text) for text in texts)
    return False


class _Runner:
    def __init__(
        self, action: model.Action, ctx: ActionContext, target: model.Target, plan: HostPlan
    ) -> None:
        self.action = action
        self.ctx = ctx
        self.target = target
        self.plan = plan
        self.results: dict[str, CommandResult] = dict(plan.done)
        self.started: set[str] = set()
        self.recovered: set[str] = set()
        self.total_allowed = target.max_fail.allowed(len(plan.hosts))

    # -- the batches ------------------------------------------------------------------------

    def run(self) -> Rollout:
        outcome = Rollout()
        batches = self.plan.batches
        for index, batch in enumerate(batches):
            if self.ctx.cancel.cancelled:
                outcome.interrupted, outcome.failure = True, "interrupted"
                break
            resumed_whole = all(host in self.plan.done for host in batch)
            if not resumed_whole:
                failure, outcome.interrupted = self._wave(index, batch)
                outcome.failure = outcome.failure or failure
                if outcome.interrupted or (failure and not self.plan.undo):
                    break  # an undo goes on: every touched host it can reach is put back
            last = index == len(batches) - 1
            next_begun = not last and any(
                host in self.plan.done or host in self.plan.in_flight for host in batches[index + 1]
            )
            if last or next_begun or self.plan.between is None:
                continue
            outcome.failure, outcome.interrupted = self._between(index, batch)
            if outcome.failure:
                break
        outcome.results = [self._result_of(host) for host in self.plan.hosts]
        if outcome.interrupted and not outcome.failure:
            outcome.failure = "interrupted"
        return outcome

    def _result_of(self, host: str) -> CommandResult:
        if host in self.results:
            return self.results[host]
        return CommandResult(self._display(host), host, None, 0.0, error=NOT_STARTED_EARLIER_WAVE)

    def _number(self, index: int) -> int | None:
        return self.plan.numbers[index] if self.plan.in_waves else None

    def _wave_fields(self, index: int) -> dict[str, Any]:
        number = self._number(index)
        return {} if number is None else {"wave": number, "of": len(self.plan.batches)}

    def _wave(self, index: int, batch: tuple[str, ...]) -> tuple[str | None, bool]:
        """One batch: its hosts' commands, then whether max_fail stops the rollout."""
        number = self._number(index)
        wave = self._wave_fields(index)
        if wave:
            resumed = [host for host in batch if host in self.plan.done]
            self.ctx.emit(
                "wave_started", {**wave, "hosts": list(batch), "resumed": resumed or None}
            )
        if number is not None and number == self.plan.fail_wave:
            self._inject(batch, number)
        else:
            todo = [host for host in batch if host not in self.plan.done]
            todo = [host for host in todo if not self._adopted(host, number)]
            if todo:
                self._fan_out(todo, batch, number)
        return self._judge(index, batch)

    def _fan_out(self, todo: list[str], batch: tuple[str, ...], number: int | None) -> None:
        failed_in_wave = len(self._failures(batch))
        allowance = min(
            self.target.max_fail.allowed(len(batch)) - failed_in_wave,
            self.total_allowed - len(self._failures(self.plan.hosts)),
        )
        if self.plan.undo:
            allowance = len(todo)  # every touched host is tried; max_fail judges the step after
        scope = replace(
            self.target, hosts=tuple(todo), max_fail=model.MaxFail(count=max(0, allowance))
        )
        wave = {} if number is None else {"wave": number}

        def started(host: str) -> None:
            self.started.add(host)
            self.ctx.emit("host_started", {"host": host, **wave})

        def report(result: CommandResult) -> None:
            self.results[result.host] = result
            self._report(result, wave)

        if allowance < 0:
            return
        self.ctx.executor.run_command(
            self.action.run,
            scope,
            self.ctx.values,
            env=self.ctx.env,
            timeout=self.action.timeout.total_seconds(),
            cancel=self.ctx.cancel,
            on_output=self.ctx.on_output,
            failed=lambda result: command_problem(result, self.action.expect) is not None,
            on_result=report,
            on_start=started,
            record=self.ctx.record,
        )

    def _report(self, result: CommandResult, wave: dict[str, Any]) -> None:
        problem = command_problem(result, self.action.expect)
        status = "failed" if problem else "ok"
        self.ctx.emit(
            "command_finished", {**result.to_event(), "status": status, "reason": problem, **wave}
        )
        if result.host not in self.started and result.host not in self.recovered:
            return  # never started: max_fail or a cancel kept it from running
        if result.interrupted:
            status = "interrupted"
        self.ctx.emit(
            "host_finished",
            {
                "host": result.host,
                "status": status,
                "exit_code": result.exit_code,
                "reason": problem,
                "recovered": "from its record on the host"
                if result.host in self.recovered
                else None,
                "never_started": result.never_started or None,
                **wave,
            },
        )

    def _failures(self, hosts: tuple[str, ...] | list[str]) -> list[tuple[CommandResult, str]]:
        """Hosts whose command did not work; a host finished before a resume keeps its verdict."""
        found = []
        for host in hosts:
            result = self.results.get(host)
            if result is None:
                continue
            if host in self.plan.done:
                problem = result.reason
            else:
                problem = command_problem(result, self.action.expect)
            if problem:
                found.append((result, problem))
        return found

    def _judge(self, index: int, batch: tuple[str, ...]) -> tuple[str | None, bool]:
        """The wave's end: journal it, and say whether the rollout must stop."""
        wave = self._wave_fields(index)
        in_wave = [self.results.get(host) for host in batch]
        interrupted = any(r is not None and r.interrupted for r in in_wave)
        failures = self._failures(batch)
        all_failures = self._failures(self.plan.hosts)
        wave_allowed = self.target.max_fail.allowed(len(batch))
        failure = None
        if interrupted:
            pass  # stopped by a rollback or a pause: that is the reason, not the failures
        elif wave and len(failures) > wave_allowed:
            failure = (
                f"wave {wave['wave']} of {wave['of']}: {hosts_failure(failures, True)}; "
                f"max_fail {self.target.max_fail} allows {wave_allowed} of its {len(batch)} hosts"
            )
        elif len(all_failures) > self.total_allowed:
            failure = hosts_failure(all_failures, True)
            if wave:
                failure = (
                    f"wave {wave['wave']} of {wave['of']}: {failure}; max_fail "
                    f"{self.target.max_fail} allows {self.total_allowed} of "
                    f"{len(self.plan.hosts)} hosts in total"
                )
        if wave:
            ran = [
                h for h in batch if h in self.started or h in self.plan.done or h in self.recovered
            ]
            failed = {result.host for result, _ in failures} & set(ran)
            status = "interrupted" if interrupted else ("failed" if failure else "ok")
            self.ctx.emit(
                "wave_finished",
                {
                    **wave,
                    "status": status,
                    "ok": len(ran) - len(failed),
                    "failed": [h for h in ran if h in failed] or None,
                    "not_started": [h for h in batch if h not in ran] or None,
                    "reason": failure,
                },
            )
        return failure, interrupted

    # -- between two waves ------------------------------------------------------------------

    def _between(self, index: int, batch: tuple[str, ...]) -> tuple[str | None, bool]:
        """After a wave: the hold (the guards keep watching; a breach cancels it), then the checks."""
        between = self.plan.between
        wave = self._wave_fields(index)
        after = f"after wave {wave['wave']} of {wave['of']}"
        ctx = replace(self.ctx, emit=lambda event, fields: self.ctx.emit(event, {**fields, **wave}))
        if between.hold.total_seconds() > 0:
            ctx.emit("wait_started", {"seconds": between.hold.total_seconds()})
            if not ctx.clock.sleep(between.hold.total_seconds(), ctx.cancel):
                return f"interrupted during the {format_duration(between.hold)} hold {after}", True
        just_done = replace(self.target, hosts=batch)
        targets = [
            just_done
            if per_host(c, self.target)
            else (self.ctx.runbook.target(c.on) if c.on else None)
            for c in between.check
        ]
        _, failure = run_checks(between.check, ctx, targets)
        if failure is None:
            return None, False
        return f"{after}: {failure}", ctx.cancel.cancelled

    # -- resume and drills ------------------------------------------------------------------

    def _adopted(self, host: str, number: int | None) -> bool:
        """A host in flight when the driver stopped: take its result from its record on the host
        (waiting while it still runs there); False when nobody knows and it must run again."""
        if host not in self.plan.in_flight or self.ctx.record is None:
            return False
        executor, cancel = self.ctx.executor, self.ctx.cancel
        record = executor.read_record(self.target, host, self.ctx.record, cancel)
        waited, limit = 0.0, self.action.timeout.total_seconds()
        killed = None
        while record.state == "running" and not cancel.cancelled:
            if waited >= limit:
                killed = executor.kill_recorded(self.target, host, record, cancel)
                break
            if cancel.wait(RECORD_POLL_SECONDS):
                break
            waited += RECORD_POLL_SECONDS
            record = executor.read_record(self.target, host, self.ctx.record, cancel)
        if killed is not None:
            result = CommandResult(
                self._display(host),
                host,
                None,
                waited,
                timed_out=True,
                timeout=limit,
                killed=killed,
            )
        elif record.state == "finished":
            lines = record.output.splitlines()
            result = CommandResult(
                self._display(host),
                host,
                record.exit_code,
                0.0,
                tail=tuple(lines[-40:]),
                stdout=record.output,
            )
        else:
            return False
        self.recovered.add(host)
        self.results[host] = result
        self._report(result, {} if number is None else {"wave": number})
        return True

    def _inject(self, batch: tuple[str, ...], number: int) -> None:
        """A drill's failure in this wave: its hosts are journaled started and failed, not run."""
        reason = f"drill: injected failure in wave {number} (the command was not run)"
        fault = f"failure of step '{self.action.id}' in wave {number} of {len(self.plan.batches)}"
        self.ctx.emit("drill_injected", {"fault": fault, "wave": number})
        for host in batch:
            if host in self.plan.done:
                continue
            self.started.add(host)
            self.ctx.emit("host_started", {"host": host, "wave": number})
            result = CommandResult(self._display(host), host, None, 0.0, error=reason)
            self.results[host] = result
            self._report(result, {"wave": number})

    def _display(self, host: str) -> str:
        return render_command(self.action.run, self.ctx.values, host).display
