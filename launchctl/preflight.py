"""``launchctl preflight``: prove the launch can run without touching anything.

Every secret present, every Prometheus query answering with one series of
data, every HTTP check's host answering, every notification channel's host
accepting a connection (nothing is posted), every SSH host reachable with a
trusted key and working auth. Printed as a table; exit 0 only when all pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from runbook import model
from runbook.resolve import resolve, stand_in_values
from runbook.templating import render, secret_refs
from steps.probes import Probe, SshProbe, probe_http, probe_notify, probe_prometheus

SSH_PROBES_AT_ONCE = 20
NOTIFY_PROBE_SECONDS = 5.0

PLACEHOLDER = "preflight"


def _values(runbook: model.Runbook) -> dict[str, str]:
    """Names that only exist during a launch get a stand-in so queries and URLs can be rendered."""
    return {
        **stand_in_values(runbook),
        "step.id": PLACEHOLDER,
        "host": "localhost",
        "rollback.reason": PLACEHOLDER,
        "rollback.trigger": PLACEHOLDER,
    }


def _criteria(runbook: model.Runbook) -> Iterator[model.Criterion]:
    """Every check the launch and its watch may run: steps', rollback's, roll-forward's, those
    between waves (on a step or a target) and the post-launch checkpoints'."""
    for action in (*runbook.steps, *runbook.rollback, *runbook.roll_forward):
        yield from action.check
        between = getattr(action, "between_waves", None)
        if between is not None:
            yield from between.check
    for target in runbook.targets.values():
        if target.between_waves is not None:
            yield from target.between_waves.check
    if runbook.checkpoints is not None:
        yield from runbook.checkpoints.check


def run_preflight(runbook: model.Runbook, environ: Mapping[str, str]) -> list[Probe]:
    runbook = resolve(runbook, stand_in_values(runbook))  # ssh paths, URLs: as the launch has them
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
    probes += _notify_probes(runbook, values, environ)
    probes += _ssh_probes(runbook)
    return probes


def _notify_probes(
    runbook: model.Runbook, values: dict[str, str], environ: Mapping[str, str]
) -> list[Probe]:
    probes = []
    for channel in runbook.notify:
        unset = [name for name, _ in secret_refs(channel.url) if not environ.get(name)]
        if unset:
            probes.append(Probe("notify", channel.kind, False, f"its URL needs secret {unset[0]}"))
            continue
        url = render(channel.url, values, environ)
        probes.append(probe_notify(channel.kind, url, NOTIFY_PROBE_SECONDS))
    return probes


def _prometheus_probes(
    runbook: model.Runbook, values: dict[str, str], environ: Mapping[str, str]
) -> list[Probe]:
    queries: dict[str, tuple[float, str | None]] = {}
    for guard in runbook.guards:
        queries.setdefault(
            render(guard.query, values), (guard.timeout.total_seconds(), guard.after)
        )
    for criterion in _criteria(runbook):
        if isinstance(criterion, model.PrometheusCriterion):
            queries.setdefault(
                render(criterion.query, values),
                (criterion.timeout.total_seconds(), criterion.after),
            )
    if not queries:
        return []
    unset = [name for name, _ in secret_refs(runbook.prometheus_url or "") if not environ.get(name)]
    if unset:
        return [
            Probe("prometheus", query, False, f"prometheus.url needs secret {unset[0]}")
            for query in queries
        ]
    url = render(runbook.prometheus_url or "", values, environ)
    return [
        probe_prometheus(url, query, timeout, after=after)
        for query, (timeout, after) in queries.items()
    ]


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


def _ssh_targets(runbook: model.Runbook) -> list[model.Target]:
    """SSH targets something runs on: a step's, rollback or roll-forward step's command, a
    command check."""
    used: list[str] = []
    for action in (*runbook.steps, *runbook.rollback, *runbook.roll_forward):
        if action.run:
            used.append(action.on)
    used += [c.on for c in _criteria(runbook) if isinstance(c, model.CommandCriterion)]
    names = dict.fromkeys(name for name in used if name in runbook.targets)
    return [runbook.targets[name] for name in names if not runbook.targets[name].is_local]


def _ssh_probes(runbook: model.Runbook) -> list[Probe]:
    """Every host of every SSH target used, connected as the launch would; nothing is run.

    A host listed by several targets with the same user and port is probed once.
    Under ``accept-new`` a host's new key is recorded here, as the launch would.
    """
    from steps.fanout import fan_out
    from steps.shells.ssh.pool import Endpoint, SshPool

    endpoints: dict[Endpoint, list[str]] = {}
    for target in _ssh_targets(runbook):
        for host in target.hosts:
            endpoints.setdefault(Endpoint(host, target.user, target.port), []).append(target.name)
    if not endpoints:
        return []
    from steps.probes import probe_ssh

    pool = SshPool(runbook.ssh, Path(runbook.source).absolute().parent)
    try:
        return fan_out(
            list(endpoints),
            lambda endpoint: probe_ssh(pool, endpoint, ",".join(endpoints[endpoint])),
            parallel=SSH_PROBES_AT_ONCE,
            allowed_failures=len(endpoints),
            failed=lambda probe: not probe.ok,
            skipped=lambda endpoint, why, _: SshProbe(
                "ssh", endpoint.alias, False, why, host=endpoint.alias
            ),
        )
    finally:
        pool.close()


def render_table(probes: list[Probe]) -> str:
    if not probes:
        return "nothing to check: no secrets, queries, HTTP checks or SSH hosts in this runbook"
    general = [p for p in probes if not isinstance(p, SshProbe)]
    hosts = [p for p in probes if isinstance(p, SshProbe)]
    lines: list[str] = []
    if general:
        lines += _columns(
            ("CHECK", "SUBJECT", "RESULT", "LATENCY", "DETAIL"),
            [
                (p.kind, _clip(p.subject), "ok" if p.ok else "FAIL", _latency(p), p.detail)
                for p in general
            ],
        )
    if hosts:
        if lines:
            lines.append("")
        lines += _columns(
            ("HOST", "REACHABLE", "KEY", "AUTH", "LATENCY", "DETAIL"),
            [(p.host, p.reachable, p.key, p.auth, _latency(p), p.detail) for p in hosts],
        )
    failed = sum(not p.ok for p in probes)
    lines.append("")
    lines.append(f"preflight: {len(probes) - failed} passed, {failed} failed")
    return "\n".join(lines)


def _columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns; the last (the detail) is not padded."""
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
        for row in table
    ]


def _latency(probe: Probe) -> str:
    if probe.latency_ms is None:
        return ""
    return f"{probe.latency_ms:.1f} ms" if probe.latency_ms < 10 else f"{probe.latency_ms:.0f} ms"


def _clip(subject: str) -> str:
    return subject if len(subject) <= 70 else subject[:67] + "..."
