"""The journal's vocabulary: its one time format (and, as it grows, the declared events)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: the journal's one time format."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(stamp: str) -> datetime:
    """The inverse of ``iso``: a journal time stamp back to an aware ``datetime``."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
