"""SshShell and the connection pool against a real sshd: commands, kills on the host,
host key trust, per-host failures, retries and connection reuse."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import wait_for
from realservers_ssh import Sshd, SshLab, gone, keygen

from runbook.model import HostKeyPolicy, SshSettings
from steps.cancel import CancelToken
from steps.fanout import fan_out
from steps.shells.ssh.pool import Endpoint, SshError, SshPool
from steps.shells.ssh.shell import MARKER, SshShell

pytestmark = pytest.mark.slow  # a real sshd on loopback


def make_pool(
    lab: SshLab,
    policy: str = "strict",
    known_hosts: Path | None = None,
    connect_timeout: float = 3,
    config: Path | None = None,
) -> SshPool:
    settings = SshSettings(
        config=str(config or lab.config),
        known_hosts=str(known_hosts or lab.known_hosts),
        host_key_policy=HostKeyPolicy(policy),
        connect_timeout=timedelta(seconds=connect_timeout),
    )
    return SshPool(settings)


@pytest.fixture
def pool(ssh_lab):
    pool = make_pool(ssh_lab)
    yield pool
    pool.close()


def run(pool: SshPool, host: str, command: str, **kwargs):
    kwargs.setdefault("env", {})
    kwargs.setdefault("timeout", 20)
    return SshShell(pool, host).run(command, **kwargs)


def read_pid(path: Path) -> int:
    return int(wait_for(lambda: path.exists() and path.read_text().strip()))


# -- commands -------------------------------------------------------------------------------


def test_command_streams_its_lines_and_exit_code_without_the_marker(pool):
    lines: list[tuple[str, str]] = []
    result = run(
        pool,
        "app1",
        "echo one; echo two >&2; exit 3",
        on_output=lambda host, line: lines.append((host, line)),
    )
    assert result.exit_code == 3 and result.reason is None
    assert result.tail == ("one", "two")
    assert lines == [("app1", "one"), ("app1", "two")]
    assert MARKER not in result.stdout


def test_env_values_reach_the_remote_command_verbatim_and_never_the_result(pool, workdir):
    secret = 's3cr\'et "$(touch pwned)" `id` $HOME\nline2 ;&|'
    out = workdir / "seen"
    result = run(pool, "app1", f"printf '%s' \"$TOKEN\" > {out}", env={"TOKEN": secret})
    assert result.exit_code == 0, result
    assert out.read_text() == secret
    assert not (Path.home() / "pwned").exists() and not (workdir / "pwned").exists()
    assert secret not in repr(result) and "s3cr" not in result.command


def test_command_reads_no_stdin_and_runs_in_the_users_home(pool):
    result = run(pool, "app1", "cat; pwd")
    assert result.exit_code == 0
    assert result.tail == (os.path.expanduser(f"~{pool_user(pool)}"),)


def pool_user(pool: SshPool) -> str:
    return pool.connection(Endpoint("app1")).user


def test_timeout_kills_the_remote_process_and_its_child(pool, workdir):
    script = (
        f"echo $$ > {workdir}/parent.pid; sleep 300 & echo $! > {workdir}/child.pid; "
        "echo started; wait"
    )
    started = time.monotonic()
    result = run(pool, "app1", script, timeout=1)
    elapsed = time.monotonic() - started
    assert result.timed_out and result.exit_code is None
    assert "timed out after 1s" in result.reason
    assert result.tail == ("started",)
    assert elapsed < 3
    for name in ("parent.pid", "child.pid"):
        pid = read_pid(workdir / name)
        assert wait_for(lambda pid=pid: gone(pid), timeout=2), f"{name} {pid} still runs"


def test_a_command_ignoring_term_is_killed_after_the_grace(pool, workdir):
    script = f"trap '' TERM; echo $$ > {workdir}/stubborn.pid; sleep 300 & wait"
    result = run(pool, "app1", script, timeout=0.5)
    assert result.timed_out
    assert gone(read_pid(workdir / "stubborn.pid"))


def test_cancel_kills_the_remote_command_within_a_second(pool, workdir):
    cancel = CancelToken()
    pidfile = workdir / "cancelled.pid"

    def cancel_when_running() -> None:
        read_pid(pidfile)
        cancel.cancel("guard breach")

    threading.Thread(target=cancel_when_running, daemon=True).start()
    result = run(pool, "app1", f"echo $$ > {pidfile}; sleep 300", cancel=cancel)
    cancelled_at = time.monotonic()
    assert result.interrupted
    assert result.reason.startswith("interrupted; killed on the host: 2 processes")
    assert gone(read_pid(pidfile))
    assert time.monotonic() - cancelled_at < 1


def test_dropped_connection_mid_command_is_a_failure_naming_the_host(pool, workdir):
    pidfile = workdir / "dropped.pid"

    def drop_the_connection() -> None:
        pid = read_pid(pidfile)
        os.kill(_sshd_session_of(pid), signal.SIGKILL)

    threading.Thread(target=drop_the_connection, daemon=True).start()
    started = time.monotonic()
    result = run(pool, "app2", f"echo $$ > {pidfile}; sleep 60")
    assert time.monotonic() - started < 10
    assert result.error is not None and result.error.startswith("app2")
    assert "connection lost" in result.error
    again = run(pool, "app2", "echo back")  # the pool replaces the dead connection
    assert again.exit_code == 0 and again.tail == ("back",)


def _sshd_session_of(pid: int) -> int:
    """The nearest ancestor of ``pid`` that is an sshd process (the one holding the connection)."""
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith("sshd"):
            return pid
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    raise AssertionError("no sshd ancestor")


# -- connections ----------------------------------------------------------------------------


def test_one_connection_per_host_is_reused_for_every_command(pool, sshd):
    before = sshd.logins()
    for _ in range(3):
        assert run(pool, "app1", "true").exit_code == 0
    assert run(pool, "app2", "true").exit_code == 0
    assert pool.handshakes == 2
    assert wait_for(lambda: sshd.logins() - before == 2)


def test_nothing_connects_until_a_command_runs(ssh_lab, sshd):
    before = sshd.logins()
    pool = make_pool(ssh_lab)
    SshShell(pool, "app1")
    pool.close()
    assert pool.handshakes == 0 and sshd.logins() == before


def test_proxyjump_goes_through_a_pooled_jump_connection(pool, sshd):
    before = sshd.logins()
    result = run(pool, "behind", "echo through")
    assert result.exit_code == 0 and result.tail == ("through",)
    assert pool.handshakes == 1  # one TCP connection: to the jump host; behind rides inside it
    assert wait_for(lambda: sshd.logins() - before == 2)


def test_target_user_and_port_override_ssh_config(ssh_lab, sshd, workdir):
    config = workdir / "bare_config"
    config.write_text(
        f"Host bare\n  HostName 127.0.0.1\n  Port 1\n  IdentityFile {sshd.client_key}\n"
    )
    pool = make_pool(ssh_lab, config=config)
    try:
        result = SshShell(pool, "bare", user=sshd.user, port=sshd.port).run(
            "id -un", env={}, timeout=10
        )
        assert result.exit_code == 0 and result.tail == (sshd.user,)
        wrong = SshShell(pool, "bare", user="nobody-such-user", port=sshd.port).run(
            "true", env={}, timeout=10
        )
        assert "authentication refused" in wrong.error
    finally:
        pool.close()


# -- failures per host ----------------------------------------------------------------------


def test_connection_refused_fails_fast_naming_the_host(pool):
    started = time.monotonic()
    result = run(pool, "dead", "true")
    assert time.monotonic() - started < 1
    assert result.exit_code is None
    assert result.error.startswith("dead (") and "connection refused" in result.error


def test_a_port_that_never_speaks_ssh_fails_within_connect_timeout(ssh_lab):
    pool = make_pool(ssh_lab, connect_timeout=1)
    try:
        started = time.monotonic()
        result = run(pool, "silent", "true")
        elapsed = time.monotonic() - started
    finally:
        pool.close()
    assert "silent" in result.error and "sent no SSH banner within 1s" in result.error
    assert 0.9 < elapsed < 2.5  # bounded by connect_timeout, and not retried


def test_a_wrong_key_is_refused_auth_naming_the_host_and_key(pool, sshd):
    result = run(pool, "wrongkey", "true")
    assert result.error.startswith("wrongkey (")
    assert "authentication refused" in result.error and str(sshd.wrong_key) in result.error


def test_unresolvable_host_name_is_a_host_failure(pool):
    result = run(pool, "no-such-host.invalid", "true")
    assert "no-such-host.invalid" in result.error and "cannot resolve" in result.error


def test_missing_ssh_config_file_is_a_failure_per_host(ssh_lab, workdir):
    pool = make_pool(ssh_lab, config=workdir / "nope")
    try:
        result = run(pool, "app1", "true")
    finally:
        pool.close()
    assert "cannot read ssh config" in result.error and "nope" in result.error


# -- host keys ------------------------------------------------------------------------------


def test_unknown_key_is_refused_under_strict_with_how_to_add_it(ssh_lab, sshd, workdir):
    known = workdir / "empty_known_hosts"
    pool = make_pool(ssh_lab, known_hosts=known)
    try:
        result = run(pool, "app1", "true")
    finally:
        pool.close()
    assert result.error.startswith("app1: host key for [127.0.0.1]")
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known}" in result.error
    assert "accept-new" in result.error
    assert not known.exists()


def test_accept_new_records_a_new_key_once_for_many_aliases_at_once(ssh_lab, sshd, workdir):
    known = workdir / "new_known_hosts"
    pool = make_pool(ssh_lab, policy="accept-new", known_hosts=known)
    try:
        results = fan_out(
            ssh_lab.aliases,
            lambda host: run(pool, host, "true"),
            parallel=8,
            allowed_failures=0,
            failed=lambda r: r.exit_code != 0,
            skipped=lambda host, why, _: pytest.fail(why),
        )
    finally:
        pool.close()
    assert [r.exit_code for r in results] == [0] * len(ssh_lab.aliases)
    assert known.read_text() == sshd.known_hosts_line
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    strict = make_pool(ssh_lab, known_hosts=known)
    try:
        assert run(strict, "app3", "true").exit_code == 0
    finally:
        strict.close()


@pytest.mark.parametrize("policy", ["strict", "accept-new"])
def test_a_changed_key_is_always_refused(ssh_lab, sshd, workdir, policy):
    other = keygen(workdir / "impostor_key")
    key_type, key = other.with_suffix(".pub").read_text().split()[:2]
    known = workdir / "changed_known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {key}\n")
    pool = make_pool(ssh_lab, policy=policy, known_hosts=known)
    try:
        result = run(pool, "app1", "true")
    finally:
        pool.close()
    assert result.error.startswith(f"app1: host key for [127.0.0.1]:{sshd.port} has CHANGED")
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {known}" in result.error
    assert known.read_text() == f"[127.0.0.1]:{sshd.port} {key_type} {key}\n"


def test_hashed_known_hosts_entries_are_understood(ssh_lab, sshd, workdir):
    from paramiko import HostKeys

    known = workdir / "hashed_known_hosts"
    key_type, key = sshd.known_hosts_line.split()[1:3]
    hashed = HostKeys.hash_host(f"[127.0.0.1]:{sshd.port}")
    known.write_text(
        f"# comment\n@cert-authority *.example ssh-ed25519 AAAA\n{hashed} {key_type} {key}\n"
    )
    pool = make_pool(ssh_lab, known_hosts=known)
    try:
        assert run(pool, "app1", "true").exit_code == 0
    finally:
        pool.close()


# -- retries --------------------------------------------------------------------------------


def test_handshakes_a_busy_sshd_drops_are_retried(tmp_path, ssh_home):
    busy = (
        Sshd(tmp_path / "busy", max_startups="2") if (tmp_path / "busy").mkdir() is None else None
    )
    try:
        lab = SshLab(busy, tmp_path, silent_port=1, aliases=10)
        pool = make_pool(lab)
        try:
            results = fan_out(
                lab.aliases,
                lambda host: run(pool, host, "true"),
                parallel=10,
                allowed_failures=10,
                failed=lambda r: r.exit_code != 0,
                skipped=lambda host, why, _: pytest.fail(why),
            )
        finally:
            pool.close()
        assert [r.reason for r in results] == [None] * 10
        assert busy.count("past MaxStartups") > 0  # the drops happened, and were retried
    finally:
        busy.stop()


def test_auth_and_host_key_failures_are_not_retried(pool, sshd):
    before = pool.handshakes
    assert run(pool, "wrongkey", "true").error
    assert pool.handshakes - before == 1


def test_pool_error_carries_its_stage(pool):
    with pytest.raises(SshError) as refused:
        pool.connection(Endpoint("dead"))
    assert refused.value.stage == "reach"
    with pytest.raises(SshError) as auth:
        pool.connection(Endpoint("wrongkey"))
    assert auth.value.stage == "auth"


def test_the_remote_wrapper_makes_its_own_process_group_where_the_server_did_not(workdir):
    """What runs on the host, run here from a process that is not a group leader (pytest's
    child): it must take the setsid path and report a group it leads, with stdin closed."""
    import subprocess

    from steps.shells.ssh.shell import _payload, launch_command

    out = subprocess.run(
        ["/bin/sh", "-c", launch_command("0123abcd")],
        input=_payload({"GREETING": "it's me"}, 'echo "$GREETING"; cat; ps -o pgid= -p $$'),
        capture_output=True,
        check=True,
    ).stdout.decode()
    marker, greeting, pgid = out.splitlines()
    assert marker.startswith(MARKER + " ")
    leader = int(marker.split()[1])
    assert greeting == "it's me"
    assert int(pgid) == leader != os.getpgrp()
