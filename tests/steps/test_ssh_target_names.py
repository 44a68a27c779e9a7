"""SSH target names are checked at ``validate`` time, in the runbook and in a ``--targets`` file:
one ``FILE:LINE:COL: message`` line each, exit 2, before anything connects."""

from __future__ import annotations

import pytest

BAD_HOSTS = [
    ("--version", "host name '--version' starts with '-'"),
    ("-oProxyCommand=touch /tmp/x", "host name '-oProxyCommand=touch /tmp/x' starts with '-'"),
    ("h1:abc", "port 'abc' is not a number from 1 to 65535"),
    ("h1:99999", "port '99999' is not a number from 1 to 65535"),
    ("h1:0", "port '0' is not a number from 1 to 65535"),
    ("h1:", "empty port after ':'"),
    ("@", "nothing before '@': give a user name, or leave the '@' out"),
    ("@h1", "nothing before '@'"),
    ("deploy@", "empty host name"),
    ("-l@h1", "user name '-l' starts with '-'"),
    ("deploy@-h1", "host name '-h1' starts with '-'"),
    ("h1;rm", "'h1;rm' is not a host name"),
    ("h[1]", "'h[1]' is not a host name"),
]
GOOD_HOSTS = ["app1", "app-1.example.com", "10.0.0.7", "deploy@app1", "deploy@app1:2222", "::1"]


def runbook_with(write_runbook, host: str = "app1", user: str | None = None, port: str = "22"):
    user_line = f", user: {user!r}" if user is not None else ""
    return write_runbook(
        f"""
        version: 1
        name: Names
        targets:
          api: {{hosts: [{host!r}], port: {port}{user_line}}}
        steps:
          - {{id: deploy, at: T+0, on: api, run: "true"}}
        """
    )


@pytest.mark.parametrize("host,message", BAD_HOSTS, ids=[h for h, _ in BAD_HOSTS])
def test_bad_host_names_are_refused_at_their_line_and_column(write_runbook, cli, host, message):
    path = runbook_with(write_runbook, host=host)
    result = cli("validate", path)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"{path}:4:17: targets.api.hosts[0]: {message}")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_host_names_ssh_accepts_pass(write_runbook, cli, host):
    result = cli("validate", runbook_with(write_runbook, host=host))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "user,message",
    [
        ("-oProxyCommand=x", "user name '-oProxyCommand=x' starts with '-'"),
        ("", "must not be empty"),
    ],
)
def test_bad_user_names_are_refused(write_runbook, cli, user, message):
    path = runbook_with(write_runbook, user=user)
    result = cli("validate", path)
    assert result.exit_code == 2
    assert f"targets.api.user: {message}" in result.stderr


@pytest.mark.parametrize("port", ["0", "65536", "'22'", "abc"])
def test_ports_outside_1_to_65535_are_refused(write_runbook, cli, port):
    result = cli("validate", runbook_with(write_runbook, port=port))
    assert result.exit_code == 2 and "targets.api.port:" in result.stderr


def test_a_targets_file_follows_the_same_rules(write_runbook, workdir, cli):
    runbook = runbook_with(write_runbook)
    targets = workdir / "staging.yaml"
    targets.write_text("targets:\n  api:\n    hosts: [ok1, '--version', 'h2:99999']\n")
    result = cli("run", runbook, "--targets", targets, "--dry-run")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert (
        f"{targets}:3:18: targets.api.hosts[1]: host name '--version' starts with '-'" in lines[0]
    )
    assert f"{targets}:3:31: targets.api.hosts[2]: port '99999' is not a number" in lines[1]
