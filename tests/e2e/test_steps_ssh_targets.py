"""Launches on SSH targets through the CLI, against a real sshd: fan-out bounded by
``parallel``, ``max_fail`` as a count and a percentage, per-host failures, host key
policy, ``--targets``, rollback and checks over SSH, connection reuse, dry runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import events_of

pytestmark = pytest.mark.slow  # a real sshd on loopback


def write(workdir: Path, lab, text: str, name: str = "launch.yaml", **values: str) -> Path:
    """A runbook with SSH (the lab's ssh section) and DIR (the scratch dir) filled in."""
    text = textwrap.dedent(text).lstrip()
    values = {"SSH": lab.ssh_section(), "DIR": str(workdir), **values}
    for name_, value in values.items():
        text = text.replace(name_, value)
    path = workdir / name
    path.write_text(text)
    return path


def commands(result, step: str | None = None) -> dict[str, dict]:
    return {
        e["host"]: e
        for e in events_of(result.events, "command_finished")
        if step is None or e["step"] == step
    }


def max_in_flight(intervals: list[tuple[float, float]]) -> int:
    return max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)


def intervals(workdir: Path, hosts: list[str]) -> list[tuple[float, float]]:
    spans = []
    for host in hosts:
        start, end = (workdir / f"{host}.times").read_text().split()
        spans.append((float(start), float(end)))
    return spans


TIMED = """
version: 1
name: Fan-out
ssh: SSH
targets:
  api: {hosts: [app1, app2, app3, app4, app5, app6], parallel: PARALLEL}
steps:
  - id: deploy
    at: T+0
    on: api
    run: "date +%s.%N > DIR/{{ host }}.times; sleep 0.4; date +%s.%N >> DIR/{{ host }}.times"
"""


@pytest.mark.parametrize("parallel", [1, 2, 6])
def test_parallel_bounds_the_hosts_in_flight(ssh_lab, workdir, cli, parallel):
    result = cli(
        "run", write(workdir, ssh_lab, TIMED, PARALLEL=str(parallel)), "--no-wait", "--yes"
    )
    assert result.exit_code == 0, result.stderr
    hosts = ssh_lab.aliases[:6]
    assert sorted(commands(result)) == sorted(hosts)  # six aliases of one address, six results
    assert max_in_flight(intervals(workdir, hosts)) == parallel
    if parallel == 1:  # a rolling deploy goes in the runbook's order
        spans = intervals(workdir, hosts)
        assert spans == sorted(spans)


FAILING_ON_SOME = """
version: 1
name: Max fail
ssh: SSH
targets:
  api: {hosts: [app1, app2, app3, app4, app5, app6], parallel: 1, max_fail: MAXFAIL}
steps:
  - id: deploy
    at: T+0
    on: api
    run: 'touch DIR/{{ host }}.ran; case {{ host }} in app2|app4) echo "disk full" >&2; exit 1;; esac'
"""


@pytest.mark.parametrize(
    "max_fail,ran,exit_code",
    [
        ("1", 4, 1),  # two failures > 1: app5, app6 never start
        ("2", 6, 0),
        ('"20%"', 4, 1),  # 20% of 6 hosts = 1 allowed
        ('"34%"', 6, 0),  # 34% of 6 hosts = 2 allowed
    ],
)
def test_max_fail_as_count_and_percent(ssh_lab, workdir, cli, max_fail, ran, exit_code):
    result = cli(
        "run", write(workdir, ssh_lab, FAILING_ON_SOME, MAXFAIL=max_fail), "--no-wait", "--yes"
    )
    assert result.exit_code == exit_code, result.stderr
    hosts = ssh_lab.aliases[:6]
    assert [h for h in hosts if (workdir / f"{h}.ran").exists()] == hosts[:ran]
    by_host = commands(result)
    assert by_host["app2"]["status"] == "failed" and by_host["app2"]["tail"] == ["disk full"]
    for host in hosts[ran:]:
        assert by_host[host]["reason"] == "not started: max_fail exceeded"
    step = events_of(result.events, "step_finished")[0]
    if exit_code:
        assert step["status"] == "failed"
        assert (
            step["reason"]
            == "on app2: exit code 1, expected 0 (last output: 'disk full') (and 3 more hosts)"
        )
    else:
        assert step["status"] == "ok"


