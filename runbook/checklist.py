"""The go/no-go checklist (docs/checklist-format.md): its model, its loader and its pure scoring.

Scores are kept as counts and compared with integer arithmetic, so "exactly
95%" is 95% and not 94.99999%: a launch decision must not hinge on floating point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from runbook.errors import ValidationFailed
from runbook.schema.records import INVALID, Context, Field, ListOf, Record, Type
from runbook.schema.scalars import Choice, Text
from runbook.schema.yaml_tree import YMap, YNode, YScalar, parse_yaml, read_yaml_file

STATUSES = ("PASS", "PARTIAL", "FAIL", "PENDING")
LIKELIHOODS = ("LOW", "MEDIUM", "HIGH")
IMPACTS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


class Decision(StrEnum):
    GO = "GO"
    CAUTION = "GO WITH CAUTION"
    NO_GO = "NO-GO"


class RiskLevel(StrEnum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    status: str
    critical: bool = False
    category: str | None = None
    owner: str | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class Risk:
    id: str
    title: str
    likelihood: str
    impact: str
    mitigated: bool = False
    mitigation: str | None = None

    @property
    def level(self) -> RiskLevel:
        return risk_level(self.likelihood, self.impact)


@dataclass(frozen=True)
class Signoff:
    role: str
    name: str | None
    signed: bool


@dataclass(frozen=True)
class Checklist:
    name: str
    source: Path
    items: tuple[Item, ...]
    risks: tuple[Risk, ...] = ()
    signoffs: tuple[Signoff, ...] = ()


def risk_level(likelihood: str, impact: str) -> RiskLevel:
    """The seed's matrix: likelihood x impact."""
    if (likelihood, impact) in {("HIGH", "HIGH"), ("HIGH", "CRITICAL"), ("MEDIUM", "CRITICAL")}:
        return RiskLevel.RED
    if (likelihood, impact) in {
        ("HIGH", "LOW"),
        ("HIGH", "MEDIUM"),
        ("MEDIUM", "MEDIUM"),
        ("MEDIUM", "HIGH"),
        ("LOW", "CRITICAL"),
    }:
        return RiskLevel.YELLOW
    return RiskLevel.GREEN


@dataclass(frozen=True)
class Score:
    passed: int
    total: int

    def at_least(self, percent: int) -> bool:
        return self.passed * 100 >= percent * self.total

    @property
    def complete(self) -> bool:
        return self.passed == self.total

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * self.passed / self.total

    def __str__(self) -> str:
        return f"{self.passed}/{self.total} ({self.percent:.1f}%)"


@dataclass
class GateResult:
    checklist: Checklist
    decision: Decision
    critical: Score
    total: Score
    reasons: list[str] = field(default_factory=list)

    @property
    def failing_critical(self) -> list[Item]:
        return [i for i in self.checklist.items if i.critical and i.status != "PASS"]

    @property
    def unsigned(self) -> list[Signoff]:
        return [s for s in self.checklist.signoffs if not s.signed]

    def risks(self, level: RiskLevel) -> list[Risk]:
        return [r for r in self.checklist.risks if r.level is level]

    def status_counts(self) -> dict[str, int]:
        return {
            status: sum(1 for i in self.checklist.items if i.status == status)
            for status in STATUSES
        }

    def to_data(self) -> dict[str, Any]:
        return {
            "checklist": self.checklist.name,
            "decision": self.decision.value,
            "reasons": self.reasons,
            "critical": {
                "passed": self.critical.passed,
                "total": self.critical.total,
                "percent": round(self.critical.percent, 2),
            },
            "total": {
                "passed": self.total.passed,
                "total": self.total.total,
                "percent": round(self.total.percent, 2),
            },
            "status_counts": self.status_counts(),
            "failing_critical": [
                {
                    "id": i.id,
                    "title": i.title,
                    "status": i.status,
                    "owner": i.owner,
                    "category": i.category,
                }
                for i in self.failing_critical
            ],
            "risks": {
                level.value: [
                    {
                        "id": r.id,
                        "title": r.title,
                        "likelihood": r.likelihood,
                        "impact": r.impact,
                        "mitigated": r.mitigated,
                    }
                    for r in self.risks(level)
                ]
                for level in RiskLevel
            },
            "signoffs": [
                {"role": s.role, "name": s.name, "signed": s.signed}
                for s in self.checklist.signoffs
            ],
        }


