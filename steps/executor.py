"""Executors: the same step walk either acts on the world or only describes what it would do.

``RealExecutor`` runs commands and evaluates criteria; ``DryRunExecutor``
renders every command and criterion exactly as it would run them and returns
results marked ``dry_run`` without touching any target. ``plan``,
``--dry-run`` and drills without ``--live`` use the latter.

On an SSH target a command fans out over the hosts (``steps.fanout``) through
one pooled connection per host, opened on first use and closed with the
executor; building an executor opens nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from runbook import model
from runbook.errors import ExitCode, LaunchctlError
from runbook.shell.template import ShellCommand, render_shell_command
from runbook.templating import render
from steps import criteria
from steps.baseline import Baseline
from steps.cancel import CancelToken
from steps.deadline import Deadline
from steps.fanout import fan_out
from steps.host_records import HostRecord, RecordKey, parse_probe, probe_script, recorded
from steps.http import HttpSession
from steps.results import CommandResult, CriterionResult, Outcome
from steps.shells.base import OutputListener, Shell
from steps.shells.local import LocalShell
from steps.shells.output import Redaction

if TYPE_CHECKING:
    from steps.shells.ssh.pool import SshPool

FailurePredicate = Callable[[CommandResult], bool]
ResultListener = Callable[[CommandResult], None]
StartListener = Callable[[str], None]
PROBE_SECONDS = 15.0  # reading a host's record: one short command


class TransportUnavailable(LaunchctlError):
    """A target's transport cannot be used from this launch."""

    exit_code = ExitCode.BAD_INPUT


def command_failed(result: CommandResult, exit_code: int = 0) -> bool:
    """The default of what counts against ``max_fail``: any reason, or an unexpected exit code."""
    return result.reason is not None or result.exit_code != exit_code


def hosts_of(target: model.Target) -> tuple[str, ...]:
    return ("localhost",) if target.is_local else target.hosts


def render_command(template: str, values: Mapping[str, str], host: str) -> ShellCommand:
    return render_shell_command(template, {**values, "host": host})


def render_text(template: str, values: Mapping[str, str], host: str | None = None) -> str:
    return render(template, {**values, "host": host or "localhost"})


def prometheus_url(
    runbook: model.Runbook, values: Mapping[str, str], environ: Mapping[str, str]
) -> str | None:
    """The Prometheus base URL with placeholders filled and ``${SECRET}`` taken from the environment."""
    if not runbook.prometheus_url:
        return None
    return render(runbook.prometheus_url, {**values, "host": "localhost"}, environ)


class Executor(Protocol):
    dry_run: bool

    def run_command(
        self,
        template: str,
        target: model.Target,
        values: Mapping[str, str],
        *,
        env: Mapping[str, str],
        timeout: float,
        cancel: CancelToken,
        on_output: OutputListener | None = None,
        failed: FailurePredicate | None = None,
        on_result: ResultListener | None = None,
        on_start: StartListener | None = None,
        record: RecordKey | None = None,
    ) -> list[CommandResult]:
        """One result per host, in the target's host order.

        ``failed`` says which results count against the target's ``max_fail``
        (default: ``command_failed``); ``on_result`` sees each host's result as
        soon as it is known; ``on_start(host)`` is called on the worker just
        before a host's command starts (so it can be journaled first). With
        ``record``, each SSH host's command leaves its records on the host
        (``steps.host_records``).
        """
        ...

    def read_record(
        self, target: model.Target, host: str, key: RecordKey, cancel: CancelToken
    ) -> HostRecord:
        """What ``host``'s record says of the command ``key`` names (for resume)."""
        ...

    def kill_recorded(
        self, target: model.Target, host: str, record: HostRecord, cancel: CancelToken
    ) -> str:
        """Kill a recorded command still running on ``host``; says what was killed."""
        ...

    def evaluate(
        self,
        criterion: model.Criterion,
        target: model.Target | None,
        values: Mapping[str, str],
        deadline: Deadline,
        attempt: int,
        baseline: Baseline | None = None,
    ) -> list[CriterionResult]:
        """One evaluation per host (or one), each bounded by ``deadline`` and its cancel token;
        ``baseline`` is what a relative Prometheus ``expect`` is judged against."""
        ...

    def close(self) -> None: ...


