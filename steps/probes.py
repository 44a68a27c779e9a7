"""Read-only probes for ``preflight``: can we reach it, does it answer? Nothing is changed."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from steps.criteria import query_prometheus


@dataclass(frozen=True)
class Probe:
    kind: str
    subject: str
    ok: bool
    detail: str
    latency_ms: float | None = None


def probe_http(url: str, timeout: float) -> Probe:
    """Any HTTP answer counts: before the launch a service may rightly say 503."""
    import httpx

    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        return Probe(
            "http",
            url,
            False,
            f"no answer: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
        )
    except ValueError as exc:
        return Probe("http", url, False, f"bad URL: {exc}")
    latency = (time.monotonic() - started) * 1000
    return Probe("http", url, True, f"answers (HTTP {response.status_code})", latency)


def probe_prometheus(base_url: str, query: str, timeout: float) -> Probe:
    started = time.monotonic()
    value, problem = query_prometheus(base_url, query, timeout)
    latency = (time.monotonic() - started) * 1000
    if value is None or math.isnan(value):
        return Probe("prometheus", query, False, problem, latency)
    return Probe("prometheus", query, True, f"answers with data (value {value:g})", latency)
