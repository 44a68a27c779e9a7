"""The go/no-go gate (docs/checklist-format.md): scores, the risk matrix and the decision, around
every boundary, on checklists built programmatically; then `launchctl gate` as a real
subprocess (exit codes, text and JSON output, FILE:LINE:COL diagnostics for the invalid
checklists in tests/data/checklists/) and the shipped examples/checklist.yaml."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.checklist import (
    STATUSES,
    Decision,
    GateResult,
    RiskLevel,
    evaluate_gate,
    load_checklist,
    risk_level,
)
from runbook.errors import EXIT_BAD_INPUT, EXIT_NO_GO, EXIT_OK, EXIT_ROLLED_BACK, ValidationFailed

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent.parent / "data" / "checklists"
EXAMPLE = REPO / "examples" / "checklist.yaml"

GO, CAUTION, NO_GO = Decision.GO, Decision.CAUTION, Decision.NO_GO
RED, YELLOW, GREEN = RiskLevel.RED, RiskLevel.YELLOW, RiskLevel.GREEN

SEED_ROLES = ("CTO", "Engineering Lead", "Ops Lead", "Security Lead", "Product Lead")
NAMES = ("Marta Iglesias", "Daniel Ortega", "Lucia Ferrer", "Andres Molina", "Carmen Vidal")


# --- building checklists -----------------------------------------------------------


def signoffs(unsigned: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The seed's five stakeholders, all signed except the roles in ``unsigned``."""
    return [
        {"role": role, "name": name, "signed": role not in unsigned}
        for role, name in zip(SEED_ROLES, NAMES, strict=True)
    ]


def risk(likelihood: str, impact: str, mitigated: bool, rid: str = "R1") -> dict[str, Any]:
    return {
        "id": rid,
        "title": f"{likelihood} x {impact} risk",
        "likelihood": likelihood,
        "impact": impact,
        "mitigated": mitigated,
    }


def checklist_data(
    total: int = 20,
    critical: int = 10,
    passed: int | None = None,
    not_pass: tuple[str, ...] = ("PARTIAL", "PENDING", "FAIL"),
    critical_statuses: tuple[str, ...] = (),
    risks: list[dict[str, Any]] | None = None,
    signoffs_: list[dict[str, Any]] | None = None,
    case: Any = str,
) -> dict[str, Any]:
    """``total`` items, the first ``critical`` of them critical.

    ``passed`` items are PASS (all by default); the others, taken from the last
    (non-critical) items first, cycle through ``not_pass``. ``critical_statuses``
    overrides the statuses of the first critical items. ``case`` is applied to
    every status (``str.lower`` to write them in lower case).
    """
    passed = total if passed is None else passed
    failing = total - passed
    assert failing <= total - critical, "helper: not_pass items must be non-critical"
    items = []
    for index in range(total):
        status = "PASS"
        if index >= total - failing:
            status = not_pass[(total - 1 - index) % len(not_pass)]
        if index < len(critical_statuses):
            status = critical_statuses[index]
        items.append(
            {
                "id": f"ITEM-{index + 1:03d}",
                "category": "Security Validation" if index % 2 else "Final Validation",
                "title": f"readiness item {index + 1}",
                "critical": index < critical,
                "status": case(status),
                "owner": "dba" if index < critical else "ops-lead",
                **({"evidence": f"https://ci.example/run/{index}"} if status == "PASS" else {}),
            }
        )
    return {
        "checklist": "generated",
        "items": items,
        "risks": risks or [],
        "signoffs": signoffs() if signoffs_ is None else signoffs_,
    }


