"""T0 and the timeline: when each step is due, in launch time.

``--t0`` accepts ISO 8601, ``HH:MM`` (today, local time), ``now`` and ``+90m``;
without it the runbook's ``t0`` applies, else T0 is set so the first step is
due now.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from runbook import model
from runbook.durations import parse_duration, t0_out_of_range
from runbook.errors import InputError

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
T0_HINT = "use ISO 8601 (2026-12-01T14:00:00Z), HH:MM (today, local time), now, or +90m"


def parse_t0(text: str, now: datetime) -> datetime:
    """``now`` must be timezone-aware; the result always is, and within ``t0_out_of_range``."""
    moment = _parse_t0(text, now)
    problem = t0_out_of_range(moment)
    if problem is not None:
        raise InputError(f"--t0 {text!r}: out of range; {problem}")
    return moment


def _parse_t0(text: str, now: datetime) -> datetime:
    value = text.strip()
    if value == "now":
        return now
    if value.startswith("+"):
        try:
            return now + parse_duration(value[1:])
        except (ValueError, OverflowError):
            raise InputError(f"--t0 {text!r}: {T0_HINT}") from None
    match = _HHMM.match(value)
    if match:
        local_now = now.astimezone()
        return local_now.replace(
            hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--t0 {text!r}: {T0_HINT}") from None
    try:
        return moment if moment.tzinfo else moment.astimezone()
    except (
        OverflowError,
        OSError,
        ValueError,
    ):  # no local time that far out: say why, not how to spell it
        return moment.replace(tzinfo=UTC)


def resolve_t0(option: str | None, runbook: model.Runbook, now: datetime) -> datetime:
    if option:
        return parse_t0(option, now)
    if runbook.t0 is not None:
        return runbook.t0
    return now - runbook.steps[0].at
