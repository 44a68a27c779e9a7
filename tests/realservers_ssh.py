"""A real OpenSSH ``sshd`` on loopback for the SSH tests and the SSH benchmark.

Its own ``sshd_config``, host key, authorized key and free port; ``-D -e`` so it
stays in the foreground and logs to a file the tests read ("Accepted publickey"
lines count new connections). ``SetEnv SHLVL=1`` keeps bash from sourcing the
login user's ``.bashrc`` on every command. Host aliases live in an ssh_config the
tests write (``SshLab``), all pointing at 127.0.0.1:PORT. In CI (``CI=true``)
an sshd that cannot start fails the test instead of skipping it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from realservers import free_port, unavailable

SSHD = "/usr/sbin/sshd"  # sshd re-executes itself and insists on an absolute path
PRIVSEP_DIR = Path("/run/sshd")


def keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path


def gone(pid: int) -> bool:
    """Not running any more: no such process, or a zombie waiting for init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


class Sshd:
    def __init__(
        self, workdir: Path, *, max_startups: str | None = None, extra: Iterable[str] = ()
    ) -> None:
        if not os.access(SSHD, os.X_OK):
            unavailable(f"{SSHD} is not installed (Debian package openssh-server)")
        if shutil.which("ssh-keygen") is None:
            unavailable("ssh-keygen is not installed (Debian package openssh-client)")
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():  # only root's sshd chroots into it
            try:
                PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
            except OSError as exc:
                unavailable(f"sshd needs its privilege separation directory {PRIVSEP_DIR}: {exc}")
        self.workdir = workdir
        self.user = getpass.getuser()
        self.host_key = keygen(workdir / "ssh_host_ed25519_key")
        self.client_key = keygen(workdir / "id_ed25519")
        self.wrong_key = keygen(workdir / "id_wrong")
        (workdir / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        self.port = free_port()
        self.log_path = workdir / "sshd.log"
        self.records = workdir / "records"
        self.config_path = workdir / "sshd_config"
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            "UsePAM no",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "AllowTcpForwarding yes",
            "UseDNS no",
            # Remote commands' records (steps/host_records.py) stay in this scratch directory.
            f"SetEnv SHLVL=1 LAUNCHCTL_RECORDS={self.records}",
            "LogLevel VERBOSE",
            *([f"MaxStartups {max_startups}"] if max_startups else []),
            *extra,
        ]
        self.config_path.write_text("\n".join(lines) + "\n")
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.close()
                unavailable(
                    f"sshd exited with {self.process.returncode}: {self.log_path.read_text()[-500:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        unavailable("sshd did not answer within 15 s")

    @property
    def known_hosts_line(self) -> str:
        key_type, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}\n"

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def count(self, text: str) -> int:
        return self.log().count(text)

    def logins(self) -> int:
        """Connections that authenticated so far (each new SSH connection logs one line)."""
        return self.count("Accepted publickey")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class SilentServer:
    """Accepts TCP connections and never says a word: an SSH client must give up on the banner."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for conn in self._held:
            conn.close()


class SshLab:
    """Aliases app1..appN (and a few broken ones) in an ssh_config, a known_hosts trusting the sshd.

    - ``app1``..``appN``: the sshd, the authorized key, default auth (agent, IdentityFile)
    - ``wrongkey``: the sshd with a key it does not accept (IdentitiesOnly)
    - ``dead``: a loopback port nobody listens on (connection refused)
    - ``silent``: a port that accepts TCP and never speaks SSH
    - ``behind``: the sshd reached through ``ProxyJump app1``
    """

    def __init__(self, sshd: Sshd, directory: Path, silent_port: int, aliases: int = 8) -> None:
        self.sshd = sshd
        self.dir = directory
        self.aliases = [f"app{i}" for i in range(1, aliases + 1)]
        self.config = directory / "ssh_config"
        self.known_hosts = directory / "known_hosts"
        self.known_hosts.write_text(sshd.known_hosts_line)
        self.dead_port = free_port()
        common = f"  HostName 127.0.0.1\n  User {sshd.user}\n"
        self.config.write_text(
            f"Host {' '.join(self.aliases)}\n{common}  Port {sshd.port}\n"
            f"  IdentityFile {sshd.client_key}\n\n"
            f"Host wrongkey\n{common}  Port {sshd.port}\n"
            f"  IdentityFile {sshd.wrong_key}\n  IdentitiesOnly yes\n\n"
            f"Host dead\n{common}  Port {self.dead_port}\n  IdentityFile {sshd.client_key}\n\n"
            f"Host silent\n{common}  Port {silent_port}\n  IdentityFile {sshd.client_key}\n\n"
            f"Host behind\n{common}  Port {sshd.port}\n  IdentityFile {sshd.client_key}\n"
            "  ProxyJump app1\n"
        )

    def ssh_section(
        self, policy: str = "strict", connect_timeout: str = "3s", known_hosts: Path | None = None
    ) -> str:
        """The runbook's ``ssh:`` mapping, as one flow-style YAML line."""
        return (
            f'{{config: "{self.config}", known_hosts: "{known_hosts or self.known_hosts}", '
            f"host_key_policy: {policy}, connect_timeout: {connect_timeout}}}"
        )
