"""Host key trust, differentially: each known_hosts / ssh_config case is run through the real
OpenSSH client (``ssh -o BatchMode=yes``) and through launchctl, with the same policy and the
same known_hosts file, against the real sshd. Both must reach the decision the row names —
ran, or refused as unknown / changed / revoked / auth — and leave the same known_hosts behind.

A new case is one row. Where launchctl is deliberately stricter than ssh, the row says so
(``stricter``) and why; everywhere else the two must agree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from realservers_ssh import Sshd, keygen

from runbook.model import HostKeyPolicy, SshSettings
from steps.shells.ssh.pool import SshPool
from steps.shells.ssh.shell import SshShell

pytestmark = pytest.mark.slow  # the real sshd and the real ssh client

POLICIES = ("strict", "accept-new")
SSH_POLICY = {"strict": "yes", "accept-new": "accept-new"}


@dataclass(frozen=True)
class Case:
    """``known_hosts`` lines use {name} ([127.0.0.1]:PORT), {port}, {key} (the sshd's key),
    {other} (an impostor ed25519 key), {rsa} (an RSA key the sshd does not have) and
    {hashed} / {hashed_other} (hashed names). ``ssh`` maps each policy to ssh's decision;
    ``stricter`` maps a policy to launchctl's differing decision, with ``why``."""

    id: str
    known_hosts: str | None
    ssh: dict[str, str]
    config: dict[str, str] = field(default_factory=dict)
    stricter: dict[str, str] = field(default_factory=dict)
    why: str = ""


def both(decision: str) -> dict[str, str]:
    return {"strict": decision, "accept-new": decision}


NEW = {"strict": "unknown", "accept-new": "ran"}

CASES = [
    Case("exact-entry", "{name} {key}\n", both("ran")),
    Case("empty-file", "", NEW),
    Case("no-file", None, NEW),
    Case("changed-same-type", "{name} {other}\n", both("changed")),
    Case("changed-other-type", "{name} {rsa}\n", both("changed")),
    Case("several-keys-one-matches", "{name} {other}\n{name} {key}\n", both("ran")),
    Case("several-keys-matching-first", "{name} {key}\n{name} {rsa}\n", both("ran")),
    Case("one-line-several-names", "h.example,{name},other.example {key}\n", both("ran")),
    Case("revoked", "@revoked {name} {key}\n", both("revoked")),
    Case("revoked-and-plain", "{name} {key}\n@revoked {name} {key}\n", both("revoked")),
    Case("revoked-wildcard", "{name} {key}\n@revoked * {key}\n", both("revoked")),
    Case("revoked-other-key", "@revoked {name} {other}\n{name} {key}\n", both("ran")),
    Case("revoked-only-other-key", "@revoked {name} {other}\n", NEW),
    Case("wildcard-right", "[127.0.0.*]:{port} {key}\n", both("ran")),
    Case("wildcard-changed", "[127.0.0.*]:{port} {other}\n", both("changed")),
    Case("star-changed", "* {other}\n", both("changed")),
    Case("star-right", "* {key}\n", both("ran")),
    Case("question-mark-right", "[127.0.0.?]:{port} {key}\n", both("ran")),
    Case("negated-excludes", "[127.0.0.*]:{port},!{name} {key}\n", NEW),
    Case("negated-excludes-changed", "*,!{name} {other}\n", NEW),
    Case("negated-other-host", "*,![10.0.0.1]:{port} {key}\n", both("ran")),
    Case("hashed-right", "{hashed} {key}\n", both("ran")),
    Case("hashed-changed", "{hashed} {other}\n", both("changed")),
    Case("hashed-other-name", "{hashed_other} {other}\n", NEW),
    Case("port-less-right", "127.0.0.1 {key}\n", both("ran")),
    Case("port-less-changed", "127.0.0.1 {other}\n", NEW),
    Case("other-port", "[127.0.0.1]:1 {other}\n", NEW),
    Case(
        "name-case-insensitive",
        "[LocalHost]:{port} {key}\n",
        both("ran"),
        {"HostName": "localhost"},
    ),
    Case("alias-right", "pinned-alias {key}\n", both("ran"), {"HostKeyAlias": "pinned-alias"}),
    Case(
        "alias-changed",
        "pinned-alias {other}\n{name} {key}\n",
        both("changed"),
        {"HostKeyAlias": "pinned-alias"},
    ),
    Case("alias-unknown", "{name} {key}\n", NEW, {"HostKeyAlias": "pinned-alias"}),
    Case(
        "alias-revoked",
        "@revoked pinned-alias {key}\n",
        both("revoked"),
        {"HostKeyAlias": "pinned-alias"},
    ),
    Case("comments-and-junk", "# a comment\n\n{name} not-base64!\n  {name} {key}\n", both("ran")),
    Case("bad-marker-skipped", "@revokd {name} {key}\n", NEW),
    Case("two-markers-skipped", "@revoked @cert-authority {name} {key}\n", NEW),
    Case("unprotected-key-file", "{name} {key}\n", both("auth"), {"IdentityFile": "{open_key}"}),
    Case(
        "cert-authority-only",
        "@cert-authority * {other}\n",
        NEW,
        stricter=both("cert-authority"),
        why="launchctl does not verify host certificates and will not ignore the line",
    ),
    Case("cert-authority-and-plain", "@cert-authority * {other}\n{name} {key}\n", both("ran")),
    Case(
        "revoked-under-port-less-name",
        "@revoked 127.0.0.1 {key}\n",
        {"strict": "revoked", "accept-new": "ran"},
        stricter={"accept-new": "revoked"},
        why="ssh warns that the key is revoked under the port-less name, then records it and "
        "connects under accept-new; launchctl refuses a revoked key wherever it is listed",
    ),
]


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("trust_keys")
    other = keygen(directory / "impostor")
    rsa = keygen(directory / "rsa_key", kind="rsa")
    return {
        "other": " ".join(other.with_suffix(".pub").read_text().split()[:2]),
        "rsa": " ".join(rsa.with_suffix(".pub").read_text().split()[:2]),
    }


def hashed(name: str) -> str:
    from steps.shells.ssh.known_hosts import hashed_name

    return hashed_name(name)


def known_hosts_text(case: Case, sshd: Sshd, keys: dict[str, str]) -> str | None:
    if case.known_hosts is None:
        return None
    name = f"[127.0.0.1]:{sshd.port}"
    return case.known_hosts.format(
        name=name,
        port=sshd.port,
        key=" ".join(sshd.known_hosts_line.split()[1:3]),
        other=keys["other"],
        rsa=keys["rsa"],
        hashed=hashed(name),
        hashed_other=hashed(f"[127.0.0.2]:{sshd.port}"),
    )


def ssh_config(case: Case, sshd: Sshd, directory: Path) -> Path:
    open_key = directory / "id_open"
    shutil.copy(sshd.client_key, open_key)
    open_key.chmod(0o644)
    settings = {
        "HostName": "127.0.0.1",
        "Port": str(sshd.port),
        "User": sshd.user,
        "IdentityFile": str(sshd.client_key),
        "IdentitiesOnly": "yes",
        **{k: v.format(open_key=open_key) for k, v in case.config.items()},
    }
    path = directory / "ssh_config"
    path.write_text("Host app1\n" + "".join(f"  {k} {v}\n" for k, v in settings.items()))
    return path


def ssh_decision(config: Path, known: Path, policy: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    proc = subprocess.run(
        [
            "ssh", "-F", str(config),
            "-o", "BatchMode=yes",
            "-o", f"StrictHostKeyChecking={SSH_POLICY[policy]}",
            "-o", f"UserKnownHostsFile={known}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "UpdateHostKeys=no",
            "-o", "ConnectTimeout=10",
            "app1", "true",
        ],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    if proc.returncode == 0:
        return "ran"
    return decision_in(proc.stderr, SSH_SAYS)


def launchctl_decision(config: Path, known: Path, policy: str) -> str:
    settings = SshSettings(
        config=str(config),
        known_hosts=str(known),
        host_key_policy=HostKeyPolicy(policy),
        connect_timeout=timedelta(seconds=10),
    )
    pool = SshPool(settings)
    try:
        result = SshShell(pool, "app1").run("true", env={}, timeout=30)
    finally:
        pool.close()
    if result.reason is None and result.exit_code == 0:
        return "ran"
    return decision_in(result.reason or "", LAUNCHCTL_SAYS)


# What each tool tells its user, first match wins.
SSH_SAYS = (
    ("REVOKED HOST KEY", "revoked"),
    ("HOST IDENTIFICATION HAS CHANGED", "changed"),
    ("host key is known for", "unknown"),
    ("Permission denied", "auth"),
)
LAUNCHCTL_SAYS = (
    ("is marked @revoked", "revoked"),
    ("has CHANGED", "changed"),
    ("only through a @cert-authority", "cert-authority"),
    ("is not in", "unknown"),
    ("authentication refused", "auth"),
)


def decision_in(message: str, phrases: tuple[tuple[str, str], ...]) -> str:
    for phrase, decision in phrases:
        if phrase in message:
            return decision
    return f"other: {message.strip()[-300:]}"


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_launchctl_trusts_exactly_what_ssh_trusts(case, policy, sshd, keys, tmp_path, ssh_home):
    config = ssh_config(case, sshd, tmp_path)
    text = known_hosts_text(case, sshd, keys)
    files = {}
    for tool in ("ssh", "launchctl"):
        files[tool] = tmp_path / f"known_hosts.{tool}"
        if text is not None:
            files[tool].write_text(text)

    by_ssh = ssh_decision(config, files["ssh"], policy)
    by_launchctl = launchctl_decision(config, files["launchctl"], policy)

    assert by_ssh == case.ssh[policy], "the table no longer says what ssh does"
    assert by_launchctl == case.stricter.get(policy, by_ssh), (
        case.why or "launchctl differs from ssh"
    )
    after = {tool: path.read_text() if path.exists() else None for tool, path in files.items()}
    if case.stricter.get(policy) is None:
        assert after["launchctl"] == after["ssh"]  # the same line appended, or nothing
    else:
        assert after["launchctl"] == text  # refused: nothing written
    if text is not None:
        assert after["launchctl"].startswith(text)  # only ever appended to, never rewritten


@pytest.fixture(scope="module")
def two_key_sshd(tmp_path_factory):
    """An sshd with an ed25519 and an RSA host key: which one a client gets depends on what
    it asks for first."""
    directory = tmp_path_factory.mktemp("sshd_two_keys")
    rsa = keygen(directory / "ssh_host_rsa_key", kind="rsa")
    server = Sshd(directory, extra=[f"HostKey {rsa}"])
    server.rsa_line = f"[127.0.0.1]:{server.port} " + " ".join(
        rsa.with_suffix(".pub").read_text().split()[:2]
    )
    yield server
    server.stop()


@pytest.mark.parametrize("policy", POLICIES)
def test_the_key_exchange_asks_first_for_the_key_type_on_file(
    two_key_sshd, tmp_path, ssh_home, policy
):
    """Only the RSA key is on file: ssh asks for RSA first and is trusted; so must launchctl
    be, where a client asking for ed25519 first would see a CHANGED key."""
    config = ssh_config(Case("rsa-on-file", "", both("ran")), two_key_sshd, tmp_path)
    files = {tool: tmp_path / f"known_hosts.{tool}" for tool in ("ssh", "launchctl")}
    for path in files.values():
        path.write_text(two_key_sshd.rsa_line + "\n")
    assert ssh_decision(config, files["ssh"], policy) == "ran"
    assert launchctl_decision(config, files["launchctl"], policy) == "ran"
    assert (
        files["launchctl"].read_text() == files["ssh"].read_text() == two_key_sshd.rsa_line + "\n"
    )
