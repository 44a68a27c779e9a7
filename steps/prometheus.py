"""Prometheus queries read defensively: one number (or one series of them), or why there is none.

Whatever answers at the URL (Prometheus, a proxy, a load balancer's error
page) may send anything: ``[]``, ``null``, ``"x"``, ``{"data": 5}``, HTML.
Every shape that is not one clean sample is a reason, never an exception,
so a guard turns inconclusive instead of dying, and nothing is a pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed

Reading = tuple[float | None, str]
"""(value, "") or (None, why there is no value)."""


def instant_query(
    session: HttpSession,
    base_url: str,
    query: str,
    deadline: Deadline,
    at: datetime | None = None,
) -> Reading:
    """Run an instant query within ``deadline``; ``at`` evaluates it at a past moment (``time=``)."""
    params = {"query": query}
    if at is not None:
        params["time"] = _unix(at)
    payload, status, problem = _get_json(session, base_url, "/api/v1/query", params, deadline)
    if problem:
        return None, problem
    return parse_instant(payload, status)


@dataclass(frozen=True)
class RangeReading:
    """A ``query_range`` answer: the one series' points (time, value or None, why not), or why none.

    ``points`` is None when the answer as a whole is unusable (then ``problem``
    says why); an empty tuple is a clean answer with no data in the range.
    """

    points: tuple[tuple[datetime, float | None, str], ...] | None
    problem: str = ""


def range_query(
    session: HttpSession,
    base_url: str,
    query: str,
    *,
    start: datetime,
    end: datetime,
    step_seconds: float,
    deadline: Deadline,
) -> RangeReading:
    """Evaluate ``query`` at ``start``, ``start + step``, ... up to ``end``, in one request.

    Prometheus evaluates a range query as the same instant query at each step,
    so each point is what a guard sampling at that moment would have read.
    """
    params = {
        "query": query,
        "start": _unix(start),
        "end": _unix(max(start, end)),
        "step": f"{step_seconds:.3f}".rstrip("0").rstrip("."),
    }
    payload, status, problem = _get_json(session, base_url, "/api/v1/query_range", params, deadline)
    if problem:
        return RangeReading(None, problem)
    return parse_range(payload, status)


def parse_range(payload: Any, http_status: int = 200) -> RangeReading:
    """The one series of a ``query_range`` answer, checked at every level like ``parse_instant``.

    A point whose value cannot be read (NaN, garbage) stays in the series with
    its reason: it is an inconclusive sample, not a hole to paper over.
    """
    result, problem = _result(payload, http_status)
    if problem:
        return RangeReading(None, problem)
    kind, series = result
    if kind != "matrix":
        return RangeReading(
            None, f"unsupported result type {_excerpt(repr(kind))} (expected a matrix)"
        )
    if not isinstance(series, list):
        return RangeReading(None, f"malformed matrix result ({_kind(series)})")
    if not series:
        return RangeReading(())
    if len(series) > 1:
        return RangeReading(
            None, f"query returned {len(series)} series; aggregate it (e.g. sum(...)) to one"
        )
    values = series[0].get("values") if isinstance(series[0], dict) else None
    if not isinstance(values, list):
        return RangeReading(None, f"malformed series ('values' is {_kind(values)})")
    points = []
    for pair in values:
        if not (isinstance(pair, list) and len(pair) == 2) or not _is_number(pair[0]):
            return RangeReading(None, f"malformed point ({_kind(pair)})")
        value, why = to_number(pair[1])
        points.append((datetime.fromtimestamp(float(pair[0]), UTC), value, why))
    return RangeReading(tuple(sorted(points, key=lambda point: point[0])))


def _get_json(
    session: HttpSession,
    base_url: str,
    path: str,
    params: Mapping[str, str],
    deadline: Deadline,
) -> tuple[Any, int, str]:
    """(payload, HTTP status, "") or (None, status, why there is no JSON answer)."""
    url = base_url.rstrip("/") + path
    try:
        answer = session.get(url, deadline=deadline, params=params)
    except RequestFailed as failure:
        if failure.timed_out:
            return None, 0, f"Prometheus gave no complete answer in time ({failure})"
        return None, 0, f"cannot reach Prometheus: {failure}"
    try:
        return answer.json(), answer.status_code, ""
    except ValueError:
        return (
            None,
            answer.status_code,
            f"Prometheus answered HTTP {answer.status_code} without JSON "
            f"({_excerpt(session.redact(answer.text))})",
        )


def _result(payload: Any, http_status: int) -> tuple[tuple[Any, Any], str]:
    """(resultType, result) of a successful answer, or why the answer is not one."""
    if not isinstance(payload, dict):
        return (None, None), f"not a Prometheus answer (HTTP {http_status}, JSON {_kind(payload)})"
    if payload.get("status") != "success":
        error = payload.get("error") or payload.get("errorType") or f"HTTP {http_status}"
        return (None, None), f"query error: {_excerpt(str(error))}"
    data = payload.get("data")
    if not isinstance(data, dict):
        return (None, None), f"not a Prometheus answer ('data' is {_kind(data)})"
    return (data.get("resultType"), data.get("result")), ""


def parse_instant(payload: Any, http_status: int = 200) -> Reading:
    """The one sample of an instant-query answer, checked at every level.

    A vector of several series is refused: comparing "the first" of an
    unordered set would make the verdict depend on luck. Aggregate instead.
    """
    (kind, result), problem = _result(payload, http_status)
    if problem:
        return None, problem
    if kind == "scalar":
        if not (isinstance(result, list) and len(result) == 2):
            return None, f"malformed scalar result ({_kind(result)})"
        return to_number(result[1])
    if kind != "vector":
        return (
            None,
            f"unsupported result type {_excerpt(repr(kind))} (use an instant vector or scalar)",
        )
    if not isinstance(result, list):
        return None, f"malformed vector result ({_kind(result)})"
    if not result:
        return None, "no data (empty result)"
    if len(result) > 1:
        return None, f"query returned {len(result)} series; aggregate it (e.g. sum(...)) to one"
    sample = result[0].get("value") if isinstance(result[0], dict) else None
    if not (isinstance(sample, list) and len(sample) == 2):
        return None, f"malformed sample ({_kind(sample)})"
    return to_number(sample[1])


def to_number(raw: Any) -> Reading:
    """A sample value as Prometheus writes it (a string) to a float; NaN means no value."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None, f"unreadable sample ({_kind(raw)})"
    try:
        value = float(raw)
    except ValueError:
        return None, f"unreadable sample {_excerpt(repr(raw))}"
    if math.isnan(value):
        return None, "value is NaN (no traffic to divide by?)"
    return value, ""


def _unix(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _is_number(raw: Any) -> bool:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return False
    try:
        return math.isfinite(float(raw))
    except ValueError:
        return False


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "an array", dict: "an object", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
