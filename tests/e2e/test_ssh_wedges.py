"""Every SSH wait ends: a server that stalls at each phase (tests/wedge_ssh.py) fails the host
naming that phase within its limit; a cancel, and SIGTERM to a launch, preempt each of them.
Name resolution is stalled for real too: a resolver that never answers, in a mount namespace.

Times here are only hang guards; tests/perf/bench_ssh_stalls.py measures them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import events_of, launchctl_argv, read_events
from realservers import unavailable
from realservers_ssh import keygen
from wedge_ssh import WedgeServer

from runbook.model import HostKeyPolicy, SshSettings
from steps.cancel import CancelToken
from steps.shells.ssh.pool import SshPool
from steps.shells.ssh.shell import SshShell

pytestmark = pytest.mark.slow  # real servers and real waits

HANG_GUARD = 30  # seconds: far beyond any limit these tests set; reaching it means a wedge

PHASE_WORDS = {
    "tcp": "no TCP answer within 1s",
    "banner": "sent no SSH banner within 1s",
    "kex": "key exchange did not finish within 1s",
    "auth": "authentication did not finish within 1s",
    "channel": "channel open: no answer within 1s",
    "exec": "exec request: no answer within 1s",
}


@pytest.fixture(scope="module")
def wedge_keys(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("wedge_keys")
    return {"host": keygen(directory / "wedge_host"), "client": keygen(directory / "client")}


@pytest.fixture
def wedge(wedge_keys, workdir, ssh_home):
    """A factory: ``wedge("exec")`` starts a server stalling there, with an ssh_config
    (alias ``wedged``) and a known_hosts that trusts it."""
    servers: list[WedgeServer] = []

    def start(phase: str) -> WedgeServer:
        server = WedgeServer(wedge_keys["host"], phase)
        servers.append(server)
        (workdir / "ssh_config").write_text(
            f"Host wedged\n  HostName 127.0.0.1\n  Port {server.port}\n  User deploy\n"
            f"  IdentityFile {wedge_keys['client']}\n  IdentitiesOnly yes\n"
        )
        (workdir / "known_hosts").write_text(server.known_hosts_line)
        return server

    yield start
    for server in servers:
        server.close()


def pool_for(workdir: Path, connect_timeout: float = 1) -> SshPool:
    return SshPool(
        SshSettings(
            config=str(workdir / "ssh_config"),
            known_hosts=str(workdir / "known_hosts"),
            host_key_policy=HostKeyPolicy.STRICT,
            connect_timeout=timedelta(seconds=connect_timeout),
        )
    )


def run_in_thread(pool: SshPool, cancel: CancelToken | None = None, timeout: float = 2):
    """Start ``true`` on the wedged host; returns a function giving the result (or failing
    when the run outlives the hang guard)."""
    box: dict = {}

    def work() -> None:
        box["result"] = SshShell(pool, "wedged").run("true", env={}, timeout=timeout, cancel=cancel)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def result():
        thread.join(HANG_GUARD)
        assert not thread.is_alive(), "the SSH run wedged"
        return box["result"]

    return result


@pytest.mark.parametrize("phase", list(PHASE_WORDS))
def test_a_host_stalled_at_each_phase_fails_naming_the_phase(wedge, workdir, phase):
    wedge(phase)
    pool = pool_for(workdir)
    try:
        result = run_in_thread(pool, timeout=1)()
    finally:
        pool.close()
    assert result.exit_code is None and not result.interrupted
    assert result.reason.startswith("wedged ")
    assert PHASE_WORDS[phase] in result.reason


@pytest.mark.parametrize("phase", list(PHASE_WORDS))
def test_a_cancel_preempts_each_stalled_phase(wedge, workdir, phase):
    server = wedge(phase)
    pool = pool_for(workdir, connect_timeout=60)  # only the cancel can end it
    cancel = CancelToken()
    try:
        result = run_in_thread(pool, cancel, timeout=60)
        assert server.stalled.wait(HANG_GUARD)
        cancel.cancel("guard breach")
        outcome = result()
    finally:
        pool.close()
    assert outcome.interrupted and outcome.reason == "interrupted"


def runbook(workdir: Path, connect_timeout: str, step_timeout: str) -> Path:
    path = workdir / "launch.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            version: 1
            name: Wedged host
            ssh: {{config: "{workdir / "ssh_config"}", known_hosts: "{workdir / "known_hosts"}",
                   connect_timeout: {connect_timeout}}}
            targets:
              api: {{hosts: [wedged]}}
            steps:
              - {{id: deploy, at: T+0, on: api, run: "true", timeout: {step_timeout}}}
            """
        )
    )
    return path


def test_preflight_gives_up_on_a_keepalive_nobody_answers(wedge, workdir, cli):
    wedge("keepalive")
    result = cli("preflight", runbook(workdir, "1s", "10s"))
    assert result.exit_code == 1
    row = next(line for line in result.stdout.splitlines() if line.startswith("wedged"))
    assert row.split()[1:4] == ["yes", "trusted", "ok"]
    assert "keepalive: no answer within 1s" in row


def test_the_step_timeout_bounds_an_exec_request_nobody_answers(wedge, workdir, cli):
    wedge("exec")
    result = cli("run", runbook(workdir, "30s", "1s"), "--no-wait", "--yes")
    assert result.exit_code == 1
    (finished,) = events_of(result.events, "command_finished")
    assert "exec request: no answer within 1s" in finished["reason"]


def test_sigterm_ends_a_launch_stalled_in_an_exec_request(wedge, workdir):
    server = wedge("exec")
    proc = subprocess.Popen(
        launchctl_argv("run", runbook(workdir, "60s", "10m"), "--no-wait", "--journal", "j"),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stalled.wait(HANG_GUARD)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG_GUARD) == 5
    finally:
        proc.kill()
    events = read_events(workdir / "j")
    assert events[-1]["event"] == "launch_paused" and "SIGTERM" in events[-1]["reason"]


# -- DNS: a resolver that never answers -------------------------------------------------------

SILENT_RESOLVER = "127.0.0.153"

RESOLVE = """
import sys
from datetime import timedelta
from runbook.model import SshSettings
from steps.shells.ssh.pool import SshPool
from steps.shells.ssh.shell import SshShell
pool = SshPool(SshSettings(config=sys.argv[1], known_hosts=sys.argv[2],
                           connect_timeout=timedelta(seconds=1)))
print(SshShell(pool, "unresolvable").run("true", env={}, timeout=5).reason)
"""


@pytest.fixture
def silent_resolver():
    """A UDP port 53 that swallows every query."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((SILENT_RESOLVER, 53))
    except OSError as exc:
        sock.close()
        unavailable(f"cannot listen on {SILENT_RESOLVER}:53 for a silent resolver: {exc}")
    yield
    sock.close()


def test_name_resolution_is_bounded_by_connect_timeout(silent_resolver, workdir, ssh_home):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        unavailable("a private resolv.conf needs unshare and root")
    resolv = workdir / "resolv.conf"
    resolv.write_text(f"nameserver {SILENT_RESOLVER}\noptions timeout:30 attempts:1\n")
    config = workdir / "ssh_config"
    config.write_text("Host unresolvable\n  HostName never-answered.example\n  User deploy\n")
    script = (
        f"mount --bind {resolv} /etc/resolv.conf && "
        f"exec {sys.executable} -c '{RESOLVE}' {config} {workdir / 'known_hosts'}"
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    if "mount" in proc.stderr and proc.returncode != 0:
        unavailable(f"cannot bind-mount a resolv.conf: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert "DNS: no answer resolving never-answered.example within 1s" in proc.stdout
