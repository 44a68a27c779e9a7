"""How long each stalled SSH phase takes to fail, and how fast a cancel or SIGTERM ends it.

Run on demand (not collected by pytest):

    python tests/perf/bench_ssh_stalls.py [--connect-timeout 1] [--reps 3]

Against tests/wedge_ssh.py (a paramiko server stalling at one phase: TCP connect,
SSH banner, key exchange, authentication, channel open, exec request, keepalive),
a resolver that never answers (DNS; needs root and ``unshare``), and the real
OpenSSH sshd (the kill path: a command with ``setsid`` children, also under
``MaxSessions 1``), it prints, as medians of --reps:

  stall    seconds from the start of ``SshShell.run`` (preflight's probe for the
           keepalive) to its failure naming the phase; goal: connect_timeout + 0.5 s
  cancel   seconds from ``cancel()`` to the run's return, stalled at that phase
           (connect_timeout 60 s, so only the cancel can end it); goal: < 1 s
  sigterm  seconds from SIGTERM to the exit of a ``launchctl run`` stalled in an
           exec request; goal: < 2 s (the process also writes its journal and exits)
  kill     a real command with setsid children: timeout -> return (goal: timeout +
           grace-free kill < timeout + 1 s when everything dies on TERM), cancel ->
           return (goal < 1 s), and both with MaxSessions 1 (the kill's own connection)

Exit status 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from perf_common import launchctl_script, verdict

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from realservers_ssh import Sshd, SshLab, keygen  # noqa: E402
from wedge_ssh import WedgeServer  # noqa: E402

from runbook.model import HostKeyPolicy, SshSettings  # noqa: E402
from steps.cancel import CancelToken  # noqa: E402
from steps.probes import probe_ssh  # noqa: E402
from steps.shells.ssh.pool import Endpoint, SshPool  # noqa: E402
from steps.shells.ssh.shell import SshShell  # noqa: E402

CONNECTION_PHASES = ("tcp", "banner", "kex", "auth", "channel", "exec")
SILENT_RESOLVER = "127.0.0.153"
ESCAPES = (
    "setsid sleep 331 & setsid -f sleep 332; sleep 300 & echo $$ > {pidfile}; echo started; wait"
)


def pool(config: Path, known: Path, connect_timeout: float) -> SshPool:
    return SshPool(
        SshSettings(
            config=str(config),
            known_hosts=str(known),
            host_key_policy=HostKeyPolicy.STRICT,
            connect_timeout=timedelta(seconds=connect_timeout),
        )
    )


class Wedges:
    """A scratch dir with keys; ``start(phase)`` gives a stalling server and its config."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.host_key = keygen(directory / "wedge_host")
        self.client_key = keygen(directory / "client")

    def start(self, phase: str) -> tuple[WedgeServer, Path, Path]:
        server = WedgeServer(self.host_key, phase)
        config = self.dir / "ssh_config"
        config.write_text(
            f"Host wedged\n  HostName 127.0.0.1\n  Port {server.port}\n  User deploy\n"
            f"  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n"
        )
        known = self.dir / "known_hosts"
        known.write_text(server.known_hosts_line)
        return server, config, known


def stall_seconds(wedges: Wedges, phase: str, connect_timeout: float) -> tuple[float, str]:
    server, config, known = wedges.start(phase)
    shells = pool(config, known, connect_timeout)
    try:
        started = time.monotonic()
        if phase == "keepalive":
            probe = probe_ssh(shells, Endpoint("wedged"), "bench")
            return time.monotonic() - started, probe.detail
        result = SshShell(shells, "wedged").run("true", env={}, timeout=connect_timeout)
        return time.monotonic() - started, result.reason or ""
    finally:
        shells.close()
        server.close()


def cancel_seconds(wedges: Wedges, phase: str) -> float:
    server, config, known = wedges.start(phase)
    shells = pool(config, known, 60)
    cancel = CancelToken()
    done = threading.Event()

    def work() -> None:
        if phase == "keepalive":
            probe_ssh(shells, Endpoint("wedged"), "bench", cancel)
        else:
            SshShell(shells, "wedged").run("true", env={}, timeout=60, cancel=cancel)
        done.set()

    try:
        threading.Thread(target=work, daemon=True).start()
        server.stalled.wait(30)
        time.sleep(0.2)  # well inside the stall
        cancelled = time.monotonic()
        cancel.cancel("bench")
        done.wait(30)
        return time.monotonic() - cancelled
    finally:
        shells.close()
        server.close()


