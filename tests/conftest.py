"""Shared fixtures: writing runbooks, invoking the CLI in-process and as a real subprocess,
and reading journals back. Tests run in their own temporary directory so journals and
command side effects never touch the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from notify_receiver import Receiver

from launchctl.cli import run_cli

REPO = Path(__file__).resolve().parent.parent

# An event or field the catalogue does not declare is a bug: in tests the recorder raises at
# once (in-process and in every launchctl subprocess the tests start, which inherit this).
os.environ["LAUNCHCTL_STRICT_EVENTS"] = "1"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def journal_dir(self) -> Path | None:
        for line in self.stderr.splitlines():
            if line.startswith("journal: "):
                return Path(line.removeprefix("journal: ").strip())
        return None

    @property
    def events(self) -> list[dict]:
        return read_events(self.journal_dir)


def read_events(journal_dir: Path) -> list[dict]:
    lines = (journal_dir / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def events_of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch directory that is also the current directory (commands run here)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write_runbook(workdir: Path):
    def write(text: str, name: str = "launch.yaml") -> Path:
        path = workdir / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture
def cli():
    """Run launchctl in-process, as a user would from a pipe (no terminal)."""

    def invoke(*args: str, input: str | None = None, env: dict | None = None) -> CliResult:
        runner = CliRunner()
        with runner.isolation(input=input, env=env) as (out, err, _):
            code = run_cli([str(a) for a in args])
            return CliResult(code, out.getvalue().decode(), err.getvalue().decode())

    return invoke


def launchctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "launchctl.cli", *map(str, args)]


def run_subprocess(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 60
) -> CliResult:
    proc = subprocess.run(
        launchctl_argv(*args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(scope="session")
def exporter():
    from realservers import Exporter

    server = Exporter()
    yield server
    server.close()


@pytest.fixture(scope="session")
def prometheus(exporter, tmp_path_factory):
    """A real Prometheus scraping the tests' exporter every second."""
    from realservers import Prometheus

    server = Prometheus(tmp_path_factory.mktemp("prometheus"), exporter.port)
    yield server
    server.stop()


@pytest.fixture
def metric_name(request) -> str:
    """A metric name no other test uses, so tests sharing one Prometheus never see each other's values."""
    import re

    return "t_" + re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:60]


# -- SSH: a real sshd on loopback (tests/realservers_ssh.py) ---------------------------------


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH sshd on 127.0.0.1 with its own host key and authorized key."""
    from realservers_ssh import Sshd

    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def silent_server():
    from realservers_ssh import SilentServer

    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def ssh_home(tmp_path, monkeypatch) -> Path:
    """Keep the user's own ~/.ssh and ssh-agent out: HOME is a scratch dir, no SSH_AUTH_SOCK."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def ssh_lab(sshd, silent_server, ssh_home, workdir):
    """Host aliases app1..app8 (and wrongkey, dead, silent, behind) in an ssh_config, with a
    known_hosts that trusts the sshd; remote commands run on this machine, so they can write
    into ``workdir`` by absolute path."""
    from realservers_ssh import SshLab

    return SshLab(sshd, workdir, silent_server.port)


def pytest_collection_modifyitems(config, items):
    """Everything under tests/e2e/ starts real servers or processes: marked ``slow``."""
    e2e = Path(__file__).resolve().parent / "e2e"
    for item in items:
        if e2e in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def history(tmp_path_factory):
    """A real Prometheus serving a backfilled past with a known incident (tests/history_prometheus.py)."""
    from history_prometheus import HistoryPrometheus

    server = HistoryPrometheus(tmp_path_factory.mktemp("history"))
    yield server
    server.stop()


@pytest.fixture
def receiver():
    """A local Slack/webhook stand-in that records the POSTs it gets."""
    server = Receiver()
    yield server
    server.close()
