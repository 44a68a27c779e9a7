"""What ``accept-new`` writes into known_hosts, and what it does when it cannot write:
against the real sshd, through the CLI, read back by the real ssh client."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import CliResult, events_of, launchctl_argv, read_events
from realservers import unavailable

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


def _on_read_only(directory: Path, workdir: Path, *args: str) -> CliResult:
    """launchctl in a private mount namespace where ``directory`` is read-only (even for root)."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        unavailable("a read-only directory for root needs unshare and root")
    command = " ".join(shlex.quote(str(a)) for a in launchctl_argv(*args))
    script = (
        f"mount --bind {directory} {directory} && "
        f"mount -o remount,bind,ro {directory} && exec {command}"
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
    )
    if "mount:" in proc.stderr and proc.returncode != 0:
        unavailable(f"cannot make a read-only bind mount: {proc.stderr.strip()}")
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def test_an_unwritable_known_hosts_under_accept_new_refuses_naming_the_path_and_why(
    ssh_lab, workdir
):
    read_only = workdir / "read-only"
    read_only.mkdir()
    known = read_only / "known_hosts"
    runbook = write(workdir, ssh_lab.ssh_section("accept-new", known_hosts=known))
    result = _on_read_only(
        read_only, workdir, "run", runbook, "--no-wait", "--yes", "--journal", "j"
    )
    assert result.exit_code == 1, result.stderr
    reason = events_of(read_events(workdir / "j"), "command_finished")[0]["reason"]
    assert f"cannot record the new host key for [127.0.0.1]:{ssh_lab.sshd.port}" in reason
    assert f"in {known}: Read-only file system" in reason
    assert "authentication" not in reason
    assert not (workdir / "ran").exists()

    preflight = _on_read_only(read_only, workdir, "preflight", runbook)
    assert preflight.exit_code == 1, preflight.stderr
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
