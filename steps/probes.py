"""Read-only probes for ``preflight``: can we reach it, does it answer? Nothing is changed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed, reach
from steps.prometheus import instant_query

if TYPE_CHECKING:
    from steps.cancel import CancelToken
    from steps.shells.ssh.pool import Endpoint, SshConnection, SshPool


@dataclass(frozen=True)
class Probe:
    kind: str
    subject: str
    ok: bool
    detail: str
    latency_ms: float | None = None


def probe_http(url: str, timeout: float, session: HttpSession | None = None) -> Probe:
    """Any HTTP answer counts: before the launch a service may rightly say 503."""
    started = time.monotonic()
    try:
        answer = (session or HttpSession()).get(url, deadline=Deadline.after(timeout))
    except RequestFailed as failure:
        return Probe("http", url, False, f"no answer: {failure}")
    latency = (time.monotonic() - started) * 1000
    return Probe("http", url, True, f"answers (HTTP {answer.status_code})", latency)


def probe_notify(kind: str, url: str, timeout: float) -> Probe:
    """A notification channel's host accepts a connection; nothing is posted (a request would
    be a message in the channel). Named by host and port: the URL itself often holds a token."""
    started = time.monotonic()
    try:
        host, port = reach(url, Deadline.after(timeout))
    except RequestFailed as failure:
        return Probe("notify", kind, False, f"cannot reach its host: {failure}")
    latency = (time.monotonic() - started) * 1000
    return Probe("notify", f"{kind} {host}:{port}", True, "host reachable (nothing sent)", latency)


def probe_prometheus(
    base_url: str,
    query: str,
    timeout: float,
    session: HttpSession | None = None,
    after: str | None = None,
) -> Probe:
    """The query answers with data; with ``after``, an answer without data is what to expect."""
    started = time.monotonic()
    value, problem = instant_query(
        session or HttpSession(), base_url, query, Deadline.after(timeout)
    )
    latency = (time.monotonic() - started) * 1000
    if value is not None:
        return Probe("prometheus", query, True, f"answers with data (value {value:g})", latency)
    if after is not None and problem.startswith("no data"):
        return Probe(
            "prometheus", query, True, f"answers; no data before '{after}', as declared", latency
        )
    if problem.startswith("no data") and "/" in query:
        problem += (
            " -- a ratio is empty while its numerator has no series (no 5xx yet): add"
            " `or vector(0)` to the numerator, or `after: STEP` if the data comes later"
        )
    elif problem.startswith("no data"):
        problem += " -- if the data only appears during the launch, say so with `after: STEP`"
    return Probe("prometheus", query, False, problem, latency)


@dataclass(frozen=True)
class SshProbe(Probe):
    """One SSH host: could we reach it, do we trust its key, does auth work. Runs nothing."""

    host: str = ""
    reachable: str = "-"
    key: str = "-"
    auth: str = "-"


def probe_ssh(
    pool: SshPool, endpoint: Endpoint, targets: str, cancel: CancelToken | None = None
) -> SshProbe:
    """Connect as a launch would (same ssh_config, keys and host key policy) and measure the
    SSH round trip (keepalive requests the server answers without running anything); each
    keepalive waits at most ``connect_timeout``."""
    from steps.shells.ssh.deadlines import PhaseCancelled, PhaseExpired
    from steps.shells.ssh.pool import Interrupted, SshError

    subject = f"{targets}/{endpoint.alias}"
    try:
        connection = pool.connection(endpoint, cancel)
    except Interrupted:
        return SshProbe("ssh", subject, False, "interrupted", host=endpoint.alias)
    except SshError as error:
        reached = error.stage in ("key", "auth", "session")
        return SshProbe(
            "ssh",
            subject,
            False,
            error.reason,
            None,
            host=endpoint.alias,
            reachable="yes" if reached else ("no" if error.stage == "reach" else "-"),
            key=error.key_status or "-",
            auth="REFUSED" if error.stage == "auth" else "-",
        )
    key = "new, recorded" if connection.key_recorded else "trusted"
    try:
        latency = _keepalive_latency(pool, connection, cancel)
    except (PhaseExpired, PhaseCancelled, SshError) as stopped:
        detail = f"{endpoint.alias} ({connection.address}): {stopped}"
        return SshProbe(
            "ssh", subject, False, detail, host=endpoint.alias, reachable="yes", key=key, auth="ok"
        )
    detail = (
        f"{connection.address} (target {targets}), "
        f"connected in {connection.connect_seconds * 1000:.0f} ms"
    )
    if connection.key_recorded:
        detail += f"; key recorded in {pool.paths.known_hosts} (accept-new)"
    return SshProbe(
        "ssh",
        subject,
        True,
        detail,
        latency,
        host=endpoint.alias,
        reachable="yes",
        key=key,
        auth="ok",
    )


def _keepalive_latency(
    pool: SshPool, connection: SshConnection, cancel: CancelToken | None
) -> float:
    """The best of three keepalive round trips in ms, as ping would say it. A keepalive
    unanswered within ``connect_timeout`` drops the connection and raises ``PhaseExpired``."""
    from steps.shells.ssh.deadlines import KEEPALIVE, bounded
    from steps.shells.ssh.pool import SshError

    seconds = pool.paths.connect_timeout
    samples = []
    for _ in range(3):
        started = time.monotonic()
        bounded(
            lambda: connection.transport.global_request("keepalive@openssh.com", wait=True),
            phase=KEEPALIVE,
            seconds=seconds,
            cancel=cancel,
            abort=lambda: pool.discard(connection),
        )
        if not connection.alive:
            raise SshError("reach", f"{KEEPALIVE}: the connection was lost", phase=KEEPALIVE)
        samples.append((time.monotonic() - started) * 1000)
    return min(samples)