class RealExecutor:
    dry_run = False

    def __init__(
        self,
        runbook: model.Runbook,
        values: Mapping[str, str],
        cwd: str | None = None,
        environ: Mapping[str, str] | None = None,
        ssh_pool: SshPool | None = None,
        redaction: Redaction | None = None,
    ) -> None:
        """``redaction`` (the launch's secret masking) sees every command's output before it is
        split or cut, and every answer's text before an excerpt is cut from it."""
        self._runbook = runbook
        self._redaction = redaction
        self._local = LocalShell(cwd=cwd)
        self._prometheus_url = prometheus_url(runbook, values, environ or {})
        self._http = HttpSession(redaction.text if redaction else None)
        self._ssh_pool = ssh_pool
        self._ssh_lock = threading.Lock()

    @property
    def ssh_pool(self) -> SshPool:
        """The launch's SSH connections; created (empty) on first use, so a local launch never imports paramiko."""
        with self._ssh_lock:
            if self._ssh_pool is None:
                from steps.shells.ssh.pool import SshPool

                base_dir = Path(self._runbook.source).absolute().parent
                self._ssh_pool = SshPool(self._runbook.ssh, base_dir)
            return self._ssh_pool

    def _shell(self, target: model.Target, host: str) -> Shell:
        if target.is_local:
            return self._local
        if target.transport != "ssh":
            raise TransportUnavailable(
                f"target '{target.name}' uses transport {target.transport!r}, which launchctl cannot run"
            )
        from steps.shells.ssh.shell import SshShell

        return SshShell(self.ssh_pool, host, user=target.user, port=target.port)

    def run_command(
        self,
        template,
        target,
        values,
        *,
        env,
        timeout,
        cancel,
        on_output=None,
        failed=None,
        on_result=None,
        on_start=None,
        record=None,
    ):
        hosts = hosts_of(target)
        commands = {host: render_command(template, values, host) for host in hosts}

        def run_one(host: str) -> CommandResult:
            script = commands[host].script
            if record is not None and not target.is_local:
                script = recorded(script, record, host)
            if on_start is not None:
                on_start(host)
            result = self._shell(target, host).run(
                script,
                env=env,
                timeout=timeout,
                cancel=cancel,
                on_output=on_output,
                output_filter=self._redaction.stream() if self._redaction else None,
            )
            return replace(result, command=commands[host].display)

        def skipped(host: str, reason: str, cancelled: bool) -> CommandResult:
            return CommandResult(
                commands[host].display,
                host,
                None,
                0.0,
                error=reason,
                interrupted=cancelled,
                timeout=timeout,
            )

        return fan_out(
            hosts,
            run_one,
            parallel=1 if target.is_local else target.parallel,
            allowed_failures=0 if target.is_local else target.max_fail.allowed(len(hosts)),
            failed=failed or command_failed,
            skipped=skipped,
            cancel=None if target.is_local else cancel,
            on_result=on_result,
        )

    def read_record(self, target, host, key, cancel):
        result = self._shell(target, host).run(
            probe_script(key, host),
            env={},
            timeout=PROBE_SECONDS,
            cancel=cancel,
            output_filter=self._redaction.stream() if self._redaction else None,
        )
        if result.reason is not None:
            return HostRecord("unreadable", problem=result.reason)
        return parse_probe(result.stdout)

    def kill_recorded(self, target, host, record, cancel):
        from steps.shells.ssh.kill import kill_script, parse_report

        script = kill_script(record.pid, record.token or "-", grace=2.0)
        result = self._shell(target, host).run(script, env={}, timeout=PROBE_SECONDS, cancel=cancel)
        report = parse_report(result.stdout)
        if report is None:
            return f"could not kill it on the host: {result.reason or 'no report'}"
        return report.problem or report.summary()

    def evaluate(self, criterion, target, values, deadline, attempt, baseline=None):
        hosts = hosts_of(target) if target is not None and not target.is_local else (None,)
        if isinstance(criterion, model.PrometheusCriterion):
            query = render_text(criterion.query, values)
            if self._prometheus_url is None:
                return [
                    CriterionResult(
                        "prometheus", query, Outcome.INCONCLUSIVE, "no prometheus url configured"
                    )
                ]
            return [
                criteria.evaluate_prometheus(
                    self._prometheus_url,
                    query,
                    criterion.expect,
                    deadline=deadline,
                    attempt=attempt,
                    session=self._http,
                    baseline=baseline,
                )
            ]
        if isinstance(criterion, model.HttpCriterion):
            return [
                criteria.evaluate_http(
                    render_text(criterion.url, values, host),
                    status=criterion.status,
                    body_contains=render_text(criterion.body_contains, values, host)
                    if criterion.body_contains
                    else None,
                    deadline=deadline,
                    host=host,
                    attempt=attempt,
                    session=self._http,
                )
                for host in hosts
            ]
        return self._evaluate_command(
            criterion, target or model.LOCAL_TARGET, values, deadline, attempt
        )

    def _evaluate_command(self, criterion, target, values, deadline, attempt):
        results = self.run_command(
            criterion.command,
            target,
            values,
            env={},
            timeout=max(0.001, deadline.remaining()),
            cancel=deadline.cancel or CancelToken(),
            failed=lambda result: command_failed(result, criterion.exit),
        )
        evaluations = []
        for result in results:
            if result.exit_code == criterion.exit and result.reason is None:
                outcome, reason = Outcome.PASS, f"exit {result.exit_code}"
            elif result.timed_out:
                outcome, reason = Outcome.INCONCLUSIVE, result.reason
            else:
                last = f": {result.tail[-1]}" if result.tail else ""
                reason = (
                    result.reason or f"exit {result.exit_code}, expected {criterion.exit}{last}"
                )
                outcome = Outcome.FAIL
            host = result.host if not target.is_local else None
            evaluations.append(
                CriterionResult(
                    "command",
                    result.command,
                    outcome,
                    reason,
                    result.exit_code,
                    host,
                    attempt,
                    result.duration,
                )
            )
        return evaluations

    def close(self) -> None:
        self._local.close()
        self._http.close()
        with self._ssh_lock:
            pool, self._ssh_pool = self._ssh_pool, None
        if pool is not None:
            pool.close()
        self._http.close()