def write_checklist(directory: Path, data: dict[str, Any], name: str = "checklist.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def gate(tmp_path: Path):
    """Write a checklist as YAML, load it as a user's file would be, and decide."""

    def run(data: dict[str, Any]) -> GateResult:
        return evaluate_gate(load_checklist(write_checklist(tmp_path, data)))

    return run


def launchctl_gate(path: Path | str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "launchctl.cli", "gate", str(path), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


# --- total score boundaries ------------------------------------------------------------

TOTAL_CASES = [
    # (items, critical, PASS, decision)
    (20, 10, 20, GO),  # 100%
    (20, 10, 19, GO),  # exactly 95%
    (60, 30, 57, GO),  # exactly 95%
    (140, 80, 133, GO),  # exactly 95%
    (100, 50, 95, GO),  # exactly 95%
    (100, 50, 94, CAUTION),  # 94%
    (200, 100, 189, CAUTION),  # 94.5%
    (1000, 500, 949, CAUTION),  # 94.9%
    (1000, 500, 900, CAUTION),  # exactly 90%
    (10, 5, 9, CAUTION),  # exactly 90%
    (150, 87, 135, CAUTION),  # exactly 90%
    (30, 10, 27, CAUTION),  # exactly 90%
    (1000, 500, 899, NO_GO),  # 89.9%
    (10, 5, 8, NO_GO),  # 80%
    (19, 5, 17, NO_GO),  # 89.47%
    # the seed's sizes: 145 items, 87 critical
    (145, 87, 145, GO),
    (145, 87, 138, GO),  # 95.17%: the seed's "138+/145"
    (145, 87, 137, CAUTION),  # 94.48%
    (145, 87, 136, CAUTION),  # 93.79%
    (145, 87, 131, CAUTION),  # 90.34%: the seed's "131-137/145"
    (145, 87, 130, NO_GO),  # 89.66%: the seed's "<131/145"
]


@pytest.mark.parametrize(("total", "critical", "passed", "decision"), TOTAL_CASES)
def test_total_score_boundaries(gate, total: int, critical: int, passed: int, decision: Decision):
    result = gate(checklist_data(total, critical, passed))
    assert result.decision is decision, result.reasons
    assert (result.total.passed, result.total.total) == (passed, total)
    assert (result.critical.passed, result.critical.total) == (critical, critical)
    assert result.failing_critical == []


@pytest.mark.parametrize(
    ("passed", "reasons"),
    [
        (138, []),
        (137, ["total score 137/145 (94.5%) is below 95%"]),
        (131, ["total score 131/145 (90.3%) is below 95%"]),
        (130, ["total score 130/145 (89.7%) is below 90%"]),
    ],
)
def test_seed_sizes_give_the_reason_with_counts(gate, passed: int, reasons: list[str]):
    assert gate(checklist_data(145, 87, passed)).reasons == reasons


@pytest.mark.parametrize("status", ["PARTIAL", "PENDING", "FAIL"])
def test_every_status_but_pass_counts_as_not_passed(gate, status: str):
    # 19/20 is exactly 95%; 18/20 is 90%: one more PARTIAL/PENDING/FAIL item drops a level
    assert gate(checklist_data(20, 10, 19, not_pass=(status,))).decision is GO
    result = gate(checklist_data(20, 10, 18, not_pass=(status,)))
    assert result.decision is CAUTION
    assert result.total.passed == 18
    assert result.status_counts()[status] == 2
    assert gate(checklist_data(20, 10, 17, not_pass=(status,))).decision is NO_GO


def test_status_counts_cover_all_four_statuses(gate):
    result = gate(checklist_data(20, 10, 14, not_pass=("PARTIAL", "PENDING", "FAIL")))
    assert result.status_counts() == {"PASS": 14, "PARTIAL": 2, "FAIL": 2, "PENDING": 2}


# --- critical score --------------------------------------------------------------------


@pytest.mark.parametrize("status", ["PENDING", "PARTIAL", "FAIL"])
@pytest.mark.parametrize(("total", "critical"), [(20, 10), (145, 87), (100, 1)])
def test_one_critical_item_not_passed_is_no_go(gate, status: str, total: int, critical: int):
    # everything else perfect: total score still >= 95%, no risks, every sign-off signed
    result = gate(checklist_data(total, critical, critical_statuses=(status,)))
    assert result.decision is NO_GO
    assert result.total.at_least(95)
    assert (result.critical.passed, result.critical.total) == (critical - 1, critical)
    assert [(i.id, i.status, i.owner) for i in result.failing_critical] == [
        ("ITEM-001", status, "dba")
    ]
    assert result.reasons == [f"critical score {result.critical} is below 100%"]


def test_failing_non_critical_items_are_not_failing_critical(gate):
    result = gate(checklist_data(20, 10, 19, not_pass=("FAIL",)))
    assert result.failing_critical == []
    assert result.critical.complete


def test_all_failures_are_reported_together(gate):
    data = checklist_data(
        20,
        10,
        15,
        critical_statuses=("PENDING",),
        risks=[risk("HIGH", "HIGH", False, "R1"), risk("MEDIUM", "MEDIUM", False, "R2")],
        signoffs_=signoffs(unsigned=("CTO",)),
    )
    result = gate(data)
    assert result.decision is NO_GO
    assert result.reasons == [
        "critical score 9/10 (90.0%) is below 100%",
        "total score 14/20 (70.0%) is below 90%",
        "1 unmitigated red risk(s): R1",
        "1 sign-off(s) missing: CTO",
        "1 unmitigated yellow risk(s): R2",
    ]


# --- risk matrix -----------------------------------------------------------------------

# docs/checklist-format.md: HIGH x (HIGH|CRITICAL) and MEDIUM x CRITICAL are red; HIGH x (LOW|MEDIUM),
# MEDIUM x (MEDIUM|HIGH) and LOW x CRITICAL are yellow; the rest green.
RISK_MATRIX = {
    ("HIGH", "CRITICAL"): RED,
    ("HIGH", "HIGH"): RED,
    ("HIGH", "MEDIUM"): YELLOW,
    ("HIGH", "LOW"): YELLOW,
    ("MEDIUM", "CRITICAL"): RED,
    ("MEDIUM", "HIGH"): YELLOW,
    ("MEDIUM", "MEDIUM"): YELLOW,
    ("MEDIUM", "LOW"): GREEN,
    ("LOW", "CRITICAL"): YELLOW,
    ("LOW", "HIGH"): GREEN,
    ("LOW", "MEDIUM"): GREEN,
    ("LOW", "LOW"): GREEN,
}
# an unmitigated risk of each level: red blocks, yellow cautions, green is harmless
UNMITIGATED = {RED: NO_GO, YELLOW: CAUTION, GREEN: GO}


def test_the_matrix_table_covers_all_twelve_combinations():
    assert len(RISK_MATRIX) == 12
    assert Counter(RISK_MATRIX.values()) == {RED: 3, YELLOW: 5, GREEN: 4}


@pytest.mark.parametrize(("likelihood", "impact"), list(RISK_MATRIX))
def test_risk_level(likelihood: str, impact: str):
    assert risk_level(likelihood, impact) is RISK_MATRIX[likelihood, impact]


@pytest.mark.parametrize(("likelihood", "impact"), list(RISK_MATRIX))
@pytest.mark.parametrize("mitigated", [False, True])
def test_risk_decides(gate, likelihood: str, impact: str, mitigated: bool):
    level = RISK_MATRIX[likelihood, impact]
    result = gate(checklist_data(risks=[risk(likelihood, impact, mitigated)]))
    assert result.risks(level)[0].id == "R1"
    assert result.decision is (GO if mitigated else UNMITIGATED[level]), result.reasons


@pytest.mark.parametrize(("likelihood", "impact"), list(RISK_MATRIX))
def test_lower_case_likelihood_and_impact_are_accepted(gate, likelihood: str, impact: str):
    result = gate(checklist_data(risks=[risk(likelihood.lower(), impact.capitalize(), False)]))
    (loaded,) = result.checklist.risks
    assert (loaded.likelihood, loaded.impact) == (likelihood, impact)
    assert loaded.level is RISK_MATRIX[likelihood, impact]


def test_unmitigated_yellow_is_caution_not_go(gate):
    result = gate(checklist_data(risks=[risk("MEDIUM", "HIGH", False)]))
    assert result.decision is CAUTION
    assert result.reasons == ["1 unmitigated yellow risk(s): R1"]


def test_unmitigated_red_is_no_go_even_with_perfect_scores(gate):
    result = gate(checklist_data(risks=[risk("MEDIUM", "CRITICAL", False)]))
    assert result.decision is NO_GO
    assert result.reasons == ["1 unmitigated red risk(s): R1"]


def test_mitigated_is_false_when_omitted(gate):
    data = checklist_data(risks=[risk("HIGH", "HIGH", True)])
    del data["risks"][0]["mitigated"]
    assert gate(data).decision is NO_GO


def test_mitigated_red_and_yellow_together_are_go(gate):
    risks = [risk("HIGH", "CRITICAL", True, "R1"), risk("HIGH", "LOW", True, "R2")]
    risks.append(risk("LOW", "LOW", False, "R3"))
    assert gate(checklist_data(risks=risks)).decision is GO


def test_unmitigated_yellow_with_total_between_90_and_95_is_still_caution(gate):
    result = gate(checklist_data(145, 87, 136, risks=[risk("MEDIUM", "MEDIUM", False)]))
    assert result.decision is CAUTION
    assert result.reasons == [
        "total score 136/145 (93.8%) is below 95%",
        "1 unmitigated yellow risk(s): R1",
    ]


def test_unmitigated_yellow_does_not_rescue_a_low_total(gate):
    assert gate(checklist_data(145, 87, 130, risks=[risk("HIGH", "LOW", False)])).decision is NO_GO


def test_several_unmitigated_risks_are_listed_by_id(gate):
    risks = [risk("HIGH", "HIGH", False, "R1"), risk("MEDIUM", "CRITICAL", False, "R2")]
    risks += [risk("LOW", "CRITICAL", False, "R3"), risk("HIGH", "HIGH", True, "R4")]
    result = gate(checklist_data(risks=risks))
    assert result.reasons == [
        "2 unmitigated red risk(s): R1, R2",
        "1 unmitigated yellow risk(s): R3",
    ]
    assert [r.id for r in result.risks(RED)] == ["R1", "R2", "R4"]


# --- sign-offs -------------------------------------------------------------------------


@pytest.mark.parametrize("role", SEED_ROLES)
def test_one_unsigned_signoff_is_no_go(gate, role: str):
    result = gate(checklist_data(signoffs_=signoffs(unsigned=(role,))))
    assert result.decision is NO_GO
    assert [s.role for s in result.unsigned] == [role]
    assert result.reasons == [f"1 sign-off(s) missing: {role}"]


def test_every_signoff_unsigned_is_no_go(gate):
    result = gate(checklist_data(signoffs_=signoffs(unsigned=SEED_ROLES)))
    assert result.decision is NO_GO
    assert result.reasons == [f"5 sign-off(s) missing: {', '.join(SEED_ROLES)}"]


def test_unsigned_signoff_blocks_even_an_otherwise_cautious_launch(gate):
    data = checklist_data(145, 87, 136, signoffs_=signoffs(unsigned=("Ops Lead",)))
    assert gate(data).decision is NO_GO


@pytest.mark.parametrize("form", ["empty list", "key omitted"])
def test_no_signoffs_at_all_is_no_go(gate, form: str):
    # The seed asks for "all sign-offs obtained" from the decision makers and lists
    # "missing required sign-offs" as NO-GO: a checklist nobody signed cannot be GO.
    data = checklist_data(signoffs_=[])
    if form == "key omitted":
        del data["signoffs"]
    result = gate(data)
    assert result.checklist.signoffs == ()
    assert result.decision is NO_GO
    assert result.reasons == ["no sign-offs recorded: a launch needs its decision makers to sign"]


def test_duplicate_risk_ids_and_signoff_roles_are_refused(tmp_path):
    data = checklist_data(
        signoffs_=[{"role": "CTO", "signed": True}, {"role": "CTO", "signed": False}]
    )
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ValidationFailed) as failure:
        load_checklist(path)
    assert "signoffs[1].role: duplicate role 'CTO' (also signoffs[0])" in str(failure.value)


def test_signoff_name_is_optional(gate):
    result = gate(checklist_data(signoffs_=[{"role": "CTO", "signed": True}]))
    assert result.decision is GO
    assert result.checklist.signoffs[0].name is None


# --- statuses in lower case --------------------------------------------------------------


@pytest.mark.parametrize("case", [str.lower, str.capitalize])
@pytest.mark.parametrize(
    ("passed", "decision"), [(145, GO), (138, GO), (136, CAUTION), (130, NO_GO)]
)
def test_statuses_in_any_case_are_accepted_and_normalised(gate, case, passed: int, decision):
    result = gate(checklist_data(145, 87, passed, case=case))
    assert result.decision is decision
    assert {item.status for item in result.checklist.items} <= set(STATUSES)
    assert result.total.passed == passed


def test_lower_case_critical_pending_is_no_go(gate):
    assert gate(checklist_data(critical_statuses=("pending",), case=str.lower)).decision is NO_GO


# --- the JSON data ---------------------------------------------------------------------


def test_to_data_carries_the_whole_decision(gate):
    data = checklist_data(
        145,
        87,
        137,
        critical_statuses=("PARTIAL",),
        risks=[risk("HIGH", "HIGH", True, "R1"), risk("LOW", "LOW", False, "R2")],
        signoffs_=signoffs(unsigned=("Security Lead",)),
    )
    out = gate(data).to_data()
    assert out["decision"] == "NO-GO"
    assert out["critical"] == {"passed": 86, "total": 87, "percent": 98.85}
    assert out["total"] == {"passed": 136, "total": 145, "percent": 93.79}
    assert out["failing_critical"] == [
        {
            "id": "ITEM-001",
            "title": "readiness item 1",
            "status": "PARTIAL",
            "owner": "dba",
            "category": "Final Validation",
        }
    ]
    assert [r["id"] for r in out["risks"]["red"]] == ["R1"]
    assert out["risks"]["yellow"] == []
    assert [r["id"] for r in out["risks"]["green"]] == ["R2"]
    assert [s["role"] for s in out["signoffs"] if not s["signed"]] == ["Security Lead"]
    json.dumps(out)  # serialisable as is


# --- launchctl gate: exit codes and output ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "decision"),
    [
        (checklist_data(145, 87, 138), EXIT_OK, "GO"),
        (checklist_data(145, 87, 131), EXIT_ROLLED_BACK, "GO WITH CAUTION"),
        (
            checklist_data(145, 87, risks=[risk("LOW", "CRITICAL", False)]),
            EXIT_ROLLED_BACK,
            "GO WITH CAUTION",
        ),
        (checklist_data(145, 87, 130), EXIT_NO_GO, "NO-GO"),
        (checklist_data(145, 87, critical_statuses=("PENDING",)), EXIT_NO_GO, "NO-GO"),
    ],
    ids=["go", "caution-total", "caution-risk", "no-go-total", "no-go-critical"],
)
def test_cli_exit_code_follows_the_decision(tmp_path: Path, data, code: int, decision: str):
    result = launchctl_gate(write_checklist(tmp_path, data))
    assert (result.returncode, result.stderr) == (code, "")
    assert f"DECISION: {decision}" in result.stdout.splitlines()


