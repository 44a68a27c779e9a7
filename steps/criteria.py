"""Success criteria, each evaluated once into a pass / fail / inconclusive value.

Inconclusive is never a pass: a query error, an empty result, NaN or a
timeout means *we do not know*, and callers must treat it that way.
"""

from __future__ import annotations

import math
import time
from typing import Any

from runbook.comparison import Comparison
from steps.http import HttpSession
from steps.results import CriterionResult, Outcome

BODY_EXCERPT = 200


def evaluate_http(
    url: str,
    *,
    status: int | None,
    body_contains: str | None,
    timeout: float,
    host: str | None = None,
    attempt: int = 1,
    session: HttpSession | None = None,
) -> CriterionResult:
    """GET ``url``: pass on the expected status (default any 2xx) and body text."""
    import httpx

    started = time.monotonic()

    def result(outcome: Outcome, reason: str, value: Any = None) -> CriterionResult:
        return CriterionResult(
            "http", url, outcome, reason, value, host, attempt, time.monotonic() - started
        )

    try:
        response = _session(session).get(url, timeout=timeout)
    except httpx.TimeoutException:
        return result(Outcome.INCONCLUSIVE, f"no answer within {timeout:g}s")
    except httpx.ConnectError as exc:
        return result(Outcome.FAIL, f"cannot connect: {_short(exc)}")
    except (httpx.HTTPError, ValueError) as exc:
        return result(Outcome.FAIL, f"request failed: {_short(exc)}")
    code = response.status_code
    status_ok = code == status if status is not None else 200 <= code < 300
    expected = str(status) if status is not None else "2xx"
    if not status_ok:
        return result(Outcome.FAIL, f"HTTP {code}, expected {expected}", code)
    if body_contains is not None and body_contains not in response.text:
        excerpt = response.text[:BODY_EXCERPT].replace("\n", " ")
        return result(
            Outcome.FAIL, f"HTTP {code} but body lacks {body_contains!r}: {excerpt!r}", code
        )
    return result(Outcome.PASS, f"HTTP {code}", code)


def query_prometheus(
    base_url: str, query: str, timeout: float, session: HttpSession | None = None
) -> tuple[float | None, str]:
    """Run an instant query; returns (value, "") or (None, why there is no value).

    A vector of several series is refused: comparing "the first" of an
    unordered set would make the verdict depend on luck. Aggregate instead.
    """
    import httpx

    url = base_url.rstrip("/") + "/api/v1/query"
    try:
        response = _session(session).get(url, timeout=timeout, params={"query": query})
    except httpx.TimeoutException:
        return None, f"Prometheus did not answer within {timeout:g}s"
    except httpx.HTTPError as exc:
        return None, f"cannot reach Prometheus: {_short(exc)}"
    try:
        payload = response.json()
    except ValueError:
        return None, f"Prometheus answered HTTP {response.status_code} without JSON"
    if payload.get("status") != "success":
        return (
            None,
            f"query error: {payload.get('error') or payload.get('errorType') or response.status_code}",
        )
    data = payload.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        raw = result[1] if isinstance(result, list) and len(result) == 2 else None
    elif kind == "vector":
        if not result:
            return None, "no data (empty result)"
        if len(result) > 1:
            return None, f"query returned {len(result)} series; aggregate it (e.g. sum(...)) to one"
        raw = result[0].get("value", [None, None])[1]
    else:
        return None, f"unsupported result type {kind!r} (use an instant vector or scalar)"
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None, f"unreadable sample {raw!r}"
    if math.isnan(value):
        return None, "value is NaN (no traffic to divide by?)"
    return value, ""


def evaluate_prometheus(
    base_url: str,
    query: str,
    expect: Comparison,
    *,
    timeout: float,
    attempt: int = 1,
    session: HttpSession | None = None,
) -> CriterionResult:
    started = time.monotonic()
    value, problem = query_prometheus(base_url, query, timeout, session)
    duration = time.monotonic() - started
    if value is None:
        return CriterionResult(
            "prometheus", query, Outcome.INCONCLUSIVE, problem, None, None, attempt, duration
        )
    holds = expect.holds(value)
    outcome = Outcome.PASS if holds else Outcome.FAIL
    verb = "meets" if holds else "does not meet"
    return CriterionResult(
        "prometheus", query, outcome, f"{value:g} {verb} {expect}", value, None, attempt, duration
    )


_ONE_OFF = HttpSession()


def _session(session: HttpSession | None) -> HttpSession:
    """The launch's shared session, or one kept for callers that make a single probe."""
    return session if session is not None else _ONE_OFF


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
