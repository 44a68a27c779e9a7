"""``launchctl checkpoint`` and ``watch`` over two days of a real Prometheus's backfilled history
(tests/checkpoint_history.py): a launch that went live 52 hours ago (run under libfaketime, so
its journal is a real launch's), then ``checkpoint --now`` at chosen moments, as a systemd timer
would call it, without waiting 48 hours."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import pytest
from checkpoint_history import LAUNCH, checkpoint_history, launch_in_the_past
from conftest import events_of, read_events

from launchctl.journal.catalogue import iso, parse_iso


@pytest.fixture(scope="module")
def past(tmp_path_factory):
    server = checkpoint_history(tmp_path_factory.mktemp("checkpoint-history"))
    yield server
    server.stop()


def at(t0: datetime, **offset: float) -> str:
    return iso(t0 + timedelta(**offset))


def test_a_timer_runs_each_checkpoint_once_and_the_record_declares_the_launch_stable(
    cli, workdir, past
):
    journal = launch_in_the_past(workdir, past.url, past.t0)
    anchor = events_of(read_events(journal), "guards_anchored")[0]["anchor"]
    assert anchor.startswith(iso(past.t0)[:16])  # went live at the faked moment

    early = cli("checkpoint", journal, "--now", at(past.t0, hours=1))
    assert early.exit_code == 0 and "no checkpoint due (next: T+2h" in early.stderr

    first = cli("checkpoint", journal, "--now", at(past.t0, hours=2, minutes=5))
    assert first.exit_code == 0, first.stderr
    lines = (journal / "journal.jsonl").read_text()
    again = cli("checkpoint", journal, "--now", at(past.t0, hours=2, minutes=20))
    assert again.exit_code == 0 and "no checkpoint due (next: T+4h" in again.stderr
    assert (journal / "journal.jsonl").read_text() == lines  # a second call adds nothing

    results = events_of(read_events(journal), "checkpoint_result")
    assert [(r["slot"], r["status"]) for r in results] == [("T+2h", "pass")]
    ratio, p95, rate = results[0]["checks"]
    assert ratio["value"] == pytest.approx(0.0005, rel=0.01)
    assert p95["baseline"] == pytest.approx(0.2) and p95["ratio"] == pytest.approx(1.1)
    assert rate["ratio"] == pytest.approx(1.0, rel=0.01)
    measured = events_of(read_events(journal), "baseline_measured")
    assert {b["window"] for b in measured} == {"T-30m..T-5m"} and len(measured) == 3

    incident = cli("checkpoint", journal, "--now", at(past.t0, hours=6, minutes=1))
    assert incident.exit_code == 1
    results = events_of(read_events(journal), "checkpoint_result")
    assert [(r["slot"], r["status"]) for r in results[1:]] == [("T+4h", "pass"), ("T+6h", "fail")]
    assert "1.5x baseline" in results[-1]["checks"][1]["reason"]
    failed = [
        n
        for n in events_of(read_events(journal), "notification")
        if n["milestone"] == "checkpoint_failed"
    ]
    assert len(failed) == 1 and "CHECKPOINT T+6h FAIL" in failed[0]["message"]
    repeat = cli("checkpoint", journal, "--now", at(past.t0, hours=6, minutes=30))
    assert repeat.exit_code == 1 and "last: T+6h fail" in repeat.stderr
    assert len(events_of(read_events(journal), "checkpoint_result")) == 3

    status = cli("status", journal)
    assert "checkpoints: 3/18 done; last T+6h fail; next T+8h" in status.stdout

    rest = cli("checkpoint", journal, "--now", at(past.t0, hours=48, minutes=10))
    assert rest.exit_code == 0, rest.stderr
    results = events_of(read_events(journal), "checkpoint_result")
    assert [r["slot"] for r in results][-3:] == ["T+40h", "T+44h", "T+48h"]
    assert all(r["status"] == "pass" for r in results[3:]) and len(results) == 18
    milestones = [n["milestone"] for n in events_of(read_events(journal), "notification")]
    assert milestones.count("checkpoint_review") == 2 and milestones[-1] == "declared_stable"

    report = cli("report", journal)
    assert "## Checkpoints" in report.stdout
    assert "**Declared stable at T+48h**" in report.stdout
    assert "| T+6h | fail | ✗ 0.02 (40.00× baseline) | ✗ 0.9 (4.50× baseline) |" in report.stdout
    assert "| T+24h (review) | pass | ✓ 0.0005 (1.00× baseline) | ✓ 0.22 (1.10× baseline) |" in (
        report.stdout
    )
    assert "baseline 0.2, trend" in report.stdout
    assert "declared stable at T+48h" in cli("status", journal).stdout


def test_watch_resumes_where_the_journal_stands_and_ends_after_the_last_checkpoint(
    cli, workdir, past
):
    journal = launch_in_the_past(workdir, past.url, past.t0)
    assert cli("checkpoint", journal, "--now", at(past.t0, hours=4, minutes=1)).exit_code == 0
    watched = cli("watch", journal, "--now", at(past.t0, hours=48, minutes=1))
    assert watched.exit_code == 0, watched.stderr
    slots = [r["slot"] for r in events_of(read_events(journal), "checkpoint_result")]
    assert slots[:3] == ["T+2h", "T+4h", "T+6h"] and len(slots) == len(set(slots)) == 18


def test_a_launch_that_rolled_back_has_nothing_to_watch(cli, write_runbook, past):
    runbook = write_runbook(
        LAUNCH.replace("URL", past.url).replace(
            'run: "true"}\n  - {id: golive', 'run: "false"}\n  - {id: golive'
        )
    )
    launched = cli("run", runbook, "--no-wait")
    assert launched.exit_code == 1
    result = cli("checkpoint", launched.journal_dir)
    assert result.exit_code == 0 and "the launch ended rolled_back" in result.stderr
    assert not events_of(launched.events, "checkpoint_result")


def test_then_ask_asks_the_person_at_watch_who_may_choose_the_rollback(workdir, past):
    import pexpect

    asking = LAUNCH.replace("  review: [T+24h, T+48h]\n", "  review: [T+24h, T+48h]\n  then: ask\n")
    asking += 'rollback:\n  - {id: undo, run: "echo undone > undone"}\n'
    journal = launch_in_the_past(workdir, past.url, past.t0, asking)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "launchctl.cli", "watch", str(journal), "--now", at(past.t0, hours=6, minutes=1)],
        cwd=str(workdir),
        dimensions=(40, 160),
        encoding="utf-8",
        timeout=30,
        env={"TERM": "xterm-256color", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    child.expect("A PERSON MUST DECIDE: CHECKPOINT T\\+6h FAIL")
    child.expect(r"A checkpoint failed. What now\? \(continue, rollback, stop\)")
    child.sendline("rollback")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 1, child.before
    assert (workdir / "undone").read_text() == "undone\n"
    events = read_events(journal)
    decision = events_of(events, "operator_decision")[-1]
    assert decision["kind"] == "checkpoint" and decision["answer"] == "rollback"
    assert events_of(events, "rollback_started")[0]["trigger"] == "operator"
    assert [r["slot"] for r in events_of(events, "checkpoint_result")] == ["T+2h", "T+4h", "T+6h"]


def test_a_launch_whose_driver_died_mid_rollback_has_nothing_to_declare_stable(
    cli, write_runbook, past, workdir
):
    """The driver is killed while the rollback runs: nothing is live, the release is half undone.
    A timer's ``checkpoint`` must not judge it and notify "DECLARED STABLE"."""
    import os
    import signal
    import subprocess

    from conftest import launchctl_argv, wait_for

    text = LAUNCH.replace("URL", past.url).replace(
        '  - {id: golive, at: T+0, run: "true"}\n',
        '  - {id: golive, at: T+0, run: "true"}\n  - {id: verify, at: T+0, run: "false"}\n',
    )
    runbook = write_runbook(text + 'rollback:\n  - {id: undo, run: "sleep 60"}\n')
    journal = workdir / "journal"
    driver = subprocess.Popen(
        launchctl_argv("run", runbook, "--no-wait", "--journal", journal),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (
                (journal / "journal.jsonl").exists()
                and events_of(read_events(journal), "rollback_step_started")
            ),
            timeout=30,
        )
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    went_live = events_of(read_events(journal), "guards_anchored")[0]["anchor"]
    result = cli("checkpoint", journal, "--now", at(parse_iso(went_live), hours=48, minutes=10))
    assert "rollback" in result.stderr and "no release to watch" in result.stderr, result.stderr
    events = read_events(journal)
    assert not events_of(events, "checkpoint_result")
    assert not [n for n in events_of(events, "notification") if n["milestone"] == "declared_stable"]


