"""The known_hosts file as OpenSSH reads it, and the trust decision it gives for one key.

Pure and paramiko-free, so the rules can be tested as a table. What OpenSSH does
(``hostfile.c``, ``match.c``, ``sshconnect.c``), restated:

- a line is ``[@marker] patterns keytype base64 [comment]``; ``@revoked`` and
  ``@cert-authority`` are the markers; lines that do not parse are skipped;
- ``patterns`` is either one hashed name (``|1|salt|hmac``, HMAC-SHA1 of the
  name) or a comma list of ``*``/``?`` globs, each maybe negated with ``!``; a
  matching negation excludes the line; names compare case-insensitively;
- a host on port 22 is looked up as ``host``, elsewhere as ``[host]:port``, or
  as its ``HostKeyAlias`` when one is set;
- among the lines whose patterns match, a plain key equal to the offered one
  makes it OK; any other plain key makes it CHANGED (whatever its type); none
  makes it NEW; an ``@revoked`` line holding the offered key makes it REVOKED
  whatever else matches;
- a NEW key on a port other than 22 (and no alias) is still OK when the bare
  host name holds it.

Where launchctl is stricter than OpenSSH it says so here: a key ``@revoked``
under the bare name of a host reached on another port is REVOKED (OpenSSH only
looks for an exact match there); a host vouched for only by an
``@cert-authority`` line is CERT_AUTHORITY, refused, because launchctl does not
verify host certificates (OpenSSH, offered a plain key, treats it as NEW).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from dataclasses import dataclass
from enum import StrEnum


class Trust(StrEnum):
    OK = "ok"
    NEW = "unknown"
    CHANGED = "changed"
    REVOKED = "revoked"
    CERT_AUTHORITY = "cert-authority"


class Marker(StrEnum):
    NONE = ""
    REVOKED = "@revoked"
    CERT_AUTHORITY = "@cert-authority"


@dataclass(frozen=True)
class Entry:
    """One parsed line. ``blob`` is the key in SSH wire form, compared byte for byte."""

    line: int
    marker: Marker
    patterns: str
    key_type: str
    blob: bytes

    def matches(self, name: str) -> bool:
        if self.patterns.startswith("|"):
            return _hashed_match(name, self.patterns)
        return match_host_patterns(name, self.patterns) == 1


@dataclass(frozen=True)
class Offered:
    """The key a server offered: its type name and wire form."""

    key_type: str
    blob: bytes


@dataclass(frozen=True)
class Verdict:
    trust: Trust
    entry: Entry | None = None  # the line that decided (CHANGED, REVOKED, CERT_AUTHORITY, OK)
    name: str = ""  # the name the deciding line was found under
    via_ip: bool = False  # decided by CheckHostIP's address entry


def host_name(hostname: str, port: int) -> str:
    """The name OpenSSH files a key under: ``host`` on port 22, ``[host]:port`` elsewhere."""
    return hostname if port in (0, 22) else f"[{hostname}]:{port}"


def parse(text: str) -> list[Entry]:
    """Every line OpenSSH would load, in file order; what it would skip is skipped."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = _parse_line(number, raw)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_line(number: int, raw: str) -> Entry | None:
    line = raw.lstrip(" \t")
    if not line or line.startswith("#"):
        return None
    marker = Marker.NONE
    if line.startswith("@"):
        word, _, line = _split(line)
        if word not in (Marker.REVOKED, Marker.CERT_AUTHORITY) or line.startswith("@"):
            return None  # unknown marker, or two markers: OpenSSH skips the line
        marker = Marker(word)
    patterns, _, rest = _split(line)
    key_type, _, rest = _split(rest)
    encoded, _, _ = _split(rest)
    if not patterns or not key_type or not encoded:
        return None
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    if _wire_type(blob) != key_type:
        return None
    if patterns.startswith("|") and _hash_parts(patterns) is None:
        return None
    return Entry(number, marker, patterns, key_type, blob)


def _split(text: str) -> tuple[str, str, str]:
    """The first whitespace-separated word, the separator, and the rest (left-stripped)."""
    match = re.match(r"([^ \t]*)([ \t]*)(.*)", text, re.DOTALL)
    assert match is not None
    return match.group(1), match.group(2), match.group(3)