def test_gate_exit_codes_are_the_specs():
    assert (EXIT_OK, EXIT_ROLLED_BACK, EXIT_NO_GO, EXIT_BAD_INPUT) == (0, 1, 4, 2)


def test_cli_text_shows_scores_failing_items_risks_and_signoffs(tmp_path: Path):
    data = checklist_data(
        145,
        87,
        140,
        critical_statuses=("PENDING",),
        risks=[
            risk("HIGH", "CRITICAL", False, "R1"),
            risk("MEDIUM", "HIGH", True, "R2"),
            risk("LOW", "LOW", False, "R3"),
        ],
        signoffs_=signoffs(unsigned=("Security Lead",)),
    )
    data["items"][0]["title"] = "Backups restored in a drill"
    result = launchctl_gate(write_checklist(tmp_path, data))
    assert result.returncode == EXIT_NO_GO
    out = result.stdout
    lines = out.splitlines()
    assert "86/87 (98.9%)" in out
    assert "139/145 (95.9%)" in out
    assert "Failing critical items (1):" in lines
    (failing,) = [line for line in lines if "ITEM-001" in line]
    assert re.search(r"ITEM-001\s+PENDING\s+Backups restored in a drill\s+\[owner: dba\]", failing)
    assert "  red    1 (1 unmitigated)" in lines
    assert "  yellow 1 (0 unmitigated)" in lines
    assert "  green  1 (1 unmitigated)" in lines
    assert any("R1: HIGH x CRITICAL risk (HIGH x CRITICAL, NOT mitigated)" in ln for ln in lines)
    assert any("R2: MEDIUM x HIGH risk (MEDIUM x HIGH, mitigated)" in ln for ln in lines)
    assert "Sign-offs: 4/5 signed" in lines
    assert "  unsigned: Security Lead (Andres Molina)" in lines
    decision_at = lines.index("DECISION: NO-GO")
    assert lines[decision_at + 1 :] == [
        "  - critical score 86/87 (98.9%) is below 100%",
        "  - 1 unmitigated red risk(s): R1",
        "  - 1 sign-off(s) missing: Security Lead",
    ]


