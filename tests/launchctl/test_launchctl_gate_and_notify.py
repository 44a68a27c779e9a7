"""A gated runbook refuses NO-GO unless overridden; milestones reach Slack and webhooks."""

from __future__ import annotations

import time

from conftest import events_of
from notify_receiver import Receiver

CHECKLIST = """
checklist: Readiness
items:
  - {{id: SEC-01, title: TLS valid, critical: true, status: {status}, owner: ops-lead}}
  - {{id: DOC-01, title: Runbook reviewed, status: PASS}}
signoffs:
  - {{role: CTO, name: Ana, signed: true}}
"""

GATED = """
version: 1
name: Gated
gate: checklist.yaml
steps:
  - {id: deploy, at: T+0, run: "touch deployed"}
"""


def test_gated_run_refuses_no_go_with_exit_4_and_runs_nothing(write_runbook, cli, workdir):
    (workdir / "checklist.yaml").write_text(CHECKLIST.format(status="PENDING"))
    result = cli("run", write_runbook(GATED), "--no-wait")
    assert result.exit_code == 4
    assert not (workdir / "deployed").exists()
    assert "gate: NO-GO" in result.stderr and "critical score 0/1" in result.stderr
    finished = events_of(result.events, "launch_finished")[0]
    assert finished["status"] == "refused_by_gate" and finished["exit_code"] == 4
    assert "refused_by_gate" in cli("report", result.journal_dir).stdout


def test_override_gate_runs_and_records_the_reason(write_runbook, cli, workdir):
    (workdir / "checklist.yaml").write_text(CHECKLIST.format(status="PENDING"))
    result = cli(
        "run", write_runbook(GATED), "--no-wait", "--override-gate", "CTO accepted the WAF gap"
    )
    assert result.exit_code == 0
    assert (workdir / "deployed").exists()
    started = events_of(result.events, "launch_started")[0]
    assert (
        started["gate"]["decision"] == "NO-GO"
        and started["gate_override"] == "CTO accepted the WAF gap"
    )
    assert (
        "Go/no-go gate overridden:** CTO accepted the WAF gap"
        in cli("report", result.journal_dir).stdout
    )


def test_go_gate_runs(write_runbook, cli, workdir):
    (workdir / "checklist.yaml").write_text(CHECKLIST.format(status="PASS"))
    result = cli("run", write_runbook(GATED), "--no-wait")
    assert result.exit_code == 0 and "gate: GO (" in result.stderr


def test_a_broken_checklist_is_bad_input(write_runbook, cli, workdir):
    (workdir / "checklist.yaml").write_text(
        "checklist: x\nitems: [{id: A, title: t, status: DONE}]\n"
    )
    result = cli("run", write_runbook(GATED), "--no-wait")
    assert result.exit_code == 2 and "checklist.yaml:2:" in result.stderr


NOTIFIED = """
version: 1
name: Notified
secrets: [SLACK_WEBHOOK]
notify:
  - slack: "${{SLACK_WEBHOOK}}"
  - webhook: "{url}/launch"
steps:
  - {{id: golive, at: T+0, run: "true", notify: "GO LIVE: v1.4.0"}}
  - {{id: smoke, at: T+0, run: "exit 1"}}
rollback:
  - {{id: undo, run: "true"}}
"""


def test_milestones_reach_slack_and_the_webhook(write_runbook, cli, receiver):
    runbook = write_runbook(NOTIFIED.format(url=receiver.url))
    result = cli(
        "run",
        runbook,
        "--no-wait",
        env={"SLACK_WEBHOOK": receiver.url + "/slack/T000/B000/secret-token-xyz"},
    )
    assert result.exit_code == 1
    slack = [body["text"] for path, body in receiver.posts if path.startswith("/slack/")]
    events = [body for path, body in receiver.posts if path == "/launch"]
    assert slack[0].startswith("LAUNCH STARTED: Notified")
    assert "GO LIVE: v1.4.0" in slack and "GO-LIVE DONE: golive" in slack
    assert any(
        text.startswith("ROLLBACK INITIATED - reason: step 'smoke' failed") for text in slack
    )
    assert "ROLLBACK COMPLETE" in slack and slack[-1] == "LAUNCH ROLLED BACK: Notified"
    assert [e["milestone"] for e in events][:2] == ["launch_started", "step"]
    assert all(e["launch"] == result.events[0]["launch_id"] for e in events)
    journal = (result.journal_dir / "journal.jsonl").read_text()
    assert "secret-token-xyz" not in journal


def test_a_dead_or_slow_channel_never_delays_or_fails_the_launch(write_runbook, cli):
    slow = Receiver(status=500, delay=3)
    try:
        runbook = write_runbook(NOTIFIED.format(url=slow.url).replace("exit 1", "true"))
        started = time.monotonic()
        result = cli("run", runbook, "--no-wait", env={"SLACK_WEBHOOK": "http://127.0.0.1:9/dead"})
        assert result.exit_code == 0
        assert (
            time.monotonic() - started < 12
        )  # the steps never waited on a channel; only the bounded final flush
        failures = events_of(result.events, "notification_failed")
        assert failures, "a dead channel is logged"
    finally:
        slow.close()
