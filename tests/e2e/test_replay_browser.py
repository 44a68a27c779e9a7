"""The HTML outputs in a real headless Chromium: the replay page and the launch record draw each
guard's series against its threshold, the window shaded, breach and action marked; no console
errors and no network request. Screenshots are kept under pytest's tmp dir (path printed)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from browser import open_page
from history_prometheus import INCIDENT
from test_launchctl_guards import _guarded

from launchctl.journal.catalogue import iso

CHART_PARTS = (".series", ".threshold", ".window", ".breach-marker", ".action-marker")
RATIO = (
    'sum(rate(http_requests_total{service="shop",code=~"5.."}[1m]))'
    ' / sum(rate(http_requests_total{service="shop"}[1m]))'
)


def _check_page(html: Path, screenshot: Path, guards: int) -> None:
    with open_page(html) as visit:
        assert visit.console_errors == []
        assert all(url.startswith(("file:", "data:")) for url in visit.requests), visit.requests
        assert visit.count("svg.guard-chart") == guards
        for part in CHART_PARTS:
            assert visit.count(f"svg.guard-chart {part}") >= 1, part
            box = visit.page.locator(f"svg.guard-chart {part}").first.bounding_box()
            assert box is not None and box["width"] + box["height"] > 0, (
                part
            )  # drawn, not swallowed
        labels = visit.page.locator("svg.guard-chart text")
        assert labels.count() >= 6 and labels.first.is_visible()  # axis labels are drawn
        box = visit.page.locator("svg.guard-chart").first.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 60
        visit.page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 5000


def test_replay_html_draws_each_guard_in_a_real_browser(cli, write_runbook, history, tmp_path):
    path = write_runbook(
        "version: 1\nname: shop launch\n"
        f'prometheus: {{url: "{history.url}"}}\n'
        'steps:\n  - {id: golive, at: T+0, run: "true"}\n'
        "guards:\n"
        f"  - {{id: error-rate, prometheus: '{RATIO}', breach: \"> 0.05\", for: 30s,"
        " during: [T+0, T+30m]}\n"
        f"  - {{id: relaxed, prometheus: '{RATIO}', breach: \"> 0.15\", for: 5m,"
        " during: [T+0, T+30m], then: warn}\n"
    )
    page = tmp_path / "replay.html"
    result = cli("replay", path, "--t0", iso(history.t0), "--format", "html", "-o", page)
    assert result.exit_code == 1, result.stderr
    assert page.stat().st_mode & 0o777 == 0o600  # private, like a report
    text = page.read_text()
    assert "would have rolled back at T+12m45s" in text
    assert INCIDENT.total_seconds() == 720
    _check_page(page, tmp_path / "replay.png", guards=2)


def test_launch_record_html_charts_the_breach_and_marks_the_rollback(
    cli, write_runbook, prometheus, exporter, metric_name, tmp_path
):
    exporter.set(metric_name, 0.01)
    prometheus.wait_for(metric_name, lambda v: v == 0.01)
    guard = (
        "  - {id: errors, prometheus: METRIC, breach: '> 0.05', every: 1s, for: 2s,"
        " during: [T+0, T+2m]}"
    )
    runbook = write_runbook(_guarded(prometheus.url, metric_name, guard))
    threading.Timer(3.0, lambda: exporter.set(metric_name, 0.2)).start()
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1, result.stderr
    assert time.monotonic() - started < 60
    page = tmp_path / "record.html"
    assert cli("report", result.journal_dir, "--format", "html", "-o", page).exit_code == 0
    _check_page(page, tmp_path / "record.png", guards=1)
    with open_page(page) as visit:
        assert visit.count("svg[aria-label=timeline] .rollback-marker") == 1
        assert visit.count("svg[aria-label=timeline] .breach-marker") == 1


def test_a_browser_that_cannot_start_fails_under_ci_instead_of_skipping(monkeypatch):
    import pytest
    from browser import browser_path

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser_path()
