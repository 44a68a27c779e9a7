"""One guard drawn as inline SVG: its series against the threshold, the window shaded, the
breach and the action marked. Shared by the replay page and the launch record, so a guard
looks the same whether it was rehearsed or lived; no scripts, no network assets.

Element classes are the contract the browser tests read: ``window``, ``threshold``,
``series``, ``inconclusive``, ``breach-marker``, ``action-marker``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape

from runbook.durations import format_offset

WIDTH, HEIGHT = 760, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 26


@dataclass
class GuardChart:
    guard: str
    threshold: float | None
    comparator: str = ">"
    points: list[tuple[datetime, float | None]] = field(default_factory=list)
    window: tuple[datetime | None, datetime | None] = (None, None)
    breach_at: datetime | None = None
    action_at: datetime | None = None
    action: str = ""
    t0: datetime | None = None  # when set, the axis shows T-offsets beside wall time


def _time_span(chart: GuardChart) -> tuple[datetime, datetime] | None:
    moments = [p[0] for p in chart.points]
    moments += [m for m in (*chart.window, chart.breach_at, chart.action_at) if m is not None]
    if not moments:
        return None
    return min(moments), max(moments)


def _value_span(chart: GuardChart) -> tuple[float, float]:
    values = [v for _, v in chart.points if v is not None]
    if chart.threshold is not None:
        values.append(chart.threshold)
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    return low - pad, high + pad


def render_chart(chart: GuardChart) -> str:
    span = _time_span(chart)
    if span is None:
        return f"<p class='meta'>guard {escape(chart.guard)}: no samples to draw</p>"
    start, end = span
    seconds = max((end - start).total_seconds(), 1.0)
    low, high = _value_span(chart)

    def x(moment: datetime) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (moment - start).total_seconds() / seconds

    def y(value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / (high - low))

    bottom = HEIGHT - BOTTOM
    parts = [
        f"<rect x='{LEFT}' y='{TOP}' width='{WIDTH - LEFT - RIGHT}' height='{bottom - TOP}' fill='#fff' stroke='#ddd'/>"
    ]
    w_start, w_end = chart.window
    if w_start is not None:
        x0, x1 = x(w_start), x(w_end or end)
        parts.append(
            f"<rect class='window' x='{x0:.1f}' y='{TOP}' width='{max(x1 - x0, 1):.1f}' height='{bottom - TOP}' "
            f"fill='#e3f2fd' opacity='0.8'><title>window {escape(_hm(w_start))} .. {escape(_hm(w_end))}</title></rect>"
        )
    if chart.threshold is not None:
        ty = y(chart.threshold)
        parts.append(
            f"<line class='threshold' x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{ty:.1f}' y2='{ty:.1f}' "
            f"stroke='#c62828' stroke-dasharray='6 4'><title>threshold {escape(chart.comparator)} {chart.threshold:g}</title></line>"
        )
        parts.append(
            f"<text x='{WIDTH - RIGHT - 4}' y='{ty - 4:.1f}' text-anchor='end' fill='#c62828'>{escape(chart.comparator)} {chart.threshold:g}</text>"
        )
    parts += _series(chart, x, y)
    parts += _marker("breach-marker", chart.breach_at, "#ef6c00", "breach", x, bottom, TOP + 11)
    action = chart.action or "action"
    parts += _marker("action-marker", chart.action_at, "#b71c1c", action, x, bottom, TOP + 25)
    parts += _axes(chart, start, end, low, high, bottom)
    return (
        f"<svg class='guard-chart' data-guard='{escape(chart.guard)}' viewBox='0 0 {WIDTH} {HEIGHT}' "
        f"width='100%' role='img' aria-label='guard {escape(chart.guard)}'>"
        + "".join(parts)
        + "</svg>"
    )


def _series(chart: GuardChart, x, y) -> list[str]:
    parts, run = [], []
    for moment, value in [*chart.points, (None, None)]:
        if value is not None:
            run.append(f"{x(moment):.1f},{y(value):.1f}")
            continue
        if run:
            if len(run) > 1:
                parts.append(
                    f"<polyline class='series' points='{' '.join(run)}' fill='none' "
                    "stroke='#1565c0' stroke-width='1.5'/>"
                )
            else:
                cx, cy = run[0].split(",")
                parts.append(f"<circle class='series' cx='{cx}' cy='{cy}' r='2' fill='#1565c0'/>")
            run = []
        if moment is not None:
            parts.append(
                f"<rect class='inconclusive' x='{x(moment) - 1:.1f}' y='{HEIGHT - BOTTOM - 6}' width='3' height='6' fill='#9e9e9e'>"
                "<title>inconclusive sample</title></rect>"
            )
    return parts


def _marker(
    css: str, moment: datetime | None, colour: str, label: str, x, bottom: float, label_y: float
) -> list[str]:
    if moment is None:
        return []
    mx = x(moment)
    return [
        f"<g class='{css}'><line x1='{mx:.1f}' x2='{mx:.1f}' y1='{TOP}' y2='{bottom}' stroke='{colour}' stroke-width='2'/>"
        f"<text x='{mx + 3:.1f}' y='{label_y}' fill='{colour}'>{escape(label)} {escape(_hm(moment))}</text>"
        f"<title>{escape(label)} at {escape(_hm(moment))}</title></g>"
    ]


def _axes(
    chart: GuardChart, start: datetime, end: datetime, low: float, high: float, bottom: float
) -> list[str]:
    def when(moment: datetime) -> str:
        if chart.t0 is None:
            return _hm(moment)
        offset = timedelta(seconds=round((moment - chart.t0).total_seconds()))
        return f"{format_offset(offset)} {_hm(moment)}"

    return [
        f"<text x='{LEFT}' y='{HEIGHT - 8}'>{escape(when(start))}</text>",
        f"<text x='{WIDTH - RIGHT}' y='{HEIGHT - 8}' text-anchor='end'>{escape(when(end))}</text>",
        f"<text x='{LEFT - 4}' y='{TOP + 10}' text-anchor='end'>{high:.3g}</text>",
        f"<text x='{LEFT - 4}' y='{bottom}' text-anchor='end'>{low:.3g}</text>",
    ]


def _hm(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else "open"
