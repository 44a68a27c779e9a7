"""A fan-out step's hosts as the engine sees them: its waves, and on resume what the journal and
each host's own record say (``steps.host_records``), so only what must run runs again."""

from __future__ import annotations

from launchctl.engine.loop import LaunchLoop
from launchctl.journal.replay import StepRecord
from runbook import model
from steps.executor import Executor
from steps.host_plan import HostPlan, launch_plan
from steps.host_records import RecordKey
from steps.results import CommandResult

# A host whose command the driver stopped itself (a pause) is no failure: on resume its record
# on the host says whether it ended meanwhile, still runs, or must run again.
INTERRUPTED = "interrupted"


def host_plan(
    runbook: model.Runbook,
    step: model.Step,
    resumed: StepRecord | None,
    fail_wave: int | None,
) -> HostPlan | None:
    """The hosts of a step with ``run`` on an SSH target (None otherwise): its waves, and for a
    resumed step the hosts the journal shows finished (not run again, their verdicts kept) and
    those in flight (their record on the host is read first)."""
    if step.run is None or runbook.target(step.on).is_local:
        return None
    done: dict[str, CommandResult] = {}
    in_flight: list[str] = []
    for host, run in (resumed.hosts if resumed is not None else {}).items():
        if not run.finished or run.status == INTERRUPTED:
            in_flight.append(host)  # a pause's kill may not have finished it: ask its record
            continue
        error = None if run.status == "ok" else (run.reason or run.status)
        done[host] = CommandResult("", host, run.exit_code, 0.0, error=error)
    return launch_plan(runbook, step, done=done, in_flight=in_flight, fail_wave=fail_wave)


def hosts_in_flight(
    loop: LaunchLoop,
    executor: Executor,
    runbook: model.Runbook,
    key: RecordKey,
    step: model.Step,
    record: StepRecord,
) -> str | None:
    """For the resume question: how many hosts had finished, and what each host that was in
    flight says of its command (read from its record through the loop, guards watching)."""
    if not record.hosts:
        return None
    finished = [h for h, run in record.hosts.items() if run.finished and run.status != INTERRUPTED]
    flying = [h for h, run in record.hosts.items() if h not in finished]
    target = runbook.fan_out_target(step)
    said = loop.run(
        lambda cancel: {host: executor.read_record(target, host, key, cancel) for host in flying},
        step.id,
    )
    parts = [f"{len(finished)} host{'s' if len(finished) != 1 else ''} finished (not run again)"]
    parts += [f"{host}: {said[host].describe()}" for host in flying]
    return "; ".join(parts)
