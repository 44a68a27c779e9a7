"""The driver dies mid-wave (``kill -9``) over a real sshd: the remote command runs on to its end and
leaves its exit status on the host; ``resume`` never re-runs a finished host, names the in-flight
one and what its record says, takes its result from the record (or waits for it), runs again only
a host nobody can vouch for, and goes on at the wave and host where the launch stopped. A
``launchctl rollback`` from a second terminal undoes exactly the hosts the journal shows touched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import events_of, launchctl_argv, read_events, run_subprocess, wait_for
from realservers_ssh import gone

pytestmark = pytest.mark.slow  # a real sshd on loopback, a driver killed with SIGKILL

RUNBOOK = """
version: 1
name: Killed mid-wave
ssh: SSH
targets:
  api: {hosts: [app1, app2, app3, app4, app5, app6], parallel: 1}
steps:
  - id: deploy
    at: T+0
    on: api
    timeout: TIMEOUT
    run: 'echo start >> DIR/{{ host }}.log; if [ -e DIR/slow-{{ host }} ]; then sleep SLOW; fi; echo deployed {{ host }}; echo end >> DIR/{{ host }}.log'
    expect: {stdout_contains: deployed}
    waves: [1, 100%]
rollback:
  - id: undeploy
    if_started: deploy
    on: api
    parallel: 6
    run: 'echo {{ host }} >> DIR/undo.log'
