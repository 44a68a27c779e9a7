"""Success criteria, each evaluated once into a pass / fail / inconclusive value.

Inconclusive is never a pass: a query error, an empty result, NaN or a
timeout means *we do not know*, and callers must treat it that way.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from runbook.comparison import Comparison
from steps.baseline import Baseline
from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed
from steps.prometheus import instant_query
from steps.results import CriterionResult, Outcome

BODY_EXCERPT = 200


def evaluate_http(
    url: str,
    *,
    status: int | None,
    body_contains: str | None,
    deadline: Deadline,
    session: HttpSession,
    host: str | None = None,
    attempt: int = 1,
) -> CriterionResult:
    """GET ``url`` within ``deadline``: pass on the expected status (default any 2xx) and body text.

    No complete answer by the deadline is a failure of the check, saying so.
    """
    started = time.monotonic()

    def result(outcome: Outcome, reason: str, value: Any = None) -> CriterionResult:
        return CriterionResult(
            "http", url, outcome, reason, value, host, attempt, time.monotonic() - started
        )

    try:
        answer = session.get(url, deadline=deadline)
    except RequestFailed as failure:
        if failure.timed_out:
            waited = time.monotonic() - started
            return result(
                Outcome.INCONCLUSIVE, f"no complete answer within {waited:.3g}s ({failure})"
            )
        return result(Outcome.FAIL, str(failure))
    code = answer.status_code
    status_ok = code == status if status is not None else 200 <= code < 300
    expected = str(status) if status is not None else "2xx"
    if not status_ok:
        return result(Outcome.FAIL, f"HTTP {code}, expected {expected}", code)
    if body_contains is not None and body_contains not in answer.text:
        excerpt = session.redact(answer.text)[:BODY_EXCERPT].replace("\n", " ")
        return result(
            Outcome.FAIL, f"HTTP {code} but body lacks {body_contains!r}: {excerpt!r}", code
        )
    return result(Outcome.PASS, f"HTTP {code}", code)


def evaluate_prometheus(
    base_url: str,
    query: str,
    expect: Comparison,
    *,
    deadline: Deadline,
    session: HttpSession,
    attempt: int = 1,
    baseline: Baseline | None = None,
    at: datetime | None = None,
) -> CriterionResult:
    """The query's value (now, or ``at`` a past moment) against ``expect``; a relative ``expect``
    against ``baseline``, and without a usable one the check is inconclusive, never a pass."""
    started = time.monotonic()

    def result(outcome: Outcome, reason: str, value: float | None = None) -> CriterionResult:
        duration = time.monotonic() - started
        return CriterionResult("prometheus", query, outcome, reason, value, None, attempt, duration)

    measured = baseline.value if baseline is not None else None
    fixed, why = expect.against(measured)
    if fixed is None:
        reason = baseline.reason if baseline is not None and baseline.reason else why
        return result(Outcome.INCONCLUSIVE, f"no usable baseline: {reason}")
    value, problem = instant_query(session, base_url, query, deadline, at=at)
    if value is None:
        return result(Outcome.INCONCLUSIVE, problem)
    holds = fixed.holds(value)
    verb = "meets" if holds else "does not meet"
    return result(
        Outcome.PASS if holds else Outcome.FAIL,
        f"{value:g} {verb} {expect.describe(measured)}",
        value,
    )
