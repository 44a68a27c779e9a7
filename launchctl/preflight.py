"""``launchctl preflight``: prove the launch can run without touching anything.

Every secret present, every Prometheus query answering with one series of
data, every HTTP check's host answering, every SSH host reachable with a
trusted key and working auth. Printed as a table; exit 0 only when all pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from runbook import model
from runbook.templating import render
from steps.probes import Probe, probe_http, probe_prometheus

PLACEHOLDER = "preflight"


def _values(runbook: model.Runbook) -> dict[str, str]:
    """Names that only exist during a launch get a stand-in so queries and URLs can be rendered."""
    return {
        **runbook.vars,
        "t0": PLACEHOLDER,
        "launch.id": PLACEHOLDER,
        "launch.name": runbook.name,
        "step.id": PLACEHOLDER,
        "host": "localhost",
        "rollback.reason": PLACEHOLDER,
        "rollback.trigger": PLACEHOLDER,
    }


def _criteria(runbook: model.Runbook) -> Iterator[model.Criterion]:
    for action in (*runbook.steps, *runbook.rollback):
        yield from action.check


def run_preflight(runbook: model.Runbook, environ: Mapping[str, str]) -> list[Probe]:
    values = _values(runbook)
    probes = [
        Probe(
            "secret",
            name,
            bool(environ.get(name)),
            "set" if environ.get(name) else "not set in the environment",
        )
        for name in runbook.secrets
    ]
    probes += _prometheus_probes(runbook, values, environ)
    probes += _http_probes(runbook, values)
    probes += _ssh_probes(runbook)
    return probes


def _prometheus_probes(
    runbook: model.Runbook, values: dict[str, str], environ: Mapping[str, str]
) -> list[Probe]:
    queries: dict[str, float] = {}
    for guard in runbook.guards:
        queries.setdefault(render(guard.query, values), guard.timeout.total_seconds())
    for criterion in _criteria(runbook):
        if isinstance(criterion, model.PrometheusCriterion):
            queries.setdefault(render(criterion.query, values), criterion.timeout.total_seconds())
    if not queries:
        return []
    from runbook.templating import expand_secrets

    try:
        url = expand_secrets(render(runbook.prometheus_url or "", values), environ)
    except KeyError as exc:
        return [
            Probe("prometheus", query, False, f"prometheus.url needs secret {exc.args[0]}")
            for query in queries
        ]
    return [probe_prometheus(url, query, timeout) for query, timeout in queries.items()]


def _http_probes(runbook: model.Runbook, values: dict[str, str]) -> list[Probe]:
    urls: dict[str, float] = {}
    for criterion in _criteria(runbook):
        if isinstance(criterion, model.HttpCriterion):
            targets = (
                runbook.target(criterion.on).hosts
                if criterion.on and criterion.on != model.LOCAL
                else ("localhost",)
            )
            for host in targets:
                urls.setdefault(
                    render(criterion.url, {**values, "host": host}),
                    criterion.timeout.total_seconds(),
                )
    return [probe_http(url, timeout) for url, timeout in urls.items()]


def _ssh_probes(runbook: model.Runbook) -> list[Probe]:
    used = {action.on for action in (*runbook.steps, *runbook.rollback)}
    used |= {c.on for c in _criteria(runbook) if c.on}
    probes = []
    for name in sorted(used):
        target = runbook.target(name)
        if target.is_local:
            continue
        probes += [
            Probe(
                "ssh",
                f"{name}/{host}",
                False,
                "SSH transport is not available in this build of launchctl",
            )
            for host in target.hosts
        ]
    return probes


def render_table(probes: list[Probe]) -> str:
    if not probes:
        return "nothing to check: no secrets, queries, HTTP checks or SSH hosts in this runbook"
    rows = [("CHECK", "SUBJECT", "RESULT", "LATENCY", "DETAIL")]
    for probe in probes:
        latency = f"{probe.latency_ms:.0f} ms" if probe.latency_ms is not None else ""
        subject = probe.subject if len(probe.subject) <= 70 else probe.subject[:67] + "..."
        rows.append((probe.kind, subject, "ok" if probe.ok else "FAIL", latency, probe.detail))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ]
    failed = sum(not p.ok for p in probes)
    lines.append("")
    lines.append(f"preflight: {len(probes) - failed} passed, {failed} failed")
    return "\n".join(lines)
