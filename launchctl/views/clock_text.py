"""Times for people: the wall clock first, and in a rehearsal the launch clock beside it.

Every journaled event has ``ts``, the wall-clock moment it was written, and, in a
rehearsal (``--speed`` other than 1, a dry run, a dry drill), ``clock``: where the
launch's own clock stood then. A person reading a log, ``status`` or the record
wants to know when things really happened and how long they really took, so
every view prints ``ts`` (``16:21:15``) and adds the launch clock only where
there is one (``16:21:15 (launch 17:25:17)``). Durations are real seconds, from
``ts`` to ``ts``: eight seconds of work at ``--speed 60`` is 8 s, never 480 s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from launchctl.journal.catalogue import parse_iso


def moment(stamp: Any) -> datetime | None:
    """A journal time stamp as an aware ``datetime`` (None for nothing or garbage)."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return parse_iso(stamp)
    except ValueError:
        return None


def hms(stamp: str | datetime | None) -> str:
    """``16:21:15`` in the local time zone, ``—`` for no time."""
    when = stamp if isinstance(stamp, datetime) else moment(stamp)
    return when.astimezone().strftime("%H:%M:%S") if when else "—"


def wall_and_launch(wall: str | datetime | None, launch: str | datetime | None) -> str:
    """``16:21:15 (launch 17:25:17)`` when there is a launch clock, ``16:21:15`` otherwise."""
    text = hms(wall)
    if launch is None or wall is None:
        return text
    return f"{text} (launch {hms(launch)})"


def event_time(event: dict[str, Any]) -> str:
    """When an event was written, as ``wall_and_launch`` says it."""
    return wall_and_launch(event.get("ts"), event.get("clock"))


def elapsed(start: str | None, end: str | None) -> float | None:
    """Real seconds from one wall-clock stamp to another (None when either is missing)."""
    a, b = moment(start), moment(end)
    return round((b - a).total_seconds(), 3) if a and b else None


def rehearsal_speed(launch: dict[str, Any]) -> float | None:
    """How fast the launch clock ran against the wall clock: the ``--speed`` of a rehearsal,
    None for a dry run (its clock jumps) or a launch in real time."""
    if launch.get("dry_run"):
        return None
    speed = launch.get("speed")
    if isinstance(speed, int | float) and speed > 0 and speed != 1:
        return float(speed)
    return None


def is_rehearsal(launch: dict[str, Any]) -> bool:
    """A launch whose clock is not the wall clock: --speed, a dry run or a dry drill."""
    return bool(launch.get("dry_run")) or rehearsal_speed(launch) is not None


def slip_text(late_s: float | None, launch: dict[str, Any]) -> str:
    """How late a step started, in real seconds (the launch clock's figure beside it)."""
    if not late_s:
        return ""
    speed = rehearsal_speed(launch)
    if speed is None:
        return f"+{late_s:.0f}s"
    return f"+{late_s / speed:.0f}s (launch +{late_s:.0f}s)"


def clock_note(launch: dict[str, Any]) -> str | None:
    """One line saying what the times mean, for a rehearsal (None for a real-time launch)."""
    if launch.get("dry_run"):
        return "times: wall clock; (launch …) is the dry run's simulated launch clock"
    speed = rehearsal_speed(launch)
    if speed is not None:
        return f"times: wall clock; (launch …) is the launch clock, running ×{speed:g}"
    return None


def planned_wall(
    planned: str | None, anchor_wall: str | None, anchor_clock: str | None, speed: float | None
) -> datetime | None:
    """The wall-clock moment a rehearsal at ``speed`` was (or is) to reach launch time
    ``planned``, from one moment both clocks were read at (an event's ``ts`` and ``clock``).
    None for a dry run, whose launch clock jumps instead of running."""
    target, wall, launch = moment(planned), moment(anchor_wall), moment(anchor_clock)
    if speed is None or target is None or wall is None or launch is None:
        return None
    return wall + (target - launch) / speed
