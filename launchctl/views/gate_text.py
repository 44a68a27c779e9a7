"""``launchctl gate``: the go/no-go decision as text or JSON, and the outcome it ends in."""

from __future__ import annotations

import json
import re

from runbook.checklist import Decision, GateResult, RiskLevel
from runbook.errors import Outcome

OUTCOMES = {
    Decision.GO: Outcome.GATE_GO,
    Decision.CAUTION: Outcome.GATE_CAUTION,
    Decision.NO_GO: Outcome.GATE_NO_GO,
}


def gate_outcome(result: GateResult) -> Outcome:
    return OUTCOMES[result.decision]


def render_gate_json(result: GateResult) -> str:
    return json.dumps(result.to_data(), indent=2, ensure_ascii=False)


def render_gate_text(result: GateResult) -> str:
    counts = result.status_counts()
    lines = [
        f"Go/no-go: {result.checklist.name}",
        "",
        f"Critical score: {result.critical}   (PASS critical items / critical items; must be 100%)",
        f"Total score:    {result.total}   (PASS items / all items; GO needs >= 95%, CAUTION >= 90%)",
        "Items:          " + ", ".join(f"{status} {count}" for status, count in counts.items()),
    ]
    failing = result.failing_critical
    if failing:
        lines += ["", f"Failing critical items ({len(failing)}):"]
        lines += [
            f"  {i.id:<10} {i.status:<8} {i.title}" + (f"  [owner: {i.owner}]" if i.owner else "")
            for i in failing
        ]
    lines += ["", "Risks:"]
    for level in RiskLevel:
        risks = result.risks(level)
        open_ = sum(1 for r in risks if not r.mitigated)
        lines.append(f"  {level.value:<6} {len(risks)} ({open_} unmitigated)")
        lines += [
            f"         {r.id}: {r.title} ({r.likelihood} x {r.impact}, {'mitigated' if r.mitigated else 'NOT mitigated'})"
            for r in risks
            if level is not RiskLevel.GREEN or not r.mitigated
        ]
    signoffs = result.checklist.signoffs
    unsigned = result.unsigned
    lines += ["", f"Sign-offs: {len(signoffs) - len(unsigned)}/{len(signoffs)} signed"]
    lines += [f"  unsigned: {s.role}" + (f" ({s.name})" if s.name else "") for s in unsigned]
    lines += ["", f"DECISION: {result.decision.value}"]
    lines += [f"  - {reason}" for reason in result.reasons]
    if result.decision is Decision.CAUTION:
        lines.append("  Launch with enhanced monitoring.")
    return "\n".join(lines)


def render_no_return(steps: list[tuple[str, str]], result: GateResult | None) -> list[str]:
    """The irreversible steps, each with the checklist risk it names (by id, in its reason).

    ``steps`` is (step id, reason). Without a named risk, the unmitigated red and
    yellow risks are listed once, as what the launch is carrying past the point.
    """
    if not steps:
        return []
    risks = list(result.checklist.risks) if result is not None else []
    lines = ["Point of no return (failures after it roll forward or wait for a person):"]
    named_any = False
    for step, reason in steps:
        named = [r for r in risks if re.search(rf"\b{re.escape(r.id)}\b", reason)]
        named_any = named_any or bool(named)
        lines.append(f"  {step}: {reason}")
        lines += [f"    risk {_risk(r)}" for r in named]
    if not named_any and risks:
        carried = [
            r for r in risks if not r.mitigated and r.level in (RiskLevel.RED, RiskLevel.YELLOW)
        ]
        lines += [f"  carries risk {_risk(r)}" for r in carried]
    return lines


def _risk(risk) -> str:
    state = "mitigated" if risk.mitigated else "NOT mitigated"
    return (
        f"{risk.id}: {risk.title} ({risk.likelihood} x {risk.impact}, {risk.level.value}, {state})"
    )
