"""preflight on SSH targets: every host reached, its key trusted, auth working, nothing run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real sshd on loopback


def write(workdir: Path, text: str, **values: str) -> Path:
    text = textwrap.dedent(text).lstrip()
    for name, value in values.items():
        text = text.replace(name, value)
    path = workdir / "launch.yaml"
    path.write_text(text)
    return path


def ssh_rows(stdout: str) -> dict[str, list[str]]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("HOST"))
    assert lines[start].split() == ["HOST", "REACHABLE", "KEY", "AUTH", "LATENCY", "DETAIL"]
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows[line.split()[0]] = line.split()
    return rows


def test_preflight_connects_to_every_host_used_and_runs_nothing(ssh_lab, workdir, cli, sshd):
    runbook = write(
        workdir,
        """
        version: 1
        name: Ready
        ssh: SSH
        targets:
          api: {hosts: [app1, app2]}
          db: {hosts: [app3]}
          unused: {hosts: [dead]}
          web: {hosts: [app4]}
        steps:
          - {id: deploy, at: T-5m, on: api, run: "touch DIR/deployed"}
          - {id: health, at: T+0, check: [{command: "touch DIR/checked", on: db}]}
          - {id: note, at: T+1m, on: web, notify: "no command runs on web"}
        rollback:
          - {id: undo, on: api, run: "touch DIR/undone"}
        """,
        SSH=ssh_lab.ssh_section(),
        DIR=str(workdir),
    )
    result = cli("preflight", runbook)
    assert result.exit_code == 0, result.stdout
    rows = ssh_rows(result.stdout)
    assert sorted(rows) == ["app1", "app2", "app3"]  # dead's target and web run nothing
    for row in rows.values():
        assert row[1:5] == ["yes", "trusted", "ok", row[4]] and row[5] == "ms"
        assert float(row[4]) < 1000
    assert f"{sshd.user}@127.0.0.1:{sshd.port}" in result.stdout
    assert result.stdout.splitlines()[-1] == "preflight: 3 passed, 0 failed"
    assert not list(workdir.glob("deployed")) and not (workdir / "checked").exists()


def test_preflight_shows_each_hosts_problem_and_exits_1(ssh_lab, workdir, cli, sshd):
    runbook = write(
        workdir,
        """
        version: 1
        name: Not ready
        ssh: SSH
        targets:
          api: {hosts: [app1, dead, silent, wrongkey]}
        steps:
          - {id: deploy, at: T+0, on: api, run: "true"}
        """,
        SSH=ssh_lab.ssh_section(connect_timeout="1s"),
    )
    result = cli("preflight", runbook)
    assert result.exit_code == 1
    rows = ssh_rows(result.stdout)
    assert rows["app1"][1:4] == ["yes", "trusted", "ok"]
    assert rows["dead"][1:4] == ["no", "-", "-"] and "connection refused" in " ".join(rows["dead"])
    assert rows["silent"][1:4] == ["no", "-", "-"] and "no SSH banner" in " ".join(rows["silent"])
    assert rows["wrongkey"][1:4] == ["yes", "trusted", "REFUSED"]
    assert "authentication refused" in " ".join(rows["wrongkey"])
    assert result.stdout.splitlines()[-1] == "preflight: 1 passed, 3 failed"


def test_preflight_reports_unknown_keys_and_records_them_under_accept_new(
    ssh_lab, workdir, cli, sshd
):
    known = workdir / "known_hosts_new"
    text = """
    version: 1
    name: New hosts
    ssh: SSH
    targets:
      api: {hosts: [app1, app2]}
    steps:
      - {id: deploy, at: T+0, on: api, run: "true"}
    """
    strict = cli("preflight", write(workdir, text, SSH=ssh_lab.ssh_section(known_hosts=known)))
    assert strict.exit_code == 1
    rows = ssh_rows(strict.stdout)
    assert rows["app1"][1:4] == ["yes", "UNKNOWN", "-"]
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known}" in strict.stdout

    accepting = write(workdir, text, SSH=ssh_lab.ssh_section("accept-new", known_hosts=known))
    recorded = cli("preflight", accepting)
    assert recorded.exit_code == 0, recorded.stdout
    keys = {row[2] + " " + row[3] for row in ssh_rows(recorded.stdout).values()}
    assert "new, recorded" in keys  # the first alias records it, the other finds it trusted
    assert known.read_text() == sshd.known_hosts_line


def test_preflight_table_keeps_other_checks_above_the_ssh_hosts(ssh_lab, workdir, cli):
    runbook = write(
        workdir,
        """
        version: 1
        name: Mixed
        secrets: [API_TOKEN]
        ssh: SSH
        targets:
          api: {hosts: [app1]}
        steps:
          - {id: deploy, at: T+0, on: api, run: "true"}
        """,
        SSH=ssh_lab.ssh_section(),
    )
    result = cli("preflight", runbook, env={"API_TOKEN": "x" * 12})
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "SUBJECT", "RESULT", "LATENCY", "DETAIL"]
    assert lines[1].startswith("secret")
    assert ssh_rows(result.stdout)["app1"][1:4] == ["yes", "trusted", "ok"]


def test_preflight_reaches_the_hosts_only_the_roll_forward_runs_on(ssh_lab, workdir, cli):
    """Past the point of no return the roll-forward is all there is: a target only it uses must
    be proved reachable before the launch, not found dead when it is needed."""
    runbook = write(
        workdir,
        """
        version: 1
        name: Fix forward
        ssh: SSH
        targets:
          api: {hosts: [app1]}
          flags: {hosts: [dead]}
        steps:
          - {id: contract, at: T+0, on: api, run: "true", irreversible: "drops a column"}
        roll_forward:
          - {id: flag-off, on: flags, run: "true"}
        """,
        SSH=ssh_lab.ssh_section(connect_timeout="1s"),
    )
    result = cli("preflight", runbook)
    assert result.exit_code == 1, result.stdout
    rows = ssh_rows(result.stdout)
    assert sorted(rows) == ["app1", "dead"]
    assert rows["dead"][1] == "no"
