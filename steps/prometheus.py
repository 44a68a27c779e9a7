"""Prometheus instant queries read defensively: one number, or why there is none.

Whatever answers at the URL (Prometheus, a proxy, a load balancer's error
page) may send anything: ``[]``, ``null``, ``"x"``, ``{"data": 5}``, HTML.
Every shape that is not one clean sample is a reason, never an exception,
so a guard turns inconclusive instead of dying, and nothing is a pass.
"""

from __future__ import annotations

import math
from typing import Any

from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed

Reading = tuple[float | None, str]
"""(value, "") or (None, why there is no value)."""


def instant_query(session: HttpSession, base_url: str, query: str, deadline: Deadline) -> Reading:
    """Run an instant query within ``deadline``."""
    url = base_url.rstrip("/") + "/api/v1/query"
    try:
        answer = session.get(url, deadline=deadline, params={"query": query})
    except RequestFailed as failure:
        if failure.timed_out:
            return None, f"Prometheus gave no complete answer in time ({failure})"
        return None, f"cannot reach Prometheus: {failure}"
    try:
        payload = answer.json()
    except ValueError:
        return (
            None,
            f"Prometheus answered HTTP {answer.status_code} without JSON ({_excerpt(answer.text)})",
        )
    return parse_instant(payload, answer.status_code)


def parse_instant(payload: Any, http_status: int = 200) -> Reading:
    """The one sample of an instant-query answer, checked at every level.

    A vector of several series is refused: comparing "the first" of an
    unordered set would make the verdict depend on luck. Aggregate instead.
    """
    if not isinstance(payload, dict):
        return None, f"not a Prometheus answer (HTTP {http_status}, JSON {_kind(payload)})"
    if payload.get("status") != "success":
        error = payload.get("error") or payload.get("errorType") or f"HTTP {http_status}"
        return None, f"query error: {_excerpt(str(error))}"
    data = payload.get("data")
    if not isinstance(data, dict):
        return None, f"not a Prometheus answer ('data' is {_kind(data)})"
    kind, result = data.get("resultType"), data.get("result")
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


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "an array", dict: "an object", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