SECRET_URL = LAUNCH.replace(
    'prometheus: {url: "URL"}', 'secrets: [PROM_BASE]\nprometheus: {url: "${PROM_BASE}"}'
)


def test_a_timer_without_the_runbooks_secrets_is_refused_before_it_judges_anything(
    cli, workdir, past, monkeypatch
):
    """The launch refuses to start without its secrets; a timer's unit that lacks them judged the
    checkpoints against a URL with the secret left empty, and notified what it found."""
    monkeypatch.setenv("PROM_BASE", past.url)
    journal = launch_in_the_past(workdir, past.url, past.t0, SECRET_URL)
    result = cli(
        "checkpoint", journal, "--now", at(past.t0, hours=2, minutes=5), env={"PROM_BASE": ""}
    )
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "PROM_BASE" in result.stderr
    events = read_events(journal)
    assert not events_of(events, "checkpoint_result") and not events_of(events, "baseline_measured")


def test_a_baseline_prometheus_could_not_give_is_measured_again_by_the_next_checkpoint(
    cli, workdir, past, monkeypatch
):
    """Prometheus unreachable at the first checkpoint: that checkpoint could not tell. The
    baseline window is history, so the next call measures it again; it was journaled as 'no
    baseline' once and every later checkpoint stayed inconclusive for two days."""
    from realservers import free_port

    monkeypatch.setenv("PROM_BASE", past.url)
    journal = launch_in_the_past(workdir, past.url, past.t0, SECRET_URL)
    down = {"PROM_BASE": f"http://127.0.0.1:{free_port()}"}
    first = cli("checkpoint", journal, "--now", at(past.t0, hours=2, minutes=5), env=down)
    assert first.exit_code == 1, first.stdout + first.stderr  # could not tell
    later = cli(
        "checkpoint", journal, "--now", at(past.t0, hours=4, minutes=5), env={"PROM_BASE": past.url}
    )
    assert later.exit_code == 0, later.stdout + later.stderr
    results = events_of(read_events(journal), "checkpoint_result")
    assert [(r["slot"], r["status"]) for r in results] == [
        ("T+2h", "inconclusive"),
        ("T+4h", "pass"),
    ]
    assert results[-1]["checks"][1]["baseline"] == pytest.approx(0.2)
