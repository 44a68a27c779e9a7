"""A replay for people (text) and for programs (one JSON object: verdict, when, per guard and per check).

Times shown to a person are wall-clock (local time) beside the T-offset;
JSON times are seconds from T0 (negative before it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from launchctl.replay.evaluate import ReplayResult, verdict_line, verdict_reason
from rollback.guard_replay import GuardReplay
from runbook.durations import format_duration, format_offset


def wall(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


def _seconds(result: ReplayResult, moment: datetime | None) -> float | None:
    return None if moment is None else round((moment - result.times.t0).total_seconds(), 3)


def _when(result: ReplayResult, moment: datetime) -> str:
    return f"{result.offset(moment)} ({wall(moment)})"


def _window_text(result: ReplayResult, guard: GuardReplay) -> str:
    start, end = guard.window
    during = guard.guard.during
    offsets = (
        f"{format_offset(during[0])}..{format_offset(during[1])}" if during else "go-live..end"
    )
    return f"{offsets}, {wall(start)} .. {wall(end)}"


def guard_action(guard: GuardReplay) -> str:
    return guard.verdict.action.value if guard.verdict is not None else "none"


def render_text(result: ReplayResult) -> str:
    times = result.times
    lines = [
        f"replay of {result.book.name}",
        f"T0 {wall(times.t0)}, go-live {_when(result, times.go_live)}; history: {result.source}",
        "",
    ]
    for guard in result.guards:
        lines += _guard_lines(result, guard)
    if result.checks:
        lines.append("checks:")
        for check in result.checks:
            value = "" if check.value is None else f" value {check.value:g}"
            lines.append(
                f"  {check.step.id}[{check.index}] at {_when(result, check.at)}: "
                f"{check.result}{value} - {check.reason}"
            )
        lines.append("")
    if result.sweep is not None:
        lines += _sweep_lines(result)
    lines.append(verdict_line(result))
    return "\n".join(lines) + "\n"


def _guard_lines(result: ReplayResult, replay: GuardReplay) -> list[str]:
    g = replay.guard
    hold = f", for {format_duration(g.hold)}" if g.hold.total_seconds() else ""
    lines = [
        f"guard {g.id}: breach {g.breach}, every {format_duration(g.every)}{hold}, then {g.then.value}",
        f"  window {_window_text(result, replay)}",
        f"  samples {len(replay.samples)}, inconclusive {replay.inconclusive}",
    ]
    baseline = _baseline_data(replay)
    if baseline is not None:
        measured = (
            f"{baseline['value']:.4g}, so the limit is {baseline['limit']:.4g}"
            if baseline["limit"] is not None
            else f"none ({baseline['reason']}): every sample is inconclusive"
        )
        lines.append(
            f"  baseline {baseline['window']} (the average of {baseline['points']} points): {measured}"
        )
    if replay.first_breach is not None:
        value = next(s.value for s in replay.samples if s.at == replay.first_breach)
        lines.append(f"  first breach at {_when(result, replay.first_breach)}: {value:g}")
    if replay.verdict is not None and replay.fired_at is not None:
        words = {"rollback": "roll back", "ask": "ask a person", "warn": "warn"}
        lines.append(
            f"  would {words[replay.verdict.action.value]} at {_when(result, replay.fired_at)}: "
            f"{verdict_reason(replay)}"
        )
    else:
        margin = replay.margin
        shown = "no value to compare" if margin is None else f"{margin:g}"
        lines.append(f"  never fired; closest approach to the threshold (margin): {shown}")
    for stretch in replay.stretches:
        lines.append(
            f"  inconclusive {result.offset(stretch.start)}..{result.offset(stretch.end)}: "
            f"{stretch.count} sample{'s' if stretch.count > 1 else ''} ({stretch.reason})"
        )
    if replay.history_ends is not None:
        lines.append(f"  history ends at {_when(result, replay.history_ends)}: judged up to there")
    lines.append("")
    return lines


def _baseline_data(replay: GuardReplay) -> dict[str, Any] | None:
    """A relative threshold's baseline from history: its value, the limit it made, or why none."""
    g = replay.guard
    if g.baseline is None or replay.baseline is None:
        return None
    fixed, why = g.breach.against(replay.baseline.value)
    return {
        "window": f"{format_offset(g.baseline.start)}..{format_offset(g.baseline.end)}",
        "value": replay.baseline.value,
        "points": replay.baseline.points,
        "limit": fixed.threshold if fixed is not None else None,
        "reason": replay.baseline.reason or why or None,
    }


def _sweep_lines(result: ReplayResult) -> list[str]:
    rows = result.sweep or []
    if not rows:
        return []
    g = rows[0][1].guard
    lines = [
        f"sweep of guard {g.id} (every {format_duration(g.every)}, for {format_duration(g.hold)}):"
    ]
    lines.append(f"  {'threshold':<14}{'fired':<7}{'at':<14}{'wall':<26}action / margin")
    for threshold, replay in rows:
        fired = replay.fired_at is not None
        at = result.offset(replay.fired_at) if fired else "-"
        detail = guard_action(replay) if fired else f"margin {_num(replay.margin)}"
        lines.append(
            f"  {str(replace(g.breach, threshold=threshold)):<14}{'yes' if fired else 'no':<7}"
            f"{at:<14}{wall(replay.fired_at) if fired else '-':<26}{detail}"
        )
    lines.append("")
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def to_data(result: ReplayResult) -> dict[str, Any]:
    def seconds(moment: datetime | None) -> float | None:
        return _seconds(result, moment)

    def guard_data(replay: GuardReplay) -> dict[str, Any]:
        g = replay.guard
        return {
            "id": g.id,
            "action": guard_action(replay),
            "fired_at": seconds(replay.fired_at),
            "first_breach": seconds(replay.first_breach),
            "margin": replay.margin,
            "samples": len(replay.samples),
            "inconclusive": replay.inconclusive,
            "reason": verdict_reason(replay) or None,
            "breach": str(g.breach),
            "every_s": g.every.total_seconds(),
            "for_s": g.hold.total_seconds(),
            "window": [seconds(replay.window[0]), seconds(replay.window[1])],
            "baseline": _baseline_data(replay),
            "inconclusive_stretches": [
                {
                    "from": seconds(s.start),
                    "to": seconds(s.end),
                    "samples": s.count,
                    "reason": s.reason,
                }
                for s in replay.stretches
            ],
        }

    data: dict[str, Any] = {
        "verdict": result.outcome.verdict,
        "at": seconds(result.outcome.at),
        "reason": result.outcome.reason or None,
        "t0": result.times.t0.isoformat(),
        "go_live": seconds(result.times.go_live),
        "source": result.source,
        "guards": [guard_data(g) for g in result.guards],
        "checks": [
            {
                "step": c.step.id,
                "index": c.index,
                "query": c.query,
                "expect": c.expect,
                "result": c.result,
                "at": seconds(c.at),
                "value": c.value,
                "reason": c.reason,
            }
            for c in result.checks
        ],
    }
    if result.sweep is not None:
        data["sweep"] = [
            {
                "threshold": t,
                "fired": r.fired_at is not None,
                "at": seconds(r.fired_at),
                "action": guard_action(r),
                "margin": r.margin,
            }
            for t, r in result.sweep
        ]
    return data


def render_json(result: ReplayResult) -> str:
    return json.dumps(to_data(result), indent=2) + "\n"
