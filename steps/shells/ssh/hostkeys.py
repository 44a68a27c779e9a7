"""Host key trust: the launch's known_hosts file, read once, and the policy that guards it.

Fabric hands paramiko an ``AutoAddPolicy``, which trusts any key it has not
seen; launchctl never does, and it does not let paramiko judge keys either:
every key goes through ``steps.shells.ssh.known_hosts.decide`` (OpenSSH's
rules). ``strict`` refuses an unknown key and says how to add it;
``accept-new`` appends it — only for a host with no matching line, once even
when many aliases of one address connect at the same moment, atomically
(a whole line or nothing) and beside other processes (``flock``) — and refuses
with the path and the reason when it cannot. A changed key, a revoked key and a
host vouched for only by a certificate authority are refused under every
policy. The file is only ever appended to, never rewritten.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.model import HostKeyPolicy
from steps.shells.ssh import known_hosts
from steps.shells.ssh.known_hosts import Entry, Lookup, Offered, Trust, Verdict

if TYPE_CHECKING:
    from paramiko import PKey, SSHClient

LOCK_WAIT_SECONDS = 5.0  # another process holding the file's lock longer than this is stuck


class HostKeyProblem(Exception):
    """A host key launchctl will not trust. ``status`` is what preflight's key column shows."""

    status = "UNTRUSTED"


class HostKeyUnknown(HostKeyProblem):
    status = "UNKNOWN"


class HostKeyChanged(HostKeyProblem):
    status = "CHANGED"


class HostKeyRevoked(HostKeyProblem):
    status = "REVOKED"


class HostKeyCertAuthority(HostKeyProblem):
    status = "CA-ONLY"


class HostKeyNotRecorded(HostKeyProblem):
    status = "NOT RECORDED"