def test_cli_text_for_a_caution_launch(tmp_path: Path):
    result = launchctl_gate(write_checklist(tmp_path, checklist_data(145, 87, 136)))
    assert result.returncode == EXIT_ROLLED_BACK
    assert "87/87 (100.0%)" in result.stdout
    assert "136/145 (93.8%)" in result.stdout
    assert "Failing critical items" not in result.stdout
    assert result.stdout.splitlines()[-3:] == [
        "DECISION: GO WITH CAUTION",
        "  - total score 136/145 (93.8%) is below 95%",
        "  Launch with enhanced monitoring.",
    ]


def test_cli_json(tmp_path: Path):
    data = checklist_data(
        145,
        87,
        137,
        critical_statuses=("PARTIAL",),
        risks=[risk("MEDIUM", "MEDIUM", False)],
        signoffs_=signoffs(unsigned=("CTO",)),
    )
    result = launchctl_gate(write_checklist(tmp_path, data), "--format", "json")
    assert (result.returncode, result.stderr) == (EXIT_NO_GO, "")
    out = json.loads(result.stdout)
    assert {"decision", "critical", "total", "failing_critical", "risks", "signoffs"} <= set(out)
    assert out["decision"] == "NO-GO"
    assert (out["critical"]["passed"], out["critical"]["total"]) == (86, 87)
    assert (out["total"]["passed"], out["total"]["total"]) == (136, 145)
    assert [(i["id"], i["owner"]) for i in out["failing_critical"]] == [("ITEM-001", "dba")]
    assert [r["id"] for r in out["risks"]["yellow"]] == ["R1"]
    assert out["risks"]["red"] == out["risks"]["green"] == []
    assert [s for s in out["signoffs"] if not s["signed"]] == [
        {"role": "CTO", "name": "Marta Iglesias", "signed": False}
    ]


