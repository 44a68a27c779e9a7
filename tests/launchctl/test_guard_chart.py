"""The shared guard chart: well-formed SVG (an unquoted ``width=2/>`` swallows what follows in
an HTML page), every part present, hostile guard names escaped, and the launch record's
guard section drawn with it from the journal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from launchctl.journal.replay import replay
from launchctl.views.guard_chart import GuardChart, render_chart
from launchctl.views.guard_record import guard_charts, timeline_marks
from launchctl.views.report_html import render_html

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _classes(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [e.get("class") for e in root.iter() if e.get("class")]


def test_chart_is_well_formed_svg_with_every_part():
    chart = GuardChart(
        "g<'&>",
        0.05,
        ">",
        points=[(T0 + timedelta(seconds=15 * i), None if i == 3 else 0.01 * i) for i in range(10)],
        window=(T0, T0 + timedelta(minutes=3)),
        breach_at=T0 + timedelta(seconds=90),
        action_at=T0 + timedelta(seconds=120),
        action="rollback",
        t0=T0,
    )
    svg = render_chart(chart)
    classes = _classes(svg)
    for part in ("window", "threshold", "series", "inconclusive", "breach-marker", "action-marker"):
        assert part in classes, part
    assert "g<'&>" not in svg


def _event(kind: str, second: int, **fields) -> dict:
    stamp = (T0 + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")
    return {"event": kind, "ts": stamp, **fields}


def test_launch_record_draws_guards_with_the_shared_chart_and_marks_the_timeline():
    events = [
        _event(
            "launch_started",
            0,
            launch_id="x",
            runbook="r",
            t0="2026-03-01T12:00:00Z",
            steps=["golive"],
            name="n",
        ),
        _event("step_started", 0, step="golive", planned="2026-03-01T12:00:00Z"),
        _event("step_finished", 1, step="golive", status="ok"),
        _event(
            "guard_window_opened", 1, guard="err", threshold="> 0.05", until="2026-03-01T12:10:00Z"
        ),
        *[
            _event("guard_sample", 1 + i, guard="err", value=0.01 if i < 5 else 0.2, status="ok")
            for i in range(8)
        ],
        _event("guard_breach", 6, guard="err", value=0.2, threshold="> 0.05"),
        _event("guard_triggered", 8, guard="err", value=0.2, action="rollback", reason="r"),
        _event("rollback_started", 8, reason="guard", trigger="guard"),
    ]
    state = replay(events)
    chart = guard_charts(state)["err"]
    assert (chart.threshold, chart.comparator, len(chart.points)) == (0.05, ">", 8)
    assert chart.breach_at == T0 + timedelta(seconds=6)
    assert chart.action_at == T0 + timedelta(seconds=8) and chart.action == "rollback"
    assert [css for _, _, css in timeline_marks(state)] == [
        "breach-marker",
        "action-marker",
        "rollback-marker",
    ]
    page = render_html(state)
    assert "class='guard-chart'" in page and "class=rollback-marker" in page