def test_unreachable_host_and_wrong_key_are_reported_per_host(ssh_lab, workdir, cli, sshd):
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Broken hosts
        ssh: SSH
        targets:
          api: {hosts: [app1, dead, wrongkey], max_fail: MAXFAIL}
        steps:
          - {id: deploy, at: T+0, on: api, run: "echo deployed on {{ host }}"}
        """,
        MAXFAIL="2",
    )
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 0, result.stderr
    by_host = commands(result)
    assert by_host["app1"]["status"] == "ok" and by_host["app1"]["tail"] == ["deployed on app1"]
    dead, wrong = by_host["dead"], by_host["wrongkey"]
    assert dead["status"] == "failed" and dead.get("exit_code") is None
    assert dead["reason"].startswith("dead (") and "connection refused" in dead["reason"]
    assert wrong["status"] == "failed" and "authentication refused" in wrong["reason"]
    assert wrong["reason"].startswith("wrongkey (")

    strict = write(workdir, ssh_lab, runbook.read_text().replace("max_fail: 2", "max_fail: 0"))
    failed = cli("run", strict, "--no-wait", "--yes")
    assert failed.exit_code == 1
    reason = events_of(failed.events, "step_finished")[0]["reason"]
    assert reason.startswith("dead (") and "connection refused" in reason
    assert reason.endswith("(and 1 more hosts)")


def test_unknown_key_refused_under_strict_then_recorded_under_accept_new(
    ssh_lab, workdir, cli, sshd
):
    known = workdir / "fresh_known_hosts"
    text = """
    version: 1
    name: New hosts
    ssh: SSH
    targets:
      api: {hosts: [app1, app2, app3], parallel: 3}
    steps:
      - {id: deploy, at: T+0, on: api, run: "true"}
    """
    strict = write(workdir, ssh_lab, text, SSH=ssh_lab.ssh_section("strict", known_hosts=known))
    refused = cli("run", strict, "--no-wait", "--yes")
    assert refused.exit_code == 1
    for host, event in commands(refused).items():
        assert event["reason"].startswith(f"{host}: host key for [127.0.0.1]:{sshd.port}")
        assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known}" in event["reason"]
    assert not known.exists()

    accepting = write(
        workdir, ssh_lab, text, SSH=ssh_lab.ssh_section("accept-new", known_hosts=known)
    )
    accepted = cli("run", accepting, "--no-wait", "--yes")
    assert accepted.exit_code == 0, accepted.stderr
    assert known.read_text() == sshd.known_hosts_line
    assert cli("run", strict, "--no-wait", "--yes").exit_code == 0


def test_a_changed_key_is_refused_even_under_accept_new(ssh_lab, workdir, cli, sshd):
    from realservers_ssh import keygen

    key_type, key = keygen(workdir / "other").with_suffix(".pub").read_text().split()[:2]
    known = workdir / "changed"
    known.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {key}\n")
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Changed key
        ssh: SSH
        targets:
          api: {hosts: [app1]}
        steps:
          - {id: deploy, at: T+0, on: api, run: "touch DIR/should-not-run"}
        """,
        SSH=ssh_lab.ssh_section("accept-new", known_hosts=known),
    )
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 1
    assert "CHANGED" in commands(result)["app1"]["reason"]
    assert not (workdir / "should-not-run").exists()
    assert known.read_text() == f"[127.0.0.1]:{sshd.port} {key_type} {key}\n"


def test_targets_file_points_the_same_runbook_at_staging(ssh_lab, workdir, cli):
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Production launch
        ssh: SSH
        targets:
          api: {hosts: [prod-app1.invalid, prod-app2.invalid], user: deploy}
        steps:
          - {id: deploy, at: T+0, on: api, run: "touch DIR/{{ host }}.deployed"}
        """,
    )
    staging = workdir / "staging.yaml"
    staging.write_text("targets:\n  api: {hosts: [app1, app2], parallel: 2}\n")
    result = cli("run", runbook, "--targets", staging, "--no-wait", "--yes")
    assert result.exit_code == 0, result.stderr
    assert (workdir / "app1.deployed").exists() and (workdir / "app2.deployed").exists()
    assert sorted(commands(result)) == ["app1", "app2"]
    assert cli("run", runbook, "--no-wait", "--yes").exit_code == 1  # production is not reachable


def test_rollback_steps_and_command_checks_run_over_ssh(ssh_lab, workdir, cli):
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Rolled back
        ssh: SSH
        targets:
          api: {hosts: [app1, app2, app3], parallel: 2}
        steps:
          - id: deploy
            at: T-5m
            on: api
            run: "touch DIR/{{ host }}.deployed"
            check: [{command: "test -f DIR/{{ host }}.deployed", on: api}]
          - {id: golive, at: T+0, run: "exit 1"}
        rollback:
          - {id: undeploy, if_started: deploy, on: api, run: "rm DIR/{{ host }}.deployed; echo undone {{ host }}"}
        """,
    )
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 1, result.stderr
    checks = [e for e in events_of(result.events, "check_result") if e["step"] == "deploy"]
    assert sorted(c["host"] for c in checks) == ["app1", "app2", "app3"]
    assert all(c["status"] == "pass" for c in checks)
    undone = commands(result, "undeploy")
    assert sorted(undone) == ["app1", "app2", "app3"]
    assert all(e["status"] == "ok" and e["phase"] == "rollback" for e in undone.values())
    assert undone["app2"]["tail"] == ["undone app2"]
    assert not list(workdir.glob("*.deployed"))
    rollback = {e["step"]: e for e in events_of(result.events, "rollback_step_finished")}
    assert rollback["undeploy"]["status"] == "ok"


