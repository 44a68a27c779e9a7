"""Faults made real mid-launch: a full disk under the journal, a flood of output, a Prometheus
that dies while a guard watches, signals, secrets printed in pieces, a jumping wall clock."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import pytest
from conftest import events_of, launchctl_argv, read_events, run_subprocess, wait_for


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_journal_that_cannot_be_written_pauses_the_launch_with_exit_5(write_runbook, workdir):
    steps = "".join(
        f"  - {{id: s{i:02d}, at: T+0, run: 'echo {i} >> ran.log'}}\n" for i in range(40)
    )
    runbook = write_runbook("version: 1\nname: Disk full\nsteps:\n" + steps)
    result = subprocess.run(
        launchctl_argv("run", runbook, "--no-wait", "--journal", "j"),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_file_size(
            6000
        ),  # the journal outgrows this after a few steps: EFBIG, as on a full disk
    )
    assert result.returncode == 5, result.stderr
    assert (
        "cannot write journal" in result.stderr
        and "paused so that nothing runs unrecorded" in result.stderr
    )
    assert "Traceback" not in result.stderr
    ran = (workdir / "ran.log").read_text().split()
    assert 0 < len(ran) < 40, "it stopped at the write failure instead of going on unrecorded"
    events = read_events(workdir / "j")
    finished = {e["step"] for e in events if e["event"] == "step_finished"}
    assert set(ran) - {s.lstrip("s").lstrip("0") or "0" for s in finished} <= {ran[-1]}, (
        "at most the in-flight step ran unrecorded"
    )


def test_a_command_flooding_its_output_keeps_memory_bounded_and_the_tail(write_runbook, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Flood
        steps:
          - {id: flood, at: T+0, run: "yes 'a line of output that goes on and on' | head -c 100000000; echo; echo the-last-line"}
        """
    )
    code = (
        "import resource,sys; from launchctl.cli import run_cli; c=run_cli(sys.argv[1:]);"
        "print('RSS', [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr); sys.exit(c)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "run", str(runbook), "--no-wait", "--journal", "j"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LAUNCHCTL_PLAIN": "1"},
    )
    assert result.returncode == 0
    rss_kib = int(result.stderr.strip().splitlines()[-1].split()[1])
    assert rss_kib < 150_000, f"peak memory {rss_kib} KiB for 100 MB of output"
    command = events_of(read_events(workdir / "j"), "command_finished")[0]
    assert command["tail"][-1] == "the-last-line" and len(command["tail"]) <= 40


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_pause_cleanly_and_resume(write_runbook, workdir, signum):
    runbook = write_runbook(
        """
        version: 1
        name: Signals
        steps:
          - {id: slow, at: T+0, run: "sleep 3; echo done >> ran.log"}
        """
    )
    proc = subprocess.Popen(
        launchctl_argv("run", runbook, "--no-wait", "--journal", "j"),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(
        lambda: (
            (workdir / "j" / "journal.jsonl").exists()
            and "step_started" in (workdir / "j" / "journal.jsonl").read_text()
        )
    )
    proc.send_signal(signum)
    assert proc.wait(timeout=10) == 5
    events = read_events(workdir / "j")
    assert (
        events[-1]["event"] == "launch_paused"
        and signal.Signals(signum).name in events[-1]["reason"]
    )
    resumed = run_subprocess("resume", "j", "--yes", cwd=workdir)
    assert resumed.exit_code == 0
    assert (workdir / "ran.log").read_text().split() == ["done"]


def test_a_secret_printed_in_pieces_is_masked_everywhere(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Secret pieces
        secrets: [API_TOKEN]
        steps:
          - id: leak
            at: T+0
            run: 'printf "token=%s" "$(echo "$T" | cut -c1-6)"; sleep 0.3; printf "%s\\n" "$(echo "$T" | cut -c7-)"; echo "$T" >&2; exit 1'
            env: {T: "${API_TOKEN}"}
        rollback:
          - {id: r, notify: "rolled back: {{ rollback.reason }}"}
        """
    )
    result = cli("run", runbook, "--no-wait", env={"API_TOKEN": "tok-9f8e7d6c5b4a"})
    assert result.exit_code == 1
    everything = result.stdout + result.stderr + (result.journal_dir / "journal.jsonl").read_text()
    for fmt in ("markdown", "json", "html"):
        everything += cli("report", result.journal_dir, "--format", fmt).stdout
    assert "tok-9f8e7d6c5b4a" not in everything
    assert "token=***" in everything


def test_a_prometheus_that_dies_while_a_guard_watches_is_never_a_silent_pass(
    write_runbook, cli, exporter, tmp_path_factory, metric_name
):
    from realservers import Prometheus

    own = Prometheus(tmp_path_factory.mktemp("dying-prometheus"), exporter.port)
    exporter.set(metric_name, 0.0)
    own.wait_for(metric_name, lambda v: v == 0.0)
    runbook = write_runbook(
        f"""
        version: 1
        name: Blind
        prometheus: {{url: "{own.url}"}}
        steps:
          - {{id: golive, at: T+0, run: "true"}}
          - {{id: soak, at: T+0, wait: 10m}}
        guards:
          - {{id: errors, prometheus: {metric_name}, breach: "> 0.05", every: 1s, inconclusive_limit: 3, during: [T+0, T+30m]}}
        rollback:
          - {{id: undo, run: "true"}}
        """
    )
    import threading

    threading.Timer(2.5, own.stop).start()
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1 and time.monotonic() - started < 20
    samples = events_of(result.events, "guard_sample")
    assert samples[0]["status"] == "ok"
    assert [s["status"] for s in samples[-3:]] == ["inconclusive"] * 3
    assert "cannot reach Prometheus" in samples[-1]["reason"]
    blind = events_of(result.events, "guard_inconclusive")[0]
    assert blind["action"] == "ask"
    assert events_of(result.events, "rollback_started")[0]["trigger"] == "guard:errors"


LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


@pytest.mark.parametrize("jump", ["+2h", "-2h"])
def test_the_wall_clock_jumping_during_a_wait_does_not_move_the_schedule(
    write_runbook, workdir, jump
):
    if not os.path.exists(LIBFAKETIME):
        from realservers import unavailable

        unavailable("libfaketime is not installed (Debian package faketime)")
    runbook = write_runbook(
        """
        version: 1
        name: Clock jump
        steps:
          - {id: first, at: T+0, run: "true"}
          - {id: second, at: T+4s, run: "true"}
        """
    )
    offset_file = workdir / "faketime"
    offset_file.write_text("+0\n")
    env = {
        **os.environ,
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME_TIMESTAMP_FILE": str(offset_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        launchctl_argv("run", runbook, "--t0", "now", "--journal", "j"),
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(
        lambda: (
            (workdir / "j" / "journal.jsonl").exists()
            and '"step":"first","status":"ok"' in (workdir / "j" / "journal.jsonl").read_text()
        )
    )
    offset_file.write_text(jump + "\n")  # NTP steps the wall clock two hours mid-wait
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    elapsed = time.monotonic() - started
    assert 3.5 < elapsed < 10, f"the T+4s step ran after {elapsed:.1f}s"
    second = [
        e
        for e in read_events(workdir / "j")
        if e["event"] == "step_started" and e["step"] == "second"
    ][0]
    assert "late_s" not in second
