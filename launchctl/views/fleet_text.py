"""Per wave and per host, in words: what a fan-out step did and what a rollback step undid.

Read from the replayed journal alone (``StepRecord.hosts``, ``wave_plan``,
``waves``), for ``status``, the report and the drill summary. A short group of
hosts is named, a long one counted, so 100 hosts stay one line per wave.
"""

from __future__ import annotations

from typing import Any

from launchctl.journal.replay import HostRun, StepRecord

NAMED = 6  # a group of at most this many hosts is named, a larger one counted
_ORDER = ("ok", "failed", "interrupted", "in flight", "not started")


def host_state(run: HostRun | None) -> str:
    if run is None:
        return "not started"
    return "in flight" if run.status == "started" else run.status


def describe_hosts(hosts: list[str], runs: dict[str, HostRun]) -> str:
    """``14 ok; app9 failed; app10 in flight``: hosts grouped by state, in a fixed order."""
    groups: dict[str, list[str]] = {}
    for host in hosts:
        groups.setdefault(host_state(runs.get(host)), []).append(host)
    parts = []
    for state in sorted(groups, key=lambda s: _ORDER.index(s) if s in _ORDER else len(_ORDER)):
        names = groups[state]
        shown = ", ".join(names) if len(names) <= NAMED else str(len(names))
        recovered = [h for h in names if runs.get(h) is not None and runs[h].recovered]
        note = f" ({', '.join(recovered)} from the host's record)" if recovered else ""
        parts.append(f"{shown} {state}{note}")
    return "; ".join(parts)


def wave_lines(record: StepRecord) -> list[str]:
    """A fan-out launch step, wave by wave (or its hosts in one line when it had no waves)."""
    if record.wave_plan:
        return _planned_waves(record.wave_plan, record.hosts)
    if record.hosts:
        return [f"hosts: {describe_hosts(list(record.hosts), record.hosts)}"]
    return []


def _planned_waves(plan: list[list[str]], runs: dict[str, HostRun]) -> list[str]:
    lines: list[str] = []
    total = len(plan)
    idle: list[int] = []

    def flush() -> None:
        if not idle:
            return
        count = sum(len(plan[n - 1]) for n in idle)
        which = f"wave {idle[0]} of {total}" if len(idle) == 1 else f"waves {idle[0]}-{idle[-1]}"
        lines.append(f"{which}: not started ({count} host{'s' if count != 1 else ''})")
        idle.clear()

    for number, hosts in enumerate(plan, start=1):
        if not any(host in runs for host in hosts):
            idle.append(number)
            continue
        flush()
        lines.append(f"wave {number} of {total}: {describe_hosts(hosts, runs)}")
    flush()
    return lines


def undo_summary(record: StepRecord) -> str | None:
    """A rollback step that undid exactly the hosts touched: ``undid app2, app3 (wave 2); app1
    (wave 1)`` in the order it ran; one that ran on its whole target: ``ran on 20 hosts``."""
    if not record.wave_plan:
        return f"ran on {_done(list(record.hosts), record.hosts)}" if record.hosts else None
    parts = []
    for batch in record.wave_plan:
        waves = {record.hosts[h].wave for h in batch if h in record.hosts}
        wave = f" (wave {waves.pop()})" if len(waves) == 1 and None not in waves else ""
        parts.append(_done(batch, record.hosts) + wave)
    return "undid " + "; ".join(parts)


def _done(hosts: list[str], runs: dict[str, HostRun]) -> str:
    """The hosts that went fine (named, or counted when many), then any that did not."""
    ok = [h for h in hosts if host_state(runs.get(h)) == "ok"]
    other = [h for h in hosts if h not in ok]
    text = (", ".join(ok) if len(ok) <= NAMED else f"{len(ok)} hosts") if ok else ""
    if other:
        problems = describe_hosts(other, runs)
        text = f"{text}; {problems}" if text else problems
    return text


def hosts_data(record: StepRecord) -> dict[str, Any] | None:
    """The same, as data, for ``status --format json`` and the JSON report."""
    if not record.hosts and not record.wave_plan:
        return None
    return {
        "waves": record.wave_plan,
        "hosts": {
            host: {
                "status": run.status,
                "wave": run.wave,
                "exit_code": run.exit_code,
                "reason": run.reason,
                "recovered": run.recovered or None,
            }
            for host, run in record.hosts.items()
        },
        "wave_results": {
            str(number): {k: event.get(k) for k in ("status", "ok", "failed", "not_started")}
            for number, event in sorted(record.waves.items())
            if event["event"] == "wave_finished"
        },
    }
