"""Host key trust: the launch's known_hosts file, read once, and the policy that guards it.

Fabric hands paramiko an ``AutoAddPolicy``, which trusts any key it has not
seen; launchctl never does. ``strict`` refuses an unknown key and says how to
add it; ``accept-new`` records it (once, even when many aliases of one address
connect at the same moment, and safely beside other processes); a key that
differs from the recorded one is refused under both.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.model import HostKeyPolicy

if TYPE_CHECKING:
    from paramiko import HostKeys, PKey, SSHClient


class HostKeyProblem(Exception):
    """A host key launchctl will not trust. ``status`` is what preflight's key column shows."""

    status = "UNTRUSTED"


class HostKeyUnknown(HostKeyProblem):
    status = "UNKNOWN"


class HostKeyChanged(HostKeyProblem):
    status = "CHANGED"


def fingerprint(key: PKey) -> str:
    """OpenSSH's SHA256 fingerprint, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(hostname: str, port: int) -> str:
    """The name OpenSSH files a key under: ``host`` on port 22, ``[host]:port`` elsewhere."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


class KnownHosts:
    """One known_hosts file shared by every connection of a launch.

    Parsed once on first use; ``accept-new`` appends under a thread lock and an
    ``flock`` on the file, re-reading it first so a key another process or
    thread recorded meanwhile is compared instead of added twice.
    """

    def __init__(self, path: Path, policy: HostKeyPolicy) -> None:
        self.path = path
        self.policy = policy
        self._lock = threading.Lock()
        self._keys: HostKeys | None = None

    def _loaded(self) -> HostKeys:
        with self._lock:
            if self._keys is None:
                self._keys = _read(self.path)
            return self._keys

    def known(self, name: str) -> dict[str, PKey]:
        entry = self._loaded().lookup(name)
        return dict(entry) if entry else {}

    def prepare(self, client: SSHClient, alias: str, hostname: str, port: int) -> _Verifier:
        """Give ``client`` exactly the keys known for this address and our policy for the rest."""
        name = known_hosts_name(hostname, port)
        for key_type, key in self.known(name).items():
            client.get_host_keys().add(name, key_type, key)
        verifier = _Verifier(self, alias, hostname, port)
        client.set_missing_host_key_policy(verifier)
        return verifier

    def changed_message(self, alias: str, hostname: str, port: int, offered: PKey) -> str:
        name = known_hosts_name(hostname, port)
        return (
            f"{alias}: host key for {name} has CHANGED (now {offered.get_name()} "
            f"{fingerprint(offered)}, not the one in {self.path}); refusing to connect. "
            f"If the change is expected, remove the old key with "
            f"`ssh-keygen -R '{name}' -f {self.path}` and add the new one"
        )

    def unknown_message(self, alias: str, hostname: str, port: int, offered: PKey) -> str:
        name = known_hosts_name(hostname, port)
        scan = f"ssh-keyscan -p {port} {hostname}" if port != 22 else f"ssh-keyscan {hostname}"
        where = "" if self.path.exists() else " (the file does not exist yet)"
        return (
            f"{alias}: host key for {name} ({offered.get_name()} {fingerprint(offered)}) "
            f"is not in {self.path}{where}; host_key_policy is strict. After checking the "
            f"fingerprint, add it with `{scan} >> {self.path}`, or set ssh.host_key_policy: accept-new"
        )

    def accept(self, alias: str, hostname: str, port: int, offered: PKey) -> bool:
        """A key with no entry: trust it per policy. Returns True when it was written to the file."""
        name = known_hosts_name(hostname, port)
        with self._lock:
            keys = self._keys if self._keys is not None else _read(self.path)
            self._keys = keys
            if self._compare(keys, name, alias, hostname, port, offered):
                return False
            if self.policy is not HostKeyPolicy.ACCEPT_NEW:
                raise HostKeyUnknown(self.unknown_message(alias, hostname, port, offered))
            return self._append(keys, name, alias, hostname, port, offered)

    def _compare(
        self, keys: HostKeys, name: str, alias: str, hostname: str, port: int, offered: PKey
    ) -> bool:
        """True when ``offered`` is already trusted; raises when a different key is on file."""
        entry = keys.lookup(name)
        if not entry:
            return False
        if entry.get(offered.get_name()) == offered:
            return True
        raise HostKeyChanged(self.changed_message(alias, hostname, port, offered))

    def _append(
        self, keys: HostKeys, name: str, alias: str, hostname: str, port: int, offered: PKey
    ) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            text = handle.read().decode("utf-8", errors="replace")
            on_disk = _parse(text)
            if self._compare(on_disk, name, alias, hostname, port, offered):
                keys.add(name, offered.get_name(), offered)
                return False
            separator = "" if not text or text.endswith("\n") else "\n"
            line = f"{separator}{name} {offered.get_name()} {offered.get_base64()}\n"
            handle.write(line.encode())
            handle.flush()
            os.fsync(handle.fileno())
        keys.add(name, offered.get_name(), offered)
        return True


class _Verifier:
    """paramiko's missing-host-key hook for one connection attempt (it knows the alias)."""

    def __init__(self, known: KnownHosts, alias: str, hostname: str, port: int) -> None:
        self.known = known
        self.alias = alias
        self.hostname = hostname
        self.port = port
        self.recorded = False

    def missing_host_key(self, client: SSHClient, name: str, key: PKey) -> None:
        self.recorded = self.known.accept(self.alias, self.hostname, self.port, key)


def _read(path: Path) -> HostKeys:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        text = ""
    return _parse(text)


def _parse(text: str) -> HostKeys:
    """known_hosts lines paramiko understands (plain and hashed names); markers and junk skipped."""
    from paramiko import HostKeys
    from paramiko.hostkeys import HostKeyEntry

    keys = HostKeys()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "@")):
            continue
        try:
            entry = HostKeyEntry.from_line(line)
        except Exception:  # bad base64, unknown key type: ssh skips such lines too
            continue
        if entry is not None and entry.key is not None:
            for name in entry.hostnames:
                keys.add(name, entry.key.get_name(), entry.key)
    return keys
