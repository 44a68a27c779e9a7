"""No survivor on the host: a timed-out or cancelled remote command is killed with everything it
started, including children that left its session with ``setsid``, also when the server allows
one session per connection (``MaxSessions 1``) — and the result says what was killed."""

from __future__ import annotations

import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import events_of, wait_for
from realservers_ssh import Sshd, SshLab, gone

from runbook.model import HostKeyPolicy, SshSettings
from steps.cancel import CancelToken
from steps.shells.ssh.pool import SshPool
from steps.shells.ssh.shell import SshShell

pytestmark = pytest.mark.slow  # a real sshd on loopback

# The two escapes, each writing its pid where the test can find it.
ESCAPES = (
    "setsid sh -c 'echo $$ > {dir}/setsid.pid; exec sleep 331' & "
    "setsid -f sh -c 'echo $$ > {dir}/setsid_f.pid; exec sleep 332'; "
    "sleep 300 & echo $! > {dir}/child.pid; echo $$ > {dir}/shell.pid; echo started; wait"
)
PIDFILES = ("setsid.pid", "setsid_f.pid", "child.pid", "shell.pid")


def read_pid(path: Path) -> int:
    return int(wait_for(lambda: path.exists() and path.read_text().strip()))


def assert_all_gone(directory: Path) -> None:
    for name in PIDFILES:
        pid = read_pid(directory / name)
        assert wait_for(lambda pid=pid: gone(pid), timeout=5), f"{name} ({pid}) survived"


def settings(lab: SshLab) -> SshSettings:
    return SshSettings(
        config=str(lab.config),
        known_hosts=str(lab.known_hosts),
        host_key_policy=HostKeyPolicy.STRICT,
        connect_timeout=timedelta(seconds=5),
    )


def test_a_timed_out_step_kills_children_that_left_with_setsid(ssh_lab, workdir, cli):
    runbook = workdir / "launch.yaml"
    runbook.write_text(
        textwrap.dedent(
            f"""
            version: 1
            name: Escapes
            ssh: {ssh_lab.ssh_section()}
            targets:
              api: {{hosts: [app1]}}
            steps:
              - id: deploy
                at: T+0
                on: api
                timeout: 2s
                run: "{ESCAPES.format(dir=workdir)}"
            """
        )
    )
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 1
    (finished,) = events_of(result.events, "command_finished")
    assert finished["timed_out"] and finished.get("error") is None
    assert finished["reason"].startswith("timed out after 2s; killed on the host: ")
    assert "2 of them had left its session (setsid)" in finished["killed"]
    assert_all_gone(workdir)


def test_a_cancelled_command_is_killed_with_its_setsid_children(ssh_lab, workdir):
    pool = SshPool(settings(ssh_lab))
    cancel = CancelToken()

    def cancel_once_started() -> None:
        read_pid(workdir / "shell.pid")
        cancel.cancel("guard breach")

    threading.Thread(target=cancel_once_started, daemon=True).start()
    try:
        result = SshShell(pool, "app1").run(
            ESCAPES.format(dir=workdir), env={}, timeout=60, cancel=cancel
        )
    finally:
        pool.close()
    assert result.interrupted and result.error is None
    assert result.reason.startswith("interrupted; killed on the host: ")
    assert "2 of them had left its session (setsid)" in result.killed
    assert_all_gone(workdir)


@pytest.fixture(scope="module")
def one_session_sshd(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd_one_session"), extra=["MaxSessions 1"])
    yield server
    server.stop()


@pytest.mark.parametrize("ending", ["timeout", "cancel"])
def test_with_max_sessions_1_the_kill_comes_over_a_fresh_connection(
    one_session_sshd, workdir, ssh_home, ending
):
    lab = SshLab(one_session_sshd, workdir, silent_port=1)
    pool = SshPool(settings(lab))
    cancel = CancelToken()
    if ending == "cancel":
        threading.Thread(
            target=lambda: read_pid(workdir / "shell.pid") and cancel.cancel("rollback"),
            daemon=True,
        ).start()
    logins = one_session_sshd.logins()
    try:
        result = SshShell(pool, "app1").run(
            ESCAPES.format(dir=workdir),
            env={},
            timeout=2 if ending == "timeout" else 60,
            cancel=cancel,
        )
    finally:
        pool.close()
    assert result.error is None, result.reason
    assert result.killed.startswith("killed on the host: ")
    assert_all_gone(workdir)
    assert wait_for(lambda: one_session_sshd.logins() - logins == 2)  # the command's, the kill's