def sigterm_seconds(wedges: Wedges) -> float:
    server, config, known = wedges.start("exec")
    runbook = wedges.dir / "launch.yaml"
    runbook.write_text(
        textwrap.dedent(
            f"""
            version: 1
            name: Stalled exec
            ssh: {{config: "{config}", known_hosts: "{known}", connect_timeout: 60s}}
            targets:
              api: {{hosts: [wedged]}}
            steps:
              - {{id: deploy, at: T+0, on: api, run: "true", timeout: 10m}}
            """
        )
    )
    journal = Path(tempfile.mkdtemp(dir=wedges.dir))
    proc = subprocess.Popen(
        [launchctl_script(), "run", str(runbook), "--no-wait", "--journal", str(journal / "j")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server.stalled.wait(30)
        time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        return time.monotonic() - sent
    finally:
        proc.kill()
        server.close()


def dns_seconds(directory: Path, connect_timeout: float) -> tuple[float, str] | None:
    """Name resolution against a resolver that never answers, in a private mount namespace."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return None
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sink.bind((SILENT_RESOLVER, 53))
    except OSError:
        return None
    resolv = directory / "resolv.conf"
    resolv.write_text(f"nameserver {SILENT_RESOLVER}\noptions timeout:30 attempts:1\n")
    config = directory / "dns_config"
    config.write_text("Host unresolvable\n  HostName never-answered.example\n  User deploy\n")
    code = (
        "import sys, time; from datetime import timedelta;"
        "from runbook.model import SshSettings; from steps.shells.ssh.pool import SshPool;"
        "from steps.shells.ssh.shell import SshShell;"
        "p = SshPool(SshSettings(config=sys.argv[1], known_hosts=sys.argv[2],"
        f" connect_timeout=timedelta(seconds={connect_timeout})));"
        "t = time.monotonic(); r = SshShell(p, 'unresolvable').run('true', env={}, timeout=5);"
        "print(f'{time.monotonic() - t:.3f} {r.reason}')"
    )
    script = f'mount --bind {resolv} /etc/resolv.conf && exec {sys.executable} -c "{code}" ' + (
        f"{config} {directory / 'known_hosts'}"
    )
    try:
        out = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    finally:
        sink.close()
    if not out:
        return None
    seconds, reason = out.split(" ", 1)
    return float(seconds), reason


def kill_seconds(lab: SshLab, workdir: Path, cancel_it: bool, timeout: float = 1) -> float:
    """From the deadline (or the cancel) to the run's return, setsid children included."""
    shells = pool(lab.config, lab.known_hosts, 5)
    pidfile = workdir / f"shell.{time.monotonic_ns()}.pid"
    cancel = CancelToken()
    marks: dict[str, float] = {}

    def cancel_when_started() -> None:
        while not pidfile.exists():
            time.sleep(0.01)
        time.sleep(0.2)
        marks["at"] = time.monotonic()
        cancel.cancel("bench")

    if cancel_it:
        threading.Thread(target=cancel_when_started, daemon=True).start()
    try:
        started = time.monotonic()
        result = SshShell(shells, "app1").run(
            ESCAPES.format(pidfile=pidfile),
            env={},
            timeout=60 if cancel_it else timeout,
            cancel=cancel,
        )
        ended = time.monotonic()
    finally:
        shells.close()
    if result.killed is None or "killed on the host" not in result.killed or result.error:
        print(f"    kill problem: {result.reason}")
    return ended - (marks["at"] if cancel_it else started + timeout)


def median(measure: Callable[[], float], reps: int) -> float:
    return statistics.median(measure() for _ in range(reps))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect-timeout", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    limit = args.connect_timeout
    ok = True
    home = Path(tempfile.mkdtemp(prefix="bench_ssh_stalls_"))
    os.environ["HOME"] = str(home)
    os.environ.pop("SSH_AUTH_SOCK", None)
    wedges = Wedges(home)

    print(f"== stalled phase -> failure (connect_timeout {limit:g}s, step timeout {limit:g}s) ==")
    dns = dns_seconds(home, limit)
    rows: list[tuple[str, float | None, str]] = [
        ("DNS", dns[0] if dns else None, dns[1] if dns else "skipped: needs root and unshare")
    ]
    for phase in (*CONNECTION_PHASES, "keepalive"):
        runs = [stall_seconds(wedges, phase, limit) for _ in range(args.reps)]
        rows.append((phase, statistics.median(s for s, _ in runs), runs[0][1]))
    for phase, seconds, reason in rows:
        met = seconds is not None and seconds <= limit + 0.5
        ok &= met or seconds is None
        shown = f"{seconds:6.3f}" if seconds is not None else "     -"
        print(f"{phase:<10} {shown} s  {verdict(met) if seconds is not None else '    '}  {reason}")

    print("\n== cancel while stalled -> return (connect_timeout 60s) ==")
    for phase in (*CONNECTION_PHASES, "keepalive"):
        seconds = median(lambda phase=phase: cancel_seconds(wedges, phase), args.reps)
        ok &= seconds < 1
        print(f"{phase:<10} {seconds:6.3f} s  {verdict(seconds < 1)}")

    print("\n== SIGTERM to `launchctl run` stalled in an exec request -> exit ==")
    seconds = median(lambda: sigterm_seconds(wedges), args.reps)
    ok &= seconds < 2
    print(f"{'sigterm':<10} {seconds:6.3f} s  {verdict(seconds < 2)}")

    print("\n== killing a real command with setsid children (OpenSSH sshd) ==")
    for max_sessions in (None, "1"):
        directory = home / f"sshd_{max_sessions or 'default'}"
        directory.mkdir()
        extra = [f"MaxSessions {max_sessions}"] if max_sessions else []
        sshd = Sshd(directory, extra=extra)
        try:
            lab = SshLab(sshd, directory, silent_port=1)
            label = f"MaxSessions {max_sessions}" if max_sessions else "default"
            after_deadline = median(lambda lab=lab: kill_seconds(lab, home, False), args.reps)
            after_cancel = median(lambda lab=lab: kill_seconds(lab, home, True), args.reps)
        finally:
            sshd.stop()
        ok &= after_deadline < 1 and after_cancel < 1
        print(
            f"{label:<16} deadline -> return {after_deadline:6.3f} s {verdict(after_deadline < 1)}"
            f"   cancel -> return {after_cancel:6.3f} s {verdict(after_cancel < 1)}"
        )
    print(f"\n{verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
