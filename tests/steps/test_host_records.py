"""The records a fan-out command leaves on its host, exercised with a real ``/bin/sh`` (the same
wrapper runs on every SSH host): its exit status and output survive the reader going away, and
the probe tells finished, running, vanished and absent apart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from steps.host_records import RecordKey, parse_probe, probe_script, recorded

KEY = RecordKey("20260101-000000-launch-abcd", "deploy")


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAUNCHCTL_RECORDS", str(tmp_path / "records"))
    monkeypatch.setenv("LAUNCHCTL_RUN", "token123")
    return tmp_path / "records" / KEY.launch_id / KEY.step


def sh(script: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, **kwargs)


def probe(host: str) -> object:
    return parse_probe(sh(probe_script(KEY, host)).stdout)


def test_the_wrapped_command_keeps_its_exit_status_output_and_exit_builtin(records):
    done = sh(recorded("echo one; echo two >&2; exit 3", KEY, "app1"))
    assert done.returncode == 3 and done.stdout == "one\ntwo\n"
    assert (records / "app1.exit").read_text().strip() == "3"
    assert (records / "app1.pid").read_text().split()[1] == "token123"
    record = probe("app1")
    assert record.state == "finished" and record.exit_code == 3
    assert record.output == "one\ntwo\n"


def test_a_command_whose_reader_went_away_runs_to_its_end_and_records_it(records, tmp_path):
    script = f"echo started; sleep 1; echo still here; touch {tmp_path}/reached-the-end"
    process = subprocess.Popen(
        ["/bin/sh", "-c", recorded(script, KEY, "app2")],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout.readline() == b"started\n"
    process.stdout.close()  # the driver's end of the channel is gone
    assert process.wait(timeout=30) == 0
    assert (tmp_path / "reached-the-end").exists()
    assert probe("app2").state == "finished"
    assert "still here" in (records / "app2.out").read_text()


def test_the_probe_tells_running_vanished_and_absent_apart(records):
    process = subprocess.Popen(
        ["/bin/sh", "-c", recorded("sleep 30", KEY, "app3")], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while not (records / "app3.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        running = probe("app3")
        assert running.state == "running" and running.pid == process.pid
        assert running.token == "token123"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert probe("app3").state == "vanished"
    assert probe("app9").state == "absent"


def test_an_unwritable_record_directory_runs_the_command_unrecorded(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("LAUNCHCTL_RECORDS", str(blocker))
    done = sh(recorded("echo plain; exit 4", KEY, "app1"))
    assert done.returncode == 4 and done.stdout == "plain\n"
    assert probe("app1").state == "absent"


def test_an_unexpected_answer_is_unreadable_not_a_guess():
    assert parse_probe("Welcome to the host!\n").state == "unreadable"
