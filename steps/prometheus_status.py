"""How often Prometheus really scrapes: the number a guard's time to detect starts from.

The targets API says it per target (``scrapeInterval``); the configuration
API gives the global default as YAML text. Both are read defensively: any
odd answer is a reason, never an exception, because ``preflight`` must keep
going and say what it could not learn.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from runbook.durations import parse_duration
from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed

_GLOBAL_INTERVAL = re.compile(r"^global:\s*\n(?:[ \t]+.*\n)*?[ \t]+scrape_interval:\s*(\S+)", re.M)


def scrape_interval(
    session: HttpSession, base_url: str, deadline: Deadline
) -> tuple[timedelta | None, str]:
    """The longest scrape interval of the active targets, else the global one; or why unknown.

    The longest, because a guard may read any of those targets and its
    worst case is the slowest one.
    """
    targets, why_not = _json(session, base_url, "/api/v1/targets", deadline)
    intervals = _target_intervals(targets)
    if intervals:
        return max(intervals), "from the active targets' scrapeInterval"
    config, config_problem = _json(session, base_url, "/api/v1/status/config", deadline)
    text = config.get("data", {}).get("yaml") if isinstance(config, dict) else None
    if isinstance(text, str):
        match = _GLOBAL_INTERVAL.search(text + "\n")
        if match:
            try:
                return parse_duration(match.group(1)), "from the configuration's global section"
            except ValueError:
                pass
        return timedelta(minutes=1), "Prometheus' default (no global scrape_interval set)"
    return None, why_not or config_problem or "no scrape interval in Prometheus' answers"


def _target_intervals(payload: Any) -> list[timedelta]:
    data = payload.get("data") if isinstance(payload, dict) else None
    active = data.get("activeTargets") if isinstance(data, dict) else None
    found = []
    for target in active if isinstance(active, list) else []:
        raw = target.get("scrapeInterval") if isinstance(target, dict) else None
        if isinstance(raw, str):
            try:
                found.append(parse_duration(raw))
            except ValueError:
                continue
    return [interval for interval in found if interval > timedelta(0)]


def _json(session: HttpSession, base_url: str, path: str, deadline: Deadline) -> tuple[Any, str]:
    try:
        answer = session.get(base_url.rstrip("/") + path, deadline=deadline)
    except RequestFailed as failure:
        return None, f"cannot read {path}: {failure}"
    try:
        return answer.json(), ""
    except ValueError:
        return None, f"{path} answered HTTP {answer.status_code} without JSON"
