"""Honest rehearsals (issue 11): --speed compresses the schedule, never what measures the real
world; dry runs show guard windows, the remedy a failure would run and what would be notified;
drills inject a breach at a chosen launch time and estimate a dry rollback's worst case;
notifications carry their facts and each channel picks its milestones."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import events_of


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


class SlowToRecover:
    """An endpoint that answers 503 until ``after`` real seconds have passed since it started."""

    def __init__(self, after: float) -> None:
        ready_at = time.monotonic() + after

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200 if time.monotonic() >= ready_at else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_speed_never_shrinks_a_checks_within(write_runbook, cli):
    """At --speed 60 a `within: 4s` is still four real seconds: a service that needs two passes."""
    server = SlowToRecover(after=2.0)
    try:
        runbook = write_runbook(
            f"""
            version: 1
            name: Rehearsal
            steps:
              - id: health
                at: T+0
                check: [{{http: "{server.url}/ready", within: 4s, every: 500ms}}]
            """
        )
        result = cli("run", runbook, "--no-wait", "--speed", "60")
    finally:
        server.close()
    assert result.exit_code == 0, result.stderr
    checks = events_of(result.events, "check_result")
    assert checks[-1]["status"] == "pass" and len(checks) >= 3
    assert _ts(checks[-1]) - _ts(checks[0]) >= 1.5


def test_a_dry_drill_estimates_the_rollbacks_worst_case(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Estimate
        steps:
          - {id: migrate, at: T+0, run: "true"}
        rollback:
          - {id: restore, run: "true", timeout: 2m, retries: 2, retry_delay: 10s}
          - {id: ready, check: [{http: "http://127.0.0.1:9/ready", within: 1m, timeout: 5s}]}
        """
    )
    result = cli("drill", runbook, "--fail-at", "migrate")
    assert result.exit_code == 0
    # restore: 3 x 120 s + 2 x 10 s; ready: 60 s + one last 5 s attempt
    assert "rollback worst case:   445 s (estimate" in result.stdout


def test_drill_breach_at_an_offset_injects_it_then_not_when_the_window_opens(
    write_runbook, cli, workdir
):
    runbook = write_runbook(
        """
        version: 1
        name: Went live, then breached
        prometheus: {url: "http://127.0.0.1:9"}
        steps:
          - {id: golive, at: T+0, run: "echo live >> ran.log"}
          - {id: soak, at: T+0, wait: 10s}
          - {id: after, at: T+0, run: "echo after >> ran.log"}
        guards:
          - {id: errors, prometheus: "up", breach: "> 0.05", during: [T+0, T+30m], inconclusive_limit: 100}
        rollback:
          - {id: undo, run: "echo undo >> rolled.log"}
        """
    )
    result = cli("drill", runbook, "--breach", "errors", "--at", "T+3s", "--live", "--no-wait")
    assert result.exit_code == 0, result.stderr
    events = result.events
    injected = events_of(events, "drill_injected")[0]
    anchored = events_of(events, "guards_anchored")[0]
    assert "at T+3s" in injected["fault"]
    assert 2.5 <= _ts(injected) - _ts(anchored) < 10, "three seconds after go-live, during the soak"
    assert events_of(events, "step_interrupted")[0]["step"] == "soak"
    assert (workdir / "ran.log").read_text().split() == ["live"]
    assert (workdir / "rolled.log").read_text().split() == ["undo"]


def test_drill_at_needs_breach_and_a_valid_offset(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: x
        steps: [{id: a, at: T+0, run: "true"}]
        rollback: [{id: u, run: "true"}]
        """
    )
    assert cli("drill", runbook, "--fail-at", "a", "--at", "T+1m").exit_code == 2
    bad = cli("drill", runbook, "--breach", "nope", "--at", "soon")
    assert bad.exit_code == 2


def test_webhook_events_carry_time_offset_phase_and_slack_gets_blocks(write_runbook, cli, receiver):
    runbook = write_runbook(
        f"""
        version: 1
        name: Facts
        notify:
          - slack: "{receiver.url}/slack"
          - webhook: "{receiver.url}/hook"
        steps:
          - {{id: golive, at: T+0, run: "true"}}
          - {{id: smoke, at: T+0, run: "exit 1"}}
        rollback:
          - {{id: undo, run: "true"}}
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    hooks = [body for path, body in receiver.posts if path == "/hook"]
    rollback = next(h for h in hooks if h["milestone"] == "rollback_started")
    assert rollback["launch"] == events_of(result.events, "launch_started")[0]["launch_id"]
    assert rollback["time"].endswith("Z") and rollback["t_offset"].startswith("T+")
    assert rollback["phase"] == "rollback"
    slack = [body for path, body in receiver.posts if path == "/slack"]
    assert all(s["blocks"][0]["type"] == "section" and s["text"] for s in slack)
    assert slack[0]["blocks"][-1]["type"] == "context"


def test_a_channel_can_take_only_some_milestones(write_runbook, cli, receiver):
    runbook = write_runbook(
        f"""
        version: 1
        name: Quiet
        notify:
          - {{webhook: "{receiver.url}/all"}}
          - {{webhook: "{receiver.url}/few", milestones: [launch_finished]}}
        steps:
          - {{id: golive, at: T+0, run: "true", notify: "step message"}}
        """
    )
    assert cli("run", runbook, "--no-wait").exit_code == 0
    few = [body["milestone"] for path, body in receiver.posts if path == "/few"]
    everything = [body["milestone"] for path, body in receiver.posts if path == "/all"]
    assert few == ["step", "launch_finished"], "a step's own notify always goes"
    assert set(everything) >= {"launch_started", "go_live", "step", "launch_finished"}


def test_the_checkpoints_of_a_dry_run_run_nothing_and_notify_nobody(
    write_runbook, cli, receiver, workdir
):
    """A dry run's journal sits beside the real launch's in .launchctl/: pointing ``checkpoint``
    (or a timer) at it must not run the checks for real nor tell the channels it is stable."""
    runbook = write_runbook(
        f"""
        version: 1
        name: Rehearsed
        notify:
          - webhook: "{receiver.url}/hook"
        steps:
          - {{id: golive, at: T+0, run: "true"}}
        checkpoints:
          check:
            - command: "touch checked"
          schedule:
            - {{every: 1m, until: T+2m}}
        """
    )
    rehearsal = cli("run", runbook, "--dry-run")
    assert rehearsal.exit_code == 0, rehearsal.stderr
    went_live = events_of(rehearsal.events, "guards_anchored")[0]["anchor"]
    later = datetime.fromisoformat(went_live.replace("Z", "+00:00")).timestamp() + 600
    now = datetime.fromtimestamp(later).astimezone().isoformat()
    result = cli("checkpoint", rehearsal.journal_dir, "--now", now)
    assert result.exit_code == 0, result.stderr
    assert "dry run" in result.stderr
    assert not (workdir / "checked").exists()
    assert not [body for path, body in receiver.posts if path == "/hook"]
    assert not events_of(rehearsal.events, "checkpoint_result")