class DryRunExecutor:
    """Touches nothing; every result says what would have run."""

    dry_run = True

    def run_command(
        self,
        template,
        target,
        values,
        *,
        env,
        timeout,
        cancel,
        on_output=None,
        failed=None,
        on_result=None,
        on_start=None,
        record=None,
    ):
        results = []
        for host in hosts_of(target):
            if on_start is not None:
                on_start(host)
            result = CommandResult(
                render_command(template, values, host).display, host, 0, 0.0, dry_run=True
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def read_record(self, target, host, key, cancel):
        return HostRecord("absent")

    def kill_recorded(self, target, host, record, cancel):
        return "nothing to kill in a dry run"

    def evaluate(self, criterion, target, values, deadline, attempt, baseline=None):
        hosts = hosts_of(target) if target is not None and not target.is_local else (None,)
        return [
            CriterionResult(
                criterion.kind,
                subject,
                Outcome.PASS,
                describe_criterion(criterion),
                host=host,
                dry_run=True,
            )
            for host in hosts
            for subject in [_subject(criterion, values, host)]
        ]

    def close(self) -> None:
        pass


def _subject(criterion: model.Criterion, values: Mapping[str, str], host: str | None) -> str:
    if isinstance(criterion, model.CommandCriterion):
        return render_command(criterion.command, values, host or "localhost").display
    return render_text(criterion.subject(), values, host)


def describe_criterion(criterion: model.Criterion) -> str:
    """What passing means, in words, for plans and dry runs."""
    if isinstance(criterion, model.HttpCriterion):
        expected = f"HTTP {criterion.status}" if criterion.status else "HTTP 2xx"
        body = (
            f" with body containing {criterion.body_contains!r}" if criterion.body_contains else ""
        )
        text = f"expects {expected}{body}"
    elif isinstance(criterion, model.PrometheusCriterion):
        text = f"expects value {criterion.expect.words()}"
        if criterion.baseline is not None and criterion.expect.relative is not None:
            text += f" ({_baseline_words(criterion.baseline)})"
    else:
        text = f"expects exit {criterion.exit}"
    if criterion.poll.within is not None:
        from runbook.durations import format_duration

        text += f", retried every {format_duration(criterion.poll.every)} for up to {format_duration(criterion.poll.within)}"
    return text


def _baseline_words(window: model.BaselineWindow) -> str:
    from runbook.durations import format_offset

    start, end = format_offset(window.start), format_offset(window.end)
    return f"measured at {end}: the average over {start}..{end}"