def evaluate_gate(checklist: Checklist) -> GateResult:
    """The seed's decision matrix, with every reason it is not a plain GO."""
    critical_items = [i for i in checklist.items if i.critical]
    critical = Score(sum(i.status == "PASS" for i in critical_items), len(critical_items))
    total = Score(sum(i.status == "PASS" for i in checklist.items), len(checklist.items))
    unmitigated = [r for r in checklist.risks if not r.mitigated]
    red = [r for r in unmitigated if r.level is RiskLevel.RED]
    yellow = [r for r in unmitigated if r.level is RiskLevel.YELLOW]
    unsigned = [s for s in checklist.signoffs if not s.signed]
    blockers, cautions = [], []
    if not critical.complete:
        blockers.append(f"critical score {critical} is below 100%")
    if not total.at_least(90):
        blockers.append(f"total score {total} is below 90%")
    elif not total.at_least(95):
        cautions.append(f"total score {total} is below 95%")
    if red:
        blockers.append(f"{len(red)} unmitigated red risk(s): {', '.join(r.id for r in red)}")
    if yellow:
        cautions.append(
            f"{len(yellow)} unmitigated yellow risk(s): {', '.join(r.id for r in yellow)}"
        )
    if unsigned:
        blockers.append(
            f"{len(unsigned)} sign-off(s) missing: {', '.join(s.role for s in unsigned)}"
        )
    if not checklist.signoffs:
        blockers.append("no sign-offs recorded: a launch needs its decision makers to sign")
    if blockers:
        return GateResult(checklist, Decision.NO_GO, critical, total, blockers + cautions)
    if cautions:
        return GateResult(checklist, Decision.CAUTION, critical, total, cautions)
    return GateResult(checklist, Decision.GO, critical, total, [])


class _Upper(Type):
    """An enum written in capitals (PASS, HIGH); lower case is accepted and normalised."""

    def __init__(self, values: tuple[str, ...]) -> None:
        self.choice = Choice(values)

    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if (
            isinstance(node, YScalar)
            and isinstance(node.value, str)
            and node.value.upper() in self.choice.values
        ):
            return node.value.upper()
        return self.choice.convert(node, path, ctx)

    def json_schema(self) -> dict[str, Any]:
        return self.choice.json_schema()


class _Bool(Type):
    def convert(self, node: YNode, path: str, ctx: Context) -> Any:
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        ctx.error(node.mark, path, "expected true or false")
        return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


def _text() -> Text:
    return Text(coerce_scalars=True)


ITEM = Record(
    "checklist item",
    {
        "id": Field(_text(), required=True),
        "category": Field(_text()),
        "title": Field(_text(), required=True),
        "critical": Field(_Bool(), default=False),
        "status": Field(_Upper(STATUSES), required=True, doc="PASS | PARTIAL | FAIL | PENDING"),
        "owner": Field(_text()),
        "evidence": Field(_text()),
        "notes": Field(_text()),
    },
    lambda v, n, p, c: Item(
        v["id"], v["title"], v["status"], v["critical"], v["category"], v["owner"], v["evidence"]
    ),
)
RISK = Record(
    "risk",
    {
        "id": Field(_text(), required=True),
        "title": Field(_text(), required=True),
        "likelihood": Field(_Upper(LIKELIHOODS), required=True),
        "impact": Field(_Upper(IMPACTS), required=True),
        "mitigated": Field(_Bool(), default=False),
        "mitigation": Field(_text()),
        "owner": Field(_text()),
    },
    lambda v, n, p, c: Risk(
        v["id"], v["title"], v["likelihood"], v["impact"], v["mitigated"], v["mitigation"]
    ),
)
SIGNOFF = Record(
    "sign-off",
    {
        "role": Field(_text(), required=True),
        "name": Field(_text()),
        "signed": Field(_Bool(), required=True),
        "date": Field(_text()),
    },
    lambda v, n, p, c: Signoff(v["role"], v["name"], v["signed"]),
)
CHECKLIST = Record(
    "checklist",
    {
        "checklist": Field(_text(), required=True, doc="the checklist's name"),
        "items": Field(ListOf(ITEM, min_items=1), required=True),
        "risks": Field(ListOf(RISK), default=()),
        "signoffs": Field(ListOf(SIGNOFF), default=()),
    },
)


def _unique(ctx: Context, tree: YMap, section: str, keys: list[str], field: str) -> None:
    """Two items with one id (or two sign-offs for one role) make the scores ambiguous."""
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in seen:
            node = tree.items[section].items[index]
            mark = (
                node.items[field].mark
                if isinstance(node, YMap) and field in node.items
                else node.mark
            )
            ctx.error(
                mark,
                f"{section}[{index}].{field}",
                f"duplicate {field} '{key}' (also {section}[{seen[key]}])",
            )
        seen.setdefault(key, index)


def load_checklist(path: Path | str) -> Checklist:
    """Load and validate a checklist; problems are ``FILE:LINE:COL`` diagnostics (exit 2)."""
    path = Path(path)
    data, display = read_yaml_file(path)
    tree, diagnostics = parse_yaml(data, display)
    if tree is None:
        raise ValidationFailed(diagnostics)
    ctx = Context(display, diagnostics)
    values = CHECKLIST.convert(tree, "", ctx)
    if values is INVALID or ctx.diagnostics:
        raise ValidationFailed(ctx.diagnostics)
    _unique(ctx, tree, "items", [item.id for item in values["items"]], "id")
    _unique(ctx, tree, "risks", [risk.id for risk in values["risks"]], "id")
    _unique(ctx, tree, "signoffs", [signoff.role for signoff in values["signoffs"]], "role")
    if ctx.diagnostics:
        raise ValidationFailed(ctx.diagnostics)
    return Checklist(
        values["checklist"], path.resolve(), values["items"], values["risks"], values["signoffs"]
    )
