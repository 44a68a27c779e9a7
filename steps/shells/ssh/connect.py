"""Opening one SSH connection's socket, and saying in one line why a connection failed.

The pool (``steps.shells.ssh.pool``) decides when to connect and whether to try again;
this module gives it a TCP socket tuned for a short SSH exchange, the auth
settings ssh_config asks for, and ``classify``: which stage failed (reach, key,
auth, session) and whether another attempt could help.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from steps.shells.ssh.hostkeys import HostKeyProblem


class SshError(Exception):
    """Why a host could not be used. ``stage``: config, reach, key, auth or session."""

    def __init__(
        self, stage: str, message: str, *, transient: bool = False, key_status: str | None = None
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.transient = transient
        self.key_status = key_status

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
    handshake: ~60 ms a connection on loopback without it) and quick ACKs."""
    last: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(
        hostname, port, 0, socket.SOCK_STREAM
    ):
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


def auth_kwargs(ssh_config: Any) -> tuple[dict[str, Any], list[str]]:
    """Key files from IdentityFile (those that exist; and the missing ones, for the message),
    then ssh-agent and the default keys in ~/.ssh unless ``IdentitiesOnly yes``. Never a password:
    a launch must not stop at a prompt."""
    identities = [str(Path(p).expanduser()) for p in ssh_config.get("identityfile", [])]
    existing = [p for p in identities if Path(p).is_file()]
    only = str(ssh_config.get("identitiesonly", "no")).lower() == "yes"
    kwargs: dict[str, Any] = {"allow_agent": not only, "look_for_keys": not only}
    if existing:
        kwargs["key_filename"] = existing
    return kwargs, [p for p in identities if p not in existing]


def classify(
    exc: BaseException,
    where: str,
    timeout: float,
    auth: dict[str, Any],
    missing: list[str],
    elapsed: float,
) -> SshError:
    """Turn what paramiko raised into a stage and a one-line reason; decide if a retry may help.

    (A changed host key is explained by the pool, which knows the known_hosts file.)
    """
    from paramiko import AuthenticationException, SSHException

    if isinstance(exc, HostKeyProblem):
        return SshError("key", str(exc), key_status=exc.status)
    if isinstance(exc, AuthenticationException) or (
        isinstance(exc, SSHException) and "authentication methods" in str(exc)
    ):
        return SshError("auth", _auth_refused(exc, where, auth, missing), key_status="trusted")
    if isinstance(exc, SSHException) and "protocol banner" in str(exc):
        cause = exc.__context__
        if isinstance(cause, TimeoutError) or elapsed >= timeout:
            return SshError(
                "reach", f"{where}: accepted TCP but sent no SSH banner within {timeout:g}s"
            )
        return SshError(
            "reach", f"{where}: closed the connection before the SSH handshake", transient=True
        )
    if isinstance(exc, EOFError | ConnectionResetError | BrokenPipeError):
        return SshError(
            "reach", f"{where}: connection dropped during the SSH handshake", transient=True
        )
    if isinstance(exc, TimeoutError) or (
        isinstance(exc, SSHException) and "No existing session" in str(exc)
    ):
        return SshError("reach", f"{where}: SSH handshake did not finish within {timeout:g}s")
    if isinstance(exc, OSError):
        return SshError("auth", f"{where}: {exc}")
    return SshError("session", f"{where}: {short(exc)}")


def _auth_refused(exc: BaseException, where: str, auth: dict[str, Any], missing: list[str]) -> str:
    tried = []
    if auth.get("key_filename"):
        tried.append("key files " + ", ".join(auth["key_filename"]))
    if auth.get("allow_agent"):
        tried.append("ssh-agent" if _agent_present() else "ssh-agent (none running)")
    if auth.get("look_for_keys"):
        tried.append("default keys in ~/.ssh")
    absent = f"; IdentityFile not found: {', '.join(missing)}" if missing else ""
    detail = short(exc).rstrip(".")
    return (
        f"{where}: authentication refused ({detail}; tried {', '.join(tried) or 'nothing'}){absent}"
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
    return text.splitlines()[0][:200]
