"""Opening one SSH connection's socket, and saying in one line why a connection failed.

The pool (``steps.shells.ssh.pool``) decides when to connect and whether to try again;
this module gives it a TCP socket tuned for a short SSH exchange (its name
resolution bounded too), the key files ssh_config asks for (refusing, as
OpenSSH does, one that others can read), and ``classify``: which stage failed
(reach, key, auth, session), in which phase, and whether another attempt could help.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steps.shells.ssh import deadlines
from steps.shells.ssh.hostkeys import HostKeyProblem

DEFAULT_IDENTITIES = ("~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519")


class SshError(Exception):
    """Why a host could not be used. ``stage``: config, reach, key, auth or session;
    ``phase``: the wait that failed, when one did (``steps.shells.ssh.deadlines``)."""

    def __init__(
        self,
        stage: str,
        message: str,
        *,
        transient: bool = False,
        key_status: str | None = None,
        phase: str | None = None,
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.transient = transient
        self.key_status = key_status
        self.phase = phase

    @property
    def reason(self) -> str:
        return str(self)


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class _QuickAckSocket(socket.socket):
    """A TCP socket that acknowledges what it receives at once.

    After auth, OpenSSH sends a few unsolicited messages (hostkeys-00, debug); our
    kernel delays their ACK by up to 40 ms, and the server (Nagle, no TCP_NODELAY
    on a non-interactive session) holds its answer to our first request until that
    ACK arrives: every host's first command paid ~45 ms. Linux leaves quick-ack
    mode by itself, so it is set again after each read.
    """

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if _QUICKACK is not None:
            try:
                self.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                pass
        return data


def tcp_connect(hostname: str, port: int, timeout: float) -> socket.socket:
    """Like ``socket.create_connection``, with TCP_NODELAY (no delayed-ACK waits in the
    handshake: ~60 ms a connection on loopback without it) and quick ACKs.

    Name resolution gets ``timeout`` too (``getaddrinfo`` has no limit of its own;
    a resolver that never answers leaves its helper thread behind, not the launch).
    """
    last: OSError | None = None
    addresses = deadlines.bounded(
        lambda: socket.getaddrinfo(hostname, port, 0, socket.SOCK_STREAM),
        phase=deadlines.DNS,
        seconds=timeout,
    )
    for family, kind, proto, _, address in addresses:
        sock = _QuickAckSocket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"no address for {hostname}")


def jump_chain(ssh_config: Any) -> tuple[str, ...]:
    value = ssh_config.get("proxyjump")
    if not value or value.strip().lower() == "none":
        return ()
    return tuple(hop.strip() for hop in value.split(",") if hop.strip())


@dataclass
class Identities:
    """The key files one connection may use, and those it may not (for the message)."""

    usable: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)  # "UNPROTECTED PRIVATE KEY FILE"
    agent: bool = True

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"allow_agent": self.agent, "look_for_keys": False}
        if self.usable:
            kwargs["key_filename"] = list(self.usable)
        return kwargs


def identities(ssh_config: Any) -> Identities:
    """Key files as OpenSSH picks them: IdentityFile, or the default ones in ~/.ssh when none
    is named; ssh-agent unless ``IdentitiesOnly yes``. A key file of ours that group or others
    may read is left out, as ssh leaves it out. Never a password: a launch must not stop at a
    prompt."""
    named = [str(Path(p).expanduser()) for p in ssh_config.get("identityfile", [])]
    files = named or [str(Path(p).expanduser()) for p in DEFAULT_IDENTITIES]
    only = str(ssh_config.get("identitiesonly", "no")).lower() == "yes"
    found = Identities(agent=not only)
    for path in files:
        try:
            info = os.stat(path)
        except OSError:
            if path in named:
                found.missing.append(path)
            continue
        if not stat.S_ISREG(info.st_mode):
            found.missing.append(path)
        elif info.st_uid == os.getuid() and info.st_mode & 0o077:
            found.unprotected.append(f"{path} (permissions {info.st_mode & 0o777:04o})")
        else:
            found.usable.append(path)
    return found


def handshake_expired(where: str, phase: str, timeout: float) -> SshError:
    """The handshake phase that outlasted ``connect_timeout``, said the way a person reads it."""
    if phase == deadlines.BANNER:
        what = f"accepted TCP but sent no SSH banner within {timeout:g}s"
    else:
        what = f"{phase} did not finish within {timeout:g}s (connect_timeout)"
    stage = "auth" if phase == deadlines.AUTH else "reach"
    return SshError(stage, f"{where}: {what}", phase=phase)


def classify(
    exc: BaseException, where: str, timeout: float, keys: Identities, phase: str
) -> SshError:
    """Turn what paramiko raised into a stage and a one-line reason; decide if a retry may help.

    ``phase`` is the handshake phase in progress when it was raised.
    """
    from paramiko import AuthenticationException, SSHException

    if isinstance(exc, HostKeyProblem):
        return SshError("key", str(exc), key_status=exc.status, phase=deadlines.KEX)
    if isinstance(exc, AuthenticationException) or (
        isinstance(exc, SSHException) and "authentication methods" in str(exc)
    ):
        if "timeout" in str(exc).lower():
            return handshake_expired(where, deadlines.AUTH, timeout)
        return SshError(
            "auth", _auth_refused(exc, where, keys), key_status="trusted", phase=deadlines.AUTH
        )
    if isinstance(exc, SSHException) and "protocol banner" in str(exc):
        if isinstance(exc.__context__, TimeoutError):
            return handshake_expired(where, deadlines.BANNER, timeout)
        return SshError(
            "reach",
            f"{where}: closed the connection before the SSH handshake",
            transient=True,
            phase=deadlines.BANNER,
        )
    if isinstance(exc, EOFError | ConnectionResetError | BrokenPipeError):
        return SshError(
            "reach",
            f"{where}: connection dropped during the SSH handshake ({phase})",
            transient=True,
            phase=phase,
        )
    if isinstance(exc, TimeoutError) or (
        isinstance(exc, SSHException) and "No existing session" in str(exc)
    ):
        return handshake_expired(where, phase, timeout)
    if isinstance(exc, OSError):
        return SshError("reach", f"{where}: {phase}: {short(exc)}", phase=phase)
    return SshError("session", f"{where}: {phase}: {short(exc)}", phase=phase)


def _auth_refused(exc: BaseException, where: str, keys: Identities) -> str:
    tried = []
    if keys.usable:
        tried.append("key files " + ", ".join(keys.usable))
    if keys.agent:
        tried.append("ssh-agent" if _agent_present() else "ssh-agent (none running)")
    absent = f"; IdentityFile not found: {', '.join(keys.missing)}" if keys.missing else ""
    unprotected = (
        "; UNPROTECTED PRIVATE KEY FILE, ignored as ssh ignores it (others can read it; "
        f"chmod 600 it): {', '.join(keys.unprotected)}"
        if keys.unprotected
        else ""
    )
    detail = short(exc).rstrip(".")
    return (
        f"{where}: authentication refused ({detail}; tried {', '.join(tried) or 'nothing'})"
        f"{absent}{unprotected}"
    )


def _agent_present() -> bool:
    return bool(os.environ.get("SSH_AUTH_SOCK"))


def close_quietly(connection: Any, sock: Any) -> None:
    for thing in (connection.client, sock):
        try:
            thing.close()
        except Exception:
            pass


def short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
