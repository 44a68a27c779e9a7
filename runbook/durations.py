"""Durations (``15m``, ``1h30m``, ``500ms``) and T-offsets (``T-60min``, ``T+0``, ``T+1h30m``).

Parsing is strict and bounded: a launch timeline spans hours, so anything past
``MAX_SPAN`` is a typo, not a plan, and is refused with a message rather than
turned into an overflow later. T0 is bounded the same way, so T0 plus any
offset is a time every clock, formatter and local-time conversion can hold.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MAX_SPAN = timedelta(days=30)
EARLIEST_T0 = datetime(1970, 1, 2, tzinfo=UTC)
LATEST_T0 = datetime(9998, 12, 31, tzinfo=UTC)

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "sec": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|sec|min|s|m|h|d)")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|sec|min|s|m|h|d))+$")
_OFFSET = re.compile(r"^T\s*([+-])\s*(.+)$")

DURATION_HINT = "use e.g. 30s, 15m, 1h30m"
OFFSET_HINT = "use e.g. T-60m, T-60min, T+0, T+1h30m"


def parse_duration(text: str | int | float) -> timedelta:
    """A duration from ``"1h30m"``-style text or a bare number of seconds.

    Raises ``ValueError`` with a user-facing message on anything else.
    """
    if isinstance(text, bool):
        raise ValueError(f"expected a duration, got {text!r} ({DURATION_HINT})")
    if isinstance(text, int | float):
        if text < 0 or text != text:
            raise ValueError(f"duration must be a non-negative number of seconds, got {text!r}")
        if text > MAX_SPAN.total_seconds():
            raise ValueError(f"duration of {text:g} seconds is longer than {_fmt_max()}")
        return timedelta(seconds=text)
    compact = text.strip().replace(" ", "")
    if compact == "0":
        return timedelta(0)
    if len(compact) > 40 or not _DURATION.match(compact):
        raise ValueError(f"invalid duration {text!r} ({DURATION_HINT})")
    total = timedelta(0)
    for number, unit in _PART.findall(compact):
        value = float(number)
        if value > MAX_SPAN / _UNITS[unit]:
            raise ValueError(f"duration {text!r} is longer than {_fmt_max()}")
        total += value * _UNITS[unit]
    if total > MAX_SPAN:
        raise ValueError(f"duration {text!r} is longer than {_fmt_max()}")
    return total


def parse_offset(text: str) -> timedelta:
    """A T-offset relative to go-live: ``T-60m`` -> -60 minutes, ``T+0`` -> 0."""
    if not isinstance(text, str):
        raise ValueError(f"expected a T-offset string, got {text!r} ({OFFSET_HINT})")
    stripped = text.strip()
    if stripped == "T":
        return timedelta(0)
    match = _OFFSET.match(stripped)
    if not match:
        raise ValueError(f"invalid offset {text!r} ({OFFSET_HINT})")
    sign, rest = match.groups()
    try:
        magnitude = parse_duration(rest)
    except ValueError as exc:
        if "longer than" in str(exc):
            raise ValueError(f"offset {text!r} is more than {_fmt_max()} from T0") from None
        raise ValueError(f"invalid offset {text!r} ({OFFSET_HINT})") from None
    return -magnitude if sign == "-" else magnitude


def format_duration(delta: timedelta) -> str:
    """Compact human form: ``1h30m``, ``45s``, ``250ms``, ``0s``."""
    total_ms = round(delta.total_seconds() * 1000)
    if total_ms < 0:
        return "-" + format_duration(-delta)
    if total_ms == 0:
        return "0s"
    if total_ms < 1000:
        return f"{total_ms}ms"
    seconds, ms = divmod(total_ms, 1000)
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or ms:
        parts.append(f"{secs}.{ms // 100}s" if ms and not hours and not minutes else f"{secs}s")
    return "".join(parts)


def format_offset(delta: timedelta) -> str:
    """``T-60m``, ``T+0``, ``T+1h30m``: the form the runbook uses."""
    if delta == timedelta(0):
        return "T+0"
    sign = "-" if delta < timedelta(0) else "+"
    return f"T{sign}{format_duration(abs(delta))}"


def _fmt_max() -> str:
    return f"{MAX_SPAN.days} days"


def t0_out_of_range(moment: datetime) -> str | None:
    """Why ``moment`` cannot be a T0 (the timeline around it would not fit a calendar), or None."""
    if EARLIEST_T0 <= moment <= LATEST_T0:
        return None
    return (
        f"T0 must fall between {EARLIEST_T0:%Y-%m-%d} and {LATEST_T0:%Y-%m-%d}, "
        "so that every step's time exists"
    )