def _wire_type(blob: bytes) -> str | None:
    """The key type named inside an SSH wire-format key (its first string)."""
    if len(blob) < 4:
        return None
    (length,) = struct.unpack(">I", blob[:4])
    if length > len(blob) - 4:
        return None
    try:
        return blob[4 : 4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None


def match_pattern(name: str, pattern: str) -> bool:
    """OpenSSH's glob: ``*`` any run (also empty), ``?`` any one character, all else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name, re.DOTALL) is not None


def match_host_patterns(name: str, patterns: str) -> int:
    """1 when a pattern matches, -1 when a negated one does (that wins), 0 otherwise."""
    name = name.lower()
    positive = 0
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        if match_pattern(name, pattern.lower()):
            if negated:
                return -1
            positive = 1
    return positive


def _hash_parts(patterns: str) -> tuple[bytes, bytes] | None:
    parts = patterns.split("|")
    if len(parts) != 4 or parts[1] != "1":
        return None
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(salt) != hashlib.sha1().digest_size:
        return None
    return salt, digest


def _hashed_match(name: str, patterns: str) -> bool:
    parts = _hash_parts(patterns)
    if parts is None:
        return False
    salt, digest = parts
    mine = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(mine, digest)


def hashed_name(name: str) -> str:
    """``name`` hashed as ``HashKnownHosts yes`` writes it, with a fresh salt."""
    salt = os.urandom(hashlib.sha1().digest_size)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def check(entries: list[Entry], name: str, key: Offered) -> Verdict:
    """The status of ``key`` under ``name``: OK, CHANGED, NEW or REVOKED (OpenSSH's rules)."""
    found = [e for e in entries if e.matches(name)]
    for entry in found:
        if entry.marker is Marker.REVOKED and entry.blob == key.blob:
            return Verdict(Trust.REVOKED, entry, name)
    verdict = Verdict(Trust.NEW, None, name)
    for entry in found:
        if entry.marker is not Marker.NONE:
            continue
        if entry.blob == key.blob:
            return Verdict(Trust.OK, entry, name)
        if verdict.trust is Trust.NEW:
            verdict = Verdict(Trust.CHANGED, entry, name)
    return verdict


def cert_authority_for(entries: list[Entry], names: list[str]) -> Verdict | None:
    """The first ``@cert-authority`` line that vouches for one of ``names``, if any."""
    for name in names:
        for entry in entries:
            if entry.marker is Marker.CERT_AUTHORITY and entry.matches(name):
                return Verdict(Trust.CERT_AUTHORITY, entry, name)
    return None


@dataclass(frozen=True)
class Lookup:
    """Under which names one connection's key is looked up.

    ``alias`` is ssh_config's ``HostKeyAlias``; ``ip`` is the ``[address]:port``
    name ``CheckHostIP`` adds, only where it applies (see ``check_host_ip_applies``).
    """

    hostname: str
    port: int
    alias: str | None = None
    ip: str | None = None

    @property
    def name(self) -> str:
        return self.alias if self.alias else host_name(self.hostname, self.port)

    @property
    def bare(self) -> str | None:
        """The port-less name OpenSSH also accepts a key under (no alias, port not 22)."""
        if self.alias or self.port in (0, 22):
            return None
        return self.hostname


def decide(entries: list[Entry], lookup: Lookup, key: Offered) -> Verdict:
    """The trust in ``key`` for this connection, before any policy (see module docstring)."""
    verdict = check(entries, lookup.name, key)
    bare = check(entries, lookup.bare, key) if lookup.bare else None
    if bare is not None and bare.trust is Trust.REVOKED:
        return bare
    if verdict.trust is Trust.NEW and bare is not None and bare.trust is Trust.OK:
        verdict = bare
    if verdict.trust in (Trust.REVOKED, Trust.CHANGED):
        return verdict
    if lookup.ip is not None:
        by_ip = check(entries, lookup.ip, key)
        if by_ip.trust in (Trust.REVOKED, Trust.CHANGED):
            return Verdict(by_ip.trust, by_ip.entry, by_ip.name, via_ip=True)
    if verdict.trust is Trust.NEW:
        names = [lookup.name, *([lookup.bare] if lookup.bare else [])]
        return cert_authority_for(entries, names) or verdict
    return verdict


def check_host_ip_applies(
    wanted: bool, hostname: str, address: str | None, proxied: bool, loopback: bool
) -> bool:
    """OpenSSH turns ``CheckHostIP`` off for loopback, proxied connections, and when the
    host name already is the address."""
    return wanted and address is not None and not proxied and not loopback and hostname != address


UNRECORDABLE = set("@?*#[]|'\"\\")


def recordable(hostname: str) -> bool:
    """OpenSSH never writes a host name with these characters into known_hosts."""
    return not (UNRECORDABLE & set(hostname))