def test_a_failing_command_check_names_the_host(ssh_lab, workdir, cli):
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Check fails
        ssh: SSH
        targets:
          api: {hosts: [app1, app2]}
        steps:
          - id: verify
            at: T+0
            check: [{command: 'test {{ host }} = app1', on: api}]
        """,
    )
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 1
    step = events_of(result.events, "step_finished")[0]
    assert "on app2" in step["reason"]


def test_the_second_step_reuses_the_first_steps_connections(ssh_lab, workdir, cli, sshd):
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Reuse
        ssh: SSH
        targets:
          api: {hosts: [app1, app2, app3], parallel: 3}
        steps:
          - {id: one, at: T-1m, on: api, run: "true"}
          - {id: two, at: T+0, on: api, run: "true"}
          - {id: three, at: T+1m, check: [{command: "true", on: api}]}
        """,
    )
    before = sshd.logins()
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 0, result.stderr
    assert sshd.logins() - before == 3  # one handshake per host for the whole launch


def test_each_hosts_exit_code_duration_and_last_lines_are_journaled(ssh_lab, workdir, cli):
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Journal
        ssh: SSH
        targets:
          api: {hosts: [app1, app2], max_fail: 1}
        steps:
          - id: deploy
            at: T+0
            on: api
            run: 'seq 1 50; test {{ host }} = app1 || exit 7'
        """,
    )
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 0, result.stderr
    by_host = commands(result)
    assert by_host["app1"]["exit_code"] == 0 and by_host["app2"]["exit_code"] == 7
    assert by_host["app2"]["tail"][-1] == "50" and len(by_host["app2"]["tail"]) == 40
    assert all(e["duration_s"] > 0 for e in by_host.values())
    report = cli("report", result.journal_dir, "--format", "json")
    assert report.exit_code == 0 and "app2" in report.stdout


def test_secret_env_reaches_the_host_but_never_the_journal(ssh_lab, workdir, cli):
    secret = "hunter2 'quoted' $(not-run)"
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Secrets
        secrets: [DB_PASSWORD]
        ssh: SSH
        targets:
          db: {hosts: [app1]}
        steps:
          - id: migrate
            at: T+0
            on: db
            env: {PGPASSWORD: "${DB_PASSWORD}"}
            run: printf '%s' "$PGPASSWORD" > DIR/seen; echo "pw=$PGPASSWORD"
        """,
    )
    result = cli("run", runbook, "--no-wait", "--yes", env={"DB_PASSWORD": secret})
    assert result.exit_code == 0, result.stderr
    assert (workdir / "seen").read_text() == secret
    journal = (result.journal_dir / "journal.jsonl").read_text()
    assert "hunter2" not in journal and "hunter2" not in result.stdout + result.stderr
    assert commands(result)["app1"]["tail"] == ["pw=***"]


def test_dry_run_and_drill_never_open_a_connection(ssh_lab, workdir, cli, sshd):
    runbook = write(
        workdir,
        ssh_lab,
        """
        version: 1
        name: Rehearsal
        ssh: SSH
        targets:
          api: {hosts: [app1, app2, dead]}
        steps:
          - {id: deploy, at: T-5m, on: api, run: "touch DIR/{{ host }}.touched"}
          - {id: golive, at: T+0, check: [{command: "true", on: api}]}
        rollback:
          - {id: undeploy, on: api, run: "touch DIR/{{ host }}.undone"}
        """,
    )
    before = sshd.logins()
    dry = cli("run", runbook, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert sorted(commands(dry)) == ["app1", "app2", "dead"]
    assert commands(dry)["app2"]["command"] == "touch " + str(workdir / "app2.touched")
    drill = cli("drill", runbook, "--fail-at", "golive")
    assert drill.exit_code == 0, drill.stderr
    assert sshd.logins() == before
    assert not list(workdir.glob("*.touched")) and not list(workdir.glob("*.undone"))
