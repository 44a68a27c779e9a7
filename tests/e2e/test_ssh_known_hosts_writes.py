"""What ``accept-new`` writes into known_hosts, and what it does when it cannot write:
against the real sshd, through the CLI, read back by the real ssh client."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import events_of

pytestmark = pytest.mark.slow  # a real sshd on loopback

RUNBOOK = """
version: 1
name: New host
ssh: SSH
targets:
  api: {hosts: [app1]}
steps:
  - {id: deploy, at: T+0, on: api, run: "touch DIR/ran"}
"""


def write(workdir: Path, ssh: str) -> Path:
    path = workdir / "launch.yaml"
    path.write_text(textwrap.dedent(RUNBOOK).replace("SSH", ssh).replace("DIR", str(workdir)))
    return path


def reason_of(result) -> str:
    return events_of(result.events, "command_finished")[0]["reason"]


def test_an_unwritable_known_hosts_under_accept_new_refuses_naming_the_path_and_why(
    ssh_lab, workdir, cli
):
    known = workdir / "known_hosts_dir"
    known.mkdir()  # even root cannot write a line into a directory
    runbook = write(workdir, ssh_lab.ssh_section("accept-new", known_hosts=known))
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 1
    reason = reason_of(result)
    assert f"cannot record the new host key for [127.0.0.1]:{ssh_lab.sshd.port}" in reason
    assert f"in {known}: Is a directory" in reason
    assert "authentication" not in reason
    assert not (workdir / "ran").exists()

    preflight = cli("preflight", runbook)
    assert preflight.exit_code == 1
    row = next(line for line in preflight.stdout.splitlines() if line.startswith("app1"))
    assert row.split()[1:4] == ["yes", "NOT", "RECORDED"]


def test_hash_known_hosts_records_a_hashed_name_that_ssh_then_trusts(ssh_lab, sshd, workdir, cli):
    config = workdir / "hashing_config"
    config.write_text("Host app1\n  HashKnownHosts yes\n\n" + ssh_lab.config.read_text())
    known = workdir / "known_hosts_hashed"
    section = ssh_lab.ssh_section("accept-new", known_hosts=known).replace(
        str(ssh_lab.config), str(config)
    )
    result = cli("run", write(workdir, section), "--no-wait", "--yes")
    assert result.exit_code == 0, result.stderr
    name, key_type, key = known.read_text().split()
    assert name.startswith("|1|") and f"{key_type} {key}" in sshd.known_hosts_line
    ssh = subprocess.run(
        ["ssh", "-F", str(config), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
         "-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null",
         "app1", "true"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert ssh.returncode == 0, ssh.stderr
