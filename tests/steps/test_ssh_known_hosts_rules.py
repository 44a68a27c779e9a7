"""OpenSSH's known_hosts rules as launchctl applies them, as tables: patterns, lines, and the
decisions the real sshd cannot show from loopback (CheckHostIP is off for loopback in ssh too)."""

from __future__ import annotations

import base64
import struct

import pytest

from steps.shells.ssh.known_hosts import (
    Lookup,
    Offered,
    Trust,
    check_host_ip_applies,
    decide,
    hashed_name,
    match_host_patterns,
    parse,
    recordable,
)


def blob(key_type: str, body: bytes) -> bytes:
    return struct.pack(">I", len(key_type)) + key_type.encode() + body


KEY = Offered("ssh-ed25519", blob("ssh-ed25519", b"\x00\x00\x00\x20" + b"k" * 32))
OTHER = Offered("ssh-ed25519", blob("ssh-ed25519", b"\x00\x00\x00\x20" + b"o" * 32))


def line(names: str, key: Offered = KEY, marker: str = "") -> str:
    text = f"{names} {key.key_type} {base64.b64encode(key.blob).decode()}"
    return f"{marker} {text}" if marker else text


@pytest.mark.parametrize(
    "name,patterns,expected",
    [
        ("web1", "web1", 1),
        ("WEB1", "web1", 1),
        ("web1", "WEB1", 1),
        ("web1", "web*", 1),
        ("web1", "web?", 1),
        ("web10", "web?", 0),
        ("web1", "*", 1),
        ("web1", "db*,web*", 1),
        ("web1", "web*,!web1", -1),
        ("web1", "!web1,web*", -1),
        ("web2", "web*,!web1", 1),
        ("web1", "!web2", 0),
        ("[10.0.0.1]:2222", "[10.0.0.*]:2222", 1),
        ("[10.0.0.1]:2222", "[10.0.0.1]:22", 0),
        ("10.0.0.1", "[10.0.0.1]:2222", 0),
        ("a.b", "a?b", 1),
        ("", "*", 1),
    ],
)
def test_host_patterns_match_as_openssh_matches_them(name, patterns, expected):
    assert match_host_patterns(name, patterns) == expected


def test_hashed_names_match_only_their_own_name():
    (entry,) = parse(line(hashed_name("[web1]:2222")))
    assert entry.matches("[web1]:2222")
    assert not entry.matches("[web1]:22") and not entry.matches("web1")


@pytest.mark.parametrize(
    "text",
    [
        "# comment",
        "",
        "   ",
        "web1",
        "web1 ssh-ed25519",
        "web1 ssh-ed25519 not*base64",
        "web1 ssh-rsa " + base64.b64encode(KEY.blob).decode(),  # type differs from the blob's
        "@revokd " + line("web1"),
        "@revoked @revoked " + line("web1"),
        "|1|bad|hash " + KEY.key_type + " " + base64.b64encode(KEY.blob).decode(),
        "1024 35 12345678 web1",  # SSH-1 RSA
    ],
)
def test_lines_ssh_skips_are_skipped(text):
    assert parse(text) == []


def test_leading_whitespace_and_comments_after_the_key_are_allowed():
    (entry,) = parse("  \t" + line("web1") + " root@somewhere")
    assert entry.line == 1 and entry.matches("web1")


CHECKS = [
    # (known_hosts lines, lookup, offered, trust)
    ([line("[h]:2222")], Lookup("h", 2222), KEY, Trust.OK),
    ([line("[h]:2222", OTHER)], Lookup("h", 2222), KEY, Trust.CHANGED),
    ([line("[h]:2222", OTHER), line("[h]:2222")], Lookup("h", 2222), KEY, Trust.OK),
    (
        [line("[h]:2222"), line("[h]:2222", marker="@revoked")],
        Lookup("h", 2222),
        KEY,
        Trust.REVOKED,
    ),
    ([line("h")], Lookup("h", 22), KEY, Trust.OK),
    ([line("h")], Lookup("h", 2222), KEY, Trust.OK),  # port-less fallback
    ([line("h", OTHER)], Lookup("h", 2222), KEY, Trust.NEW),  # ...which never says CHANGED
    ([line("h")], Lookup("h", 2222, alias="a"), KEY, Trust.NEW),  # no fallback with an alias
    ([line("a")], Lookup("h", 2222, alias="a"), KEY, Trust.OK),
    ([line("*", OTHER, marker="@cert-authority")], Lookup("h", 22), KEY, Trust.CERT_AUTHORITY),
    ([line("*", OTHER, marker="@cert-authority"), line("h")], Lookup("h", 22), KEY, Trust.OK),
    # CheckHostIP: the address's own line is checked too
    ([line("h"), line("10.0.0.5", OTHER)], Lookup("h", 22, ip="10.0.0.5"), KEY, Trust.CHANGED),
    ([line("h"), line("10.0.0.5")], Lookup("h", 22, ip="10.0.0.5"), KEY, Trust.OK),
    ([line("10.0.0.5", OTHER)], Lookup("h", 22, ip="10.0.0.5"), KEY, Trust.CHANGED),
    ([line("10.0.0.5")], Lookup("h", 22, ip="10.0.0.5"), KEY, Trust.NEW),
    ([line("h"), line("10.0.0.5", OTHER)], Lookup("h", 22), KEY, Trust.OK),  # not asked for
]


@pytest.mark.parametrize("lines,lookup,offered,trust", CHECKS)
def test_trust_decisions(lines, lookup, offered, trust):
    verdict = decide(parse("\n".join(lines)), lookup, offered)
    assert verdict.trust is trust


def test_a_changed_key_names_the_line_that_holds_the_old_one():
    text = "\n".join(["# header", line("h"), line("[h]:2222", OTHER)])
    verdict = decide(parse(text), Lookup("h", 2222), KEY)
    assert verdict.trust is Trust.CHANGED and verdict.entry.line == 3


@pytest.mark.parametrize(
    "wanted,hostname,address,proxied,loopback,applies",
    [
        (True, "web1", "10.0.0.5", False, False, True),
        (False, "web1", "10.0.0.5", False, False, False),
        (True, "web1", "127.0.0.1", False, True, False),
        (True, "10.0.0.5", "10.0.0.5", False, False, False),
        (True, "web1", "10.0.0.5", True, False, False),
        (True, "web1", None, False, False, False),
    ],
)
def test_check_host_ip_applies_where_openssh_applies_it(
    wanted, hostname, address, proxied, loopback, applies
):
    assert check_host_ip_applies(wanted, hostname, address, proxied, loopback) is applies


@pytest.mark.parametrize(
    "hostname,ok", [("web1", True), ("10.0.0.1", True), ("we*b", False), ("a|b", False)]
)
def test_names_with_pattern_characters_are_never_recorded(hostname, ok):
    assert recordable(hostname) is ok
