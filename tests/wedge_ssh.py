"""An SSH server that stalls at one chosen phase, for the tests and the stall benchmark.

It is a small paramiko server on loopback (OpenSSH cannot be made to stall on
purpose): ``tcp`` never accepts and keeps its one-slot backlog full, so the
kernel drops new SYNs and a TCP connect hangs; ``banner`` accepts TCP and never speaks; ``kex`` sends its banner and
then nothing; ``auth``, ``channel``, ``exec`` and ``keepalive`` complete what
comes before and then never answer that request (the server's transport thread
blocks, as a wedged host's would). ``stalled`` is set once a client reached the
stall, so a test can cancel at exactly that point. Everything it holds is let
go on ``close``.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import paramiko

PHASES = ("tcp", "banner", "kex", "auth", "channel", "exec", "keepalive")


class WedgeServer:
    def __init__(self, host_key: Path, stall: str) -> None:
        if stall not in PHASES:
            raise ValueError(f"stall must be one of {PHASES}")
        self.stall = stall
        self.key = paramiko.Ed25519Key.from_private_key_file(str(host_key))
        self.public_line = f"{self.key.get_name()} {self.key.get_base64()}"
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._held: list[object] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        if stall == "tcp":
            self.sock.listen(0)
            self._held.append(socket.create_connection(("127.0.0.1", self.port)))
            self.stalled.set()
            return
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.public_line}\n"

    def _accept(self) -> None:
        while not self.release.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.stall == "banner":
            self._hold()
            return
        if self.stall == "kex":
            conn.sendall(b"SSH-2.0-wedge_1.0\r\n")
            self._hold()
            return
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.key)
        self._held.append(transport)
        try:
            transport.start_server(server=_Stalling(self))
        except (paramiko.SSHException, EOFError, OSError):
            return

    def _hold(self) -> None:
        self.stalled.set()
        self.release.wait()

    def hold_if(self, phase: str) -> None:
        if self.stall == phase:
            self._hold()

    def close(self) -> None:
        self.release.set()
        self.sock.close()
        for thing in self._held:
            try:
                thing.close()
            except Exception:
                pass


class _Stalling(paramiko.ServerInterface):
    """Says yes to everything, except that it never answers the wedge's phase."""

    def __init__(self, server: WedgeServer) -> None:
        self.server = server

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self.server.hold_if("auth")
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        self.server.hold_if("channel")
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.server.hold_if("exec")
        return True

    def check_global_request(self, kind: str, msg: paramiko.Message) -> bool:
        self.server.hold_if("keepalive")
        return False