def fingerprint(key: PKey) -> str:
    """OpenSSH's SHA256 fingerprint, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(hostname: str, port: int) -> str:
    return known_hosts.host_name(hostname, port)


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
        self._entries: list[Entry] | None = None
        self._read_error: str | None = None

    def _loaded(self) -> list[Entry]:
        if self._entries is None:
            text, self._read_error = _read(self.path)
            self._entries = known_hosts.parse(text)
        return self._entries

    def key_types(self, lookup: Lookup) -> list[str]:
        """The key types on file for this host, so the key exchange asks for one of those first
        (OpenSSH orders its HostKeyAlgorithms the same way)."""
        names = [lookup.name, *([lookup.bare] if lookup.bare else [])]
        with self._lock:
            entries = self._loaded()
        plain = [e for e in entries if e.marker is known_hosts.Marker.NONE]
        found = [e.key_type for e in plain if any(e.matches(n) for n in names)]
        return list(dict.fromkeys(found))

    def verifier(self, alias: str, lookup: Lookup, hash_names: bool = False) -> Verifier:
        return Verifier(self, alias, lookup, hash_names)

    def accept(self, alias: str, lookup: Lookup, offered: PKey, hash_names: bool = False) -> bool:
        """Trust ``offered`` or raise why not. Returns True when it was written to the file
        (under a hashed name with ``hash_names``, as ``HashKnownHosts yes`` asks)."""
        key = Offered(offered.get_name(), offered.asbytes())
        with self._lock:
            verdict = known_hosts.decide(self._loaded(), lookup, key)
            if verdict.trust is Trust.OK:
                return False
            self._refuse_unless_new(verdict, alias, lookup, offered)
            if self.policy is not HostKeyPolicy.ACCEPT_NEW:
                raise HostKeyUnknown(self._unknown_message(alias, lookup, offered))
            if not known_hosts.recordable(lookup.hostname):
                raise HostKeyNotRecorded(
                    f"{alias}: host key for {lookup.name} is not in {self.path}, and a host "
                    f"name with any of {''.join(sorted(known_hosts.UNRECORDABLE))} is never "
                    "recorded (as with ssh); add the key by hand after checking it"
                )
            return self._append(alias, lookup, offered, key, hash_names)

    def _refuse_unless_new(self, verdict: Verdict, alias: str, lookup: Lookup, key: PKey) -> None:
        where = f"{self.path}:{verdict.entry.line}" if verdict.entry else str(self.path)
        shown = f"{key.get_name()} {fingerprint(key)}"
        if verdict.trust is Trust.REVOKED:
            raise HostKeyRevoked(
                f"{alias}: host key for {verdict.name} ({shown}) is marked @revoked in {where}; "
                "refusing to connect under every host_key_policy: it may be a stolen key "
                "used to impersonate the host"
            )
        if verdict.trust is Trust.CHANGED:
            raise HostKeyChanged(self._changed_message(alias, verdict, where, key))
        if verdict.trust is Trust.CERT_AUTHORITY:
            raise HostKeyCertAuthority(
                f"{alias}: {verdict.name} is trusted in {where} only through a @cert-authority "
                f"line, and launchctl does not verify host certificates; refusing rather than "
                f"ignore it (the host offered the plain key {shown}). After checking it, add "
                f"the host's own key with `{_scan(lookup)} >> {self.path}`"
            )

    def _changed_message(self, alias: str, verdict: Verdict, where: str, key: PKey) -> str:
        name = verdict.name
        if verdict.via_ip:
            return (
                f"{alias}: host key for {name} (the address of {alias}, CheckHostIP) differs "
                f"from the one in {where} (now {key.get_name()} {fingerprint(key)}); refusing "
                "to connect: DNS spoofing, or the address and its key changed together"
            )
        return (
            f"{alias}: host key for {name} has CHANGED (now {key.get_name()} "
            f"{fingerprint(key)}, not the one in {where}); refusing to connect. "
            f"If the change is expected, remove the old key with "
            f"`ssh-keygen -R '{name}' -f {self.path}` and add the new one"
        )

    def _unknown_message(self, alias: str, lookup: Lookup, offered: PKey) -> str:
        if self._read_error:
            where = f" (it cannot be read: {self._read_error})"
        elif not self.path.exists():
            where = " (the file does not exist yet)"
        else:
            where = ""
        return (
            f"{alias}: host key for {lookup.name} ({offered.get_name()} {fingerprint(offered)}) "
            f"is not in {self.path}{where}; host_key_policy is strict. After checking the "
            f"fingerprint, add it with `{_scan(lookup)} >> {self.path}`, or set "
            "ssh.host_key_policy: accept-new"
        )

    def _append(
        self, alias: str, lookup: Lookup, offered: PKey, key: Offered, hash_names: bool
    ) -> bool:
        """Append one line under an ``flock``, deciding again on what is on disk now; a line is
        written whole or not at all (a short write is cut back off)."""
        try:
            return self._append_locked(alias, lookup, offered, key, hash_names)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise HostKeyNotRecorded(
                f"{alias}: cannot record the new host key for {lookup.name} "
                f"({offered.get_name()} {fingerprint(offered)}) in {self.path}: {reason}; "
                "host_key_policy accept-new refuses to connect without pinning the key"
            ) from None

    def _append_locked(
        self, alias: str, lookup: Lookup, offered: PKey, key: Offered, hash_names: bool
    ) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+b") as handle:
            _lock_file(handle.fileno())
            handle.seek(0)
            text = handle.read().decode("utf-8", errors="replace")
            on_disk = known_hosts.parse(text)
            verdict = known_hosts.decide(on_disk, lookup, key)
            self._entries = on_disk
            if verdict.trust is Trust.OK:
                return False
            self._refuse_unless_new(verdict, alias, lookup, offered)
            name = known_hosts.hashed_name(lookup.name) if hash_names else lookup.name
            separator = "" if not text or text.endswith("\n") else "\n"
            line = f"{separator}{name} {offered.get_name()} {offered.get_base64()}\n".encode()
            size = os.fstat(handle.fileno()).st_size
            try:
                written = os.write(handle.fileno(), line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, "short write (disk full?)")
                os.fsync(handle.fileno())
            except OSError:
                os.ftruncate(handle.fileno(), size)
                raise
        self._entries = known_hosts.parse(text + line.decode())
        return True


def _lock_file(fd: int) -> None:
    """``flock`` with a deadline: a process stuck holding the lock must not wedge a launch."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OSError(
                    errno.EWOULDBLOCK,
                    f"another process has held its lock for over {LOCK_WAIT_SECONDS:g}s",
                ) from None
            time.sleep(0.02)


def _scan(lookup: Lookup) -> str:
    """The command that prints the host's key lines under the name they must be filed under."""
    port = f"-p {lookup.port} " if lookup.port not in (0, 22) else ""
    scan = f"ssh-keyscan {port}{lookup.hostname}"
    if lookup.alias:  # filed under the HostKeyAlias, not the address
        return f"{scan} | sed 's/^[^ ]*/{lookup.alias}/'"
    return scan


class Verifier:
    """paramiko's missing-host-key hook for one connection attempt.

    launchctl gives paramiko no known keys, so paramiko asks this hook about
    every key, and the decision is always ours.
    """

    def __init__(self, known: KnownHosts, alias: str, lookup: Lookup, hash_names: bool) -> None:
        self.known = known
        self.alias = alias
        self.lookup = lookup
        self.hash_names = hash_names
        self.recorded = False

    def missing_host_key(self, client: SSHClient, name: str, key: PKey) -> None:
        self.recorded = self.known.accept(self.alias, self.lookup, key, self.hash_names)


def _read(path: Path) -> tuple[str, str | None]:
    """The file's text; a missing file is empty, an unreadable one is empty with the reason."""
    try:
        return path.read_text(errors="replace"), None
    except FileNotFoundError:
        return "", None
    except OSError as exc:
        return "", exc.strerror or str(exc)