@pytest.mark.parametrize(
    ("data", "code", "decision"),
    [
        (checklist_data(145, 87, 138), EXIT_OK, "GO"),
        (checklist_data(145, 87, 131), EXIT_ROLLED_BACK, "GO WITH CAUTION"),
        (checklist_data(145, 87, 130), EXIT_NO_GO, "NO-GO"),
    ],
    ids=["go", "caution", "no-go"],
)
def test_cli_json_exit_codes(tmp_path: Path, data, code: int, decision: str):
    result = launchctl_gate(write_checklist(tmp_path, data), "--format", "json")
    assert result.returncode == code
    assert json.loads(result.stdout)["decision"] == decision


# --- invalid checklists: FILE:LINE:COL, exit 2, no traceback ---------------------------------

INVALID = {
    "unknown_status.yaml": [
        "10:13: items[1].status: must be one of PASS | PARTIAL | FAIL | PENDING, got 'DONE'",
    ],
    "missing_title.yaml": [
        "6:5: items[1]: missing required key 'title'",
    ],
    "duplicate_id.yaml": [
        "9:9: items[2].id: duplicate id 'SEC-01' (also items[0])",
    ],
    "yaml_syntax_error.yaml": [
        "6:7: YAML syntax error: expected ',' or ']', but got ':'",
    ],
    "empty_items.yaml": [
        "2:8: items: needs at least 1 item",
    ],
    "empty_file.yaml": [
        "1:1: file is empty",
    ],
    "several_problems.yaml": [
        "5:13: items[0].status: must be one of PASS | PARTIAL | FAIL | PENDING, got 'done'",
        "7:5: items[0].colour: unknown key 'colour'",
        "9:36: risks[0].likelihood: must be one of LOW | MEDIUM | HIGH, got 'VERY HIGH'",
        "11:25: signoffs[0].signed: expected true or false",
        "12:5: signoffs[1]: missing required key 'signed'",
    ],
}


