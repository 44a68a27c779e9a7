"""What a drill proved, from its journal: injection to the start of the remedy (rollback, or
roll-forward past the point of no return), how long it took, and each of its steps."""

from __future__ import annotations

from typing import Any

from launchctl.journal.catalogue import parse_iso
from launchctl.journal.replay import replay
from launchctl.views.fleet_text import undo_summary


def summarize(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The drill's figures from its journal, whichever remedy ran."""
    injected = next((e for e in events if e["event"] == "drill_injected"), None)
    started = next(
        (e for e in events if e["event"] in ("rollback_started", "roll_forward_started")), None
    )
    remedy = started["event"].removesuffix("_started") if started else "rollback"
    finished = next((e for e in events if e["event"] == f"{remedy}_finished"), None)
    record = getattr(replay(events), remedy, None) if events else None
    undid = {sid: undo_summary(r) for sid, r in record.steps.items()} if record else {}
    return {
        "injected": injected,
        "remedy": remedy,
        "injection_to_rollback_s": round(
            (parse_iso(started["ts"]) - parse_iso(injected["ts"])).total_seconds(), 3
        )
        if injected and started
        else None,
        "rollback_duration_s": finished.get("duration_s") if finished else None,
        "rollback_status": finished.get("status") if finished else None,
        "estimated_worst_case_s": next(
            (e.get("estimated_worst_case_s") for e in events if e["event"] == "drill_result"), None
        ),
        "steps": [
            {
                "step": e["step"],
                "status": e["status"],
                "reason": e.get("reason"),
                "attempts": e.get("attempts"),
                "undid": undid.get(e["step"]),
            }
            for e in events
            if e["event"] == f"{remedy}_step_finished"
        ],
    }


def render_summary(summary: dict[str, Any], dry_run: bool) -> str:
    kind = "dry drill (nothing was touched)" if dry_run else "live drill"
    remedy = summary["remedy"].replace("_", "-")
    if summary["injected"] is None:
        return f"drill ({kind}): the fault was never injected; the launch ended before reaching it"
    lines = [f"drill ({kind}): injected {summary['injected'].get('fault')}"]
    if remedy != "rollback":
        lines.append("  past the point of no return: the roll-forward ran instead of the rollback")
    if summary["injection_to_rollback_s"] is not None:
        lines.append(f"  injection to {remedy} start: {summary['injection_to_rollback_s']:.3f} s")
    if summary["rollback_duration_s"] is not None and not dry_run:
        pad = " " * max(1, 13 - len(remedy))
        lines.append(f"  {remedy} duration:{pad}{summary['rollback_duration_s']:.3f} s")
    if dry_run and summary["estimated_worst_case_s"] is not None:
        lines.append(
            f"  {remedy} worst case:   {summary['estimated_worst_case_s']:.0f} s "
            "(estimate from its timeouts, retries and within; nothing ran)"
        )
    lines.append(f"  {remedy}: {summary['rollback_status'] or 'did not finish'}")
    for step in summary["steps"]:
        detail = f" — {step['reason']}" if step["reason"] else ""
        lines.append(f"    {step['step']:<24} {step['status']}{detail}")
        if step.get("undid"):
            lines.append(f"      {step['undid']}")
    return "\n".join(lines)
