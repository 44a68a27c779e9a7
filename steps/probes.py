"""Read-only probes for ``preflight``: can we reach it, does it answer? Nothing is changed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed
from steps.prometheus import instant_query

if TYPE_CHECKING:
    from steps.ssh_pool import Endpoint, SshPool


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


def probe_prometheus(
    base_url: str, query: str, timeout: float, session: HttpSession | None = None
) -> Probe:
    started = time.monotonic()
    value, problem = instant_query(
        session or HttpSession(), base_url, query, Deadline.after(timeout)
    )
    latency = (time.monotonic() - started) * 1000
    if value is None:
        return Probe("prometheus", query, False, problem, latency)
    return Probe("prometheus", query, True, f"answers with data (value {value:g})", latency)


@dataclass(frozen=True)
class SshProbe(Probe):
    """One SSH host: could we reach it, do we trust its key, does auth work. Runs nothing."""

    host: str = ""
    reachable: str = "-"
    key: str = "-"
    auth: str = "-"


def probe_ssh(pool: SshPool, endpoint: Endpoint, targets: str) -> SshProbe:
    """Connect as a launch would (same ssh_config, keys and host key policy) and measure the
    SSH round trip (keepalive requests the server answers without running anything)."""
    from steps.ssh_pool import SshError

    subject = f"{targets}/{endpoint.alias}"
    try:
        connection = pool.connection(endpoint)
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
    samples = []
    for _ in range(3):  # the best of three, as ping would say it
        started = time.monotonic()
        connection.transport.global_request("keepalive@openssh.com", wait=True)
        samples.append((time.monotonic() - started) * 1000)
    latency = min(samples)
    key = "new, recorded" if connection.key_recorded else "trusted"
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