def test_every_invalid_checklist_has_an_expectation():
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_loader_reports_exactly_the_expected_diagnostics(name: str):
    path = CORPUS / name
    with pytest.raises(ValidationFailed) as failure:
        load_checklist(path)
    assert failure.value.lines() == [f"{path}:{line}" for line in INVALID[name]]
    assert failure.value.exit_code == EXIT_BAD_INPUT


@pytest.mark.parametrize("name", sorted(INVALID))
def test_cli_prints_file_line_col_and_exits_2(name: str):
    result = launchctl_gate(name, cwd=CORPUS)
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr.splitlines() == [f"{name}:{line}" for line in INVALID[name]]
    assert result.stdout == ""
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_missing_file_exits_2(tmp_path: Path):
    result = launchctl_gate("nope.yaml", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (EXIT_BAD_INPUT, "")
    assert result.stderr.splitlines() == ["nope.yaml: no such file"]


# --- examples/checklist.yaml -----------------------------------------------------------------

SEED_CATEGORIES = {
    # category: (id prefix, items, critical)
    "Security Validation": ("SEC", 22, 12),
    "Performance Validation": ("PERF", 15, 8),
    "Operational Readiness": ("OPS", 18, 10),
    "Infrastructure Readiness": ("INFRA", 12, 8),
    "Application Readiness": ("APP", 14, 6),
    "Data & Database Readiness": ("DATA", 10, 6),
    "Monitoring & Observability": ("MON", 12, 8),
    "Disaster Recovery": ("DR", 8, 6),
    "Documentation": ("DOC", 10, 4),
    "Team Readiness": ("TEAM", 8, 5),
    "Compliance & Legal": ("COMP", 6, 4),
    "Final Validation": ("FINAL", 10, 10),
}


def test_example_has_the_seeds_145_items_in_12_categories():
    checklist = load_checklist(EXAMPLE)
    assert len(checklist.items) == 145
    assert sum(item.critical for item in checklist.items) == 87
    for category, (prefix, count, critical) in SEED_CATEGORIES.items():
        items = [item for item in checklist.items if item.category == category]
        assert len(items) == count, category
        assert sum(item.critical for item in items) == critical, category
        assert [item.id for item in items] == [f"{prefix}-{n:02d}" for n in range(1, count + 1)]
    assert {item.category for item in checklist.items} == set(SEED_CATEGORIES)


def test_example_items_have_owners_and_pass_items_evidence():
    checklist = load_checklist(EXAMPLE)
    assert all(item.owner for item in checklist.items)
    for item in checklist.items:
        if item.status == "PASS":
            assert item.evidence and item.evidence.startswith("https://ci.example/"), item.id


def test_example_decides_go_with_caution():
    result = evaluate_gate(load_checklist(EXAMPLE))
    assert result.decision is CAUTION
    assert (result.critical.passed, result.critical.total) == (87, 87)
    assert (result.total.passed, result.total.total) == (136, 145)
    assert result.checklist.items and all(
        item.status == "PASS" for item in result.checklist.items if item.critical
    )
    assert 4 <= len(result.checklist.risks) <= 6
    assert [s.role for s in result.checklist.signoffs] == list(SEED_ROLES)
    assert all(s.signed and s.name for s in result.checklist.signoffs)
    assert result.reasons == [
        "total score 136/145 (93.8%) is below 95%",
        "1 unmitigated yellow risk(s): R3",
    ]


def test_cli_on_the_example():
    result = launchctl_gate("examples/checklist.yaml")
    assert (result.returncode, result.stderr) == (EXIT_ROLLED_BACK, "")
    assert "87/87 (100.0%)" in result.stdout
    assert "136/145 (93.8%)" in result.stdout
    assert "DECISION: GO WITH CAUTION" in result.stdout.splitlines()
    as_json = json.loads(launchctl_gate("examples/checklist.yaml", "--format", "json").stdout)
    assert as_json["decision"] == "GO WITH CAUTION"