"""


def write(workdir: Path, lab, slow: str = "4", timeout: str = "2m") -> Path:
    text = textwrap.dedent(RUNBOOK).lstrip()
    values = {"SSH": lab.ssh_section(), "DIR": str(workdir), "SLOW": slow, "TIMEOUT": timeout}
    for name, value in values.items():
        text = text.replace(name, value)
    path = workdir / "launch.yaml"
    path.write_text(text)
    return path


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def kill_mid_wave(workdir: Path, lab, slow: str = "4", timeout: str = "2m") -> Path:
    """Run until app4 (wave 2, one host at a time) is in flight, then SIGKILL the driver."""
    (workdir / "slow-app4").touch()
    journal = workdir / "journal"
    driver = subprocess.Popen(
        launchctl_argv(
            "run", write(workdir, lab, slow, timeout), "--no-wait", "--yes", "--journal", journal
        ),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: "start" in lines(workdir / "app4.log"), timeout=60)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    return journal


def record_dir(sshd, journal: Path) -> Path:
    launch_id = read_events(journal)[0]["launch_id"]
    return sshd.records / launch_id / "deploy"


def test_the_remote_command_outlives_the_driver_and_leaves_its_exit_status(ssh_lab, sshd, workdir):
    journal = kill_mid_wave(workdir, ssh_lab)
    events = read_events(journal)
    started = [e["host"] for e in events_of(events, "host_started")]
    finished = [e["host"] for e in events_of(events, "host_finished")]
    assert started == ["app1", "app2", "app3", "app4"] and finished == ["app1", "app2", "app3"]
    records = record_dir(sshd, journal)
    assert wait_for(lambda: (records / "app4.exit").exists(), timeout=30)
    assert (records / "app4.exit").read_text().strip() == "0"
    assert "deployed app4" in (records / "app4.out").read_text()
    assert lines(workdir / "app4.log") == ["start", "end"]  # it ran to its end, once


def test_resume_names_the_in_flight_host_and_pauses_without_yes(ssh_lab, sshd, workdir):
    journal = kill_mid_wave(workdir, ssh_lab, slow="30")
    status = run_subprocess("status", journal, cwd=workdir)
    assert "wave 2 of 2: app2, app3 ok; app4 in flight; app5, app6 not started" in status.stdout
    asked = run_subprocess("resume", journal, cwd=workdir)
    assert asked.exit_code == 5, asked.stdout + asked.stderr
    assert "3 hosts finished (not run again)" in asked.stdout
    assert "app4: still running on the host" in asked.stdout
    assert "--yes" in asked.stdout
    for host in ("app1", "app2", "app3"):
        assert lines(workdir / f"{host}.log") == ["start", "end"]
    group = int((record_dir(sshd, journal) / "app4.pid").read_text().split()[0])
    os.killpg(group, signal.SIGKILL)  # the command this test started, by its process group


def test_resume_takes_a_host_finished_meanwhile_from_its_record_and_goes_on(ssh_lab, sshd, workdir):
    journal = kill_mid_wave(workdir, ssh_lab)
    assert wait_for(lambda: (record_dir(sshd, journal) / "app4.exit").exists(), timeout=30)
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=120)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    for host in ssh_lab.aliases[:6]:
        assert lines(workdir / f"{host}.log") == ["start", "end"], host  # nobody ran twice
    events = read_events(journal)
    app4 = [e for e in events_of(events, "host_finished") if e["host"] == "app4"]
    assert app4[-1]["status"] == "ok" and app4[-1]["recovered"] == "from its record on the host"
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "events lost or duplicated across the kill"
    asked = events_of(events, "operator_decision")[0]
    assert "app4: finished on the host after the driver stopped (exit 0)" in asked["question"]
    status = run_subprocess("status", journal, cwd=workdir)
    assert "wave 2 of 2: app2, app3, app4, app5, app6 ok (app4 from the host's record)" in (
        status.stdout
    )


def test_resume_waits_for_a_host_still_running_instead_of_running_it_twice(ssh_lab, sshd, workdir):
    journal = kill_mid_wave(workdir, ssh_lab, slow="6")
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=120)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert "app4: still running on the host" in resumed.stdout
    for host in ssh_lab.aliases[:6]:
        assert lines(workdir / f"{host}.log") == ["start", "end"], host


def test_a_host_still_running_past_the_steps_timeout_is_killed_on_the_host_not_rerun(
    ssh_lab, sshd, workdir
):
    journal = kill_mid_wave(workdir, ssh_lab, slow="120", timeout="3s")
    group = int((record_dir(sshd, journal) / "app4.pid").read_text().split()[0])
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=120)
    assert resumed.exit_code == 1, resumed.stdout + resumed.stderr  # failed, rolled back
    assert wait_for(lambda: gone(group), timeout=10), "the command survived on the host"
    assert lines(workdir / "app4.log") == ["start"]  # killed, never run a second time
    app4 = [
        e
        for e in events_of(read_events(journal), "host_finished")
        if e["host"] == "app4" and not e.get("phase")
    ]
    assert app4[-1]["status"] == "failed" and "timed out after 3s" in app4[-1]["reason"]
    assert "killed on the host" in app4[-1]["reason"]
    assert lines(workdir / "app5.log") == []


def test_an_in_flight_host_without_a_record_runs_again_and_only_it(ssh_lab, sshd, workdir):
    journal = kill_mid_wave(workdir, ssh_lab)
    records = record_dir(sshd, journal)
    assert wait_for(lambda: (records / "app4.exit").exists(), timeout=30)
    shutil.rmtree(records)  # as if the command had never reached the host
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=120)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert "app4: no record on the host" in resumed.stdout
    assert lines(workdir / "app4.log") == ["start", "end", "start", "end"]
    for host in ("app1", "app2", "app3", "app5", "app6"):
        assert lines(workdir / f"{host}.log") == ["start", "end"], host


def test_a_second_terminal_rollback_undoes_exactly_the_hosts_touched_last_wave_first(
    ssh_lab, sshd, workdir
):
    journal = kill_mid_wave(workdir, ssh_lab)
    rolled = run_subprocess("rollback", journal, "--reason", "driver died", cwd=workdir)
    assert rolled.exit_code == 0, rolled.stdout + rolled.stderr
    undone = lines(workdir / "undo.log")
    assert sorted(undone[:3]) == ["app2", "app3", "app4"] and undone[3:] == ["app1"]
    status = run_subprocess("status", journal, cwd=workdir)
    assert "undeploy: ok — undid app2, app3, app4 (wave 2); app1 (wave 1)" in status.stdout


def test_a_host_the_pause_interrupted_runs_again_on_resume_and_is_no_failure(
    ssh_lab, sshd, workdir
):
    """SIGTERM pauses the launch and kills app4's command on its host (``host_finished``
    interrupted): resume runs app4 again and goes on, it does not count it as a failed host and
    roll the launch back."""
    (workdir / "slow-app4").touch()
    journal = workdir / "journal"
    driver = subprocess.Popen(
        launchctl_argv(
            "run", write(workdir, ssh_lab, slow="3"), "--no-wait", "--yes", "--journal", journal
        ),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: "start" in lines(workdir / "app4.log"), timeout=60)
    driver.send_signal(signal.SIGTERM)
    assert driver.wait(timeout=30) == 5  # paused
    app4 = [e for e in events_of(read_events(journal), "host_finished") if e["host"] == "app4"]
    assert app4[-1]["status"] == "interrupted"
    asked = run_subprocess("resume", journal, cwd=workdir)
    assert asked.exit_code == 5, asked.stdout + asked.stderr
    assert "3 hosts finished (not run again)" in asked.stdout
    assert "app4: started on the host but ended without a status (killed?); will run again" in (
        asked.stdout
    )
    resumed = run_subprocess("resume", journal, "--yes", cwd=workdir, timeout=120)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert not events_of(read_events(journal), "rollback_started")
    assert lines(workdir / "app4.log") == ["start", "start", "end"]  # killed, then run again
    for host in ("app1", "app2", "app3", "app5", "app6"):
        assert lines(workdir / f"{host}.log") == ["start", "end"], host
    assert not (workdir / "undo.log").exists()
