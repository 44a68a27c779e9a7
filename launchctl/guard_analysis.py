"""Each guard's worst-case time to detect, and the warnings about it, for ``validate``, ``plan``
and ``preflight``. Without a Prometheus to ask, the scrape interval is Prometheus' default;
``preflight`` asks the real one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from rollback.detection import DEFAULT_SCRAPE, analyse
from runbook import model

ASSUMED = "assumed: Prometheus' default; preflight reads the real one"


def guard_analysis(
    book: model.Runbook, scrape: timedelta | None = None, source: str = ASSUMED
) -> tuple[list[str], list[str]]:
    """(one line per guard, warnings); warnings are printed as ``warning: ...`` on stderr."""
    lines, warnings = [], []
    if scrape is None and book.scrape_interval is not None:
        scrape, source = book.scrape_interval, "as the runbook's prometheus.scrape_interval says"
    for guard in book.guards:
        found = analyse(guard, scrape or DEFAULT_SCRAPE)
        lines.append(found.line(source))
        warnings += [f"warning: {text}" for text in found.warnings]
    return lines, warnings


def real_scrape_interval(
    book: model.Runbook, environ: Mapping[str, str]
) -> tuple[timedelta | None, str]:
    """The scrape interval the runbook's Prometheus reports, or (None, why not)."""
    from runbook.resolve import resolve, stand_in_values
    from steps.deadline import Deadline
    from steps.executor import prometheus_url
    from steps.http import HttpSession
    from steps.prometheus_status import scrape_interval

    values = stand_in_values(book)
    url = prometheus_url(resolve(book, values), values, environ)
    if not url:
        return None, "no prometheus url"
    session = HttpSession()
    try:
        return scrape_interval(session, url, Deadline.after(10))
    finally:
        session.close()
