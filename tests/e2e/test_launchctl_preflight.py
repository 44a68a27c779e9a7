"""preflight touches nothing and proves the launch can run: secrets, queries, HTTP hosts."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from realservers import free_port


@pytest.fixture
def http_server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_preflight_passes_when_everything_answers(
    write_runbook, cli, prometheus, exporter, metric_name, http_server, workdir
):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    runbook = write_runbook(
        f"""
        version: 1
        name: Ready
        secrets: [API_TOKEN]
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: deploy, at: T-5m, run: "touch deployed"}}
          - {{id: health, at: T+0, check: [{{http: "{http_server}/health"}}, {{prometheus: "{metric_name}", expect: "< 1"}}]}}
        guards:
          - {{id: errors, prometheus: "{metric_name}", breach: "> 0.05", during: [T+0, T+30m]}}
        """
    )
    result = cli("preflight", runbook, env={"API_TOKEN": "tok-123456"})
    assert result.exit_code == 0, result.stdout
    assert not (workdir / "deployed").exists()
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "SUBJECT", "RESULT", "LATENCY", "DETAIL"]
    assert any(
        line.startswith("secret") and "API_TOKEN" in line and " ok " in line for line in lines
    )
    assert any(line.startswith("http") and "answers (HTTP 503)" in line for line in lines)
    prometheus_rows = [line for line in lines if line.startswith("prometheus")]
    assert (
        len(prometheus_rows) == 1 and "answers with data" in prometheus_rows[0]
    )  # one query, asked once
    assert lines[-1] == "preflight: 3 passed, 0 failed"


def test_preflight_reports_each_problem_and_exits_1(write_runbook, cli, prometheus, metric_name):
    dead = f"http://127.0.0.1:{free_port()}"
    runbook = write_runbook(
        f"""
        version: 1
        name: Not ready
        secrets: [API_TOKEN]
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: health, at: T+0, check: [{{http: "{dead}/health"}}]}}
        guards:
          - {{id: errors, prometheus: "{metric_name}_missing", breach: "> 0.05", during: [T+0, T+30m]}}
        """
    )
    result = cli("preflight", runbook, env={"API_TOKEN": None})
    assert result.exit_code == 1
    fails = [line for line in result.stdout.splitlines() if " FAIL " in line]
    assert len(fails) == 3
    assert any("not set in the environment" in line for line in fails)
    assert any("no data" in line for line in fails)
    assert any("no answer" in line for line in fails)


def test_preflight_accepts_no_data_for_a_query_declared_after_a_step_and_explains_a_ratio(
    write_runbook, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name + "_total", 10)
    prometheus.wait_for(metric_name + "_total", lambda v: v == 10)
    ratio = f"sum(rate({metric_name}_errors_total[5m])) / sum(rate({metric_name}_total[5m]))"
    runbook = write_runbook(
        f"""
        version: 1
        name: Later data
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: deploy, at: T-5m, run: "true"}}
          - {{id: check, at: T+0, check: [{{prometheus: "{metric_name}_new_feature", expect: "< 1", after: deploy}}]}}
        guards:
          - {{id: errors, prometheus: "{ratio}", breach: "> 0.05", during: [T+0, T+30m]}}
        """
    )
    result = cli("preflight", runbook)
    assert result.exit_code == 1
    later = next(line for line in result.stdout.splitlines() if "as declared" in line)
    assert "no data before 'deploy', as declared" in later and "FAIL" not in later
    assert "add `or vector(0)` to the numerator" in result.stdout


def test_a_guard_after_a_step_opens_only_once_that_step_has_finished(
    write_runbook, cli, prometheus, exporter, metric_name
):
    runbook = write_runbook(
        f"""
        version: 1
        name: After
        prometheus: {{url: "{prometheus.url}"}}
        steps:
          - {{id: golive, at: T+0, run: "true"}}
          - {{id: enable, at: T+0, run: "sleep 4"}}
          - {{id: soak, at: T+0, wait: 3s}}
        guards:
          - {{id: feature, prometheus: "{metric_name}_feature", breach: "> 0.05", every: 1s, inconclusive_limit: 2, after: enable}}
        """
    )
    import threading

    threading.Timer(3.0, exporter.set, (metric_name + "_feature", 0.0)).start()
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 0, "no blind escalation while the feature did not exist yet"
    from conftest import events_of

    opened = events_of(result.events, "guard_window_opened")[0]
    enabled = [e for e in events_of(result.events, "step_finished") if e["step"] == "enable"][0]
    assert opened["seq"] > enabled["seq"]


def test_preflight_reaches_each_notification_channel_without_posting_and_masks_secrets(
    write_runbook, cli, receiver
):
    closed = free_port()
    runbook = write_runbook(
        f"""
        version: 1
        name: Notified
        secrets: [HOOK_TOKEN]
        notify:
          - webhook: "http://hook:${{HOOK_TOKEN}}@127.0.0.1:{receiver.server.server_address[1]}/launch"
          - slack: "http://127.0.0.1:{closed}/services/${{HOOK_TOKEN}}"
        steps:
          - {{id: golive, at: T+0, run: "true"}}
        """
    )
    result = cli("preflight", runbook, env={"HOOK_TOKEN": "hook-s3cret-77"})
    assert result.exit_code == 1
    rows = [line for line in result.stdout.splitlines() if line.startswith("notify")]
    assert len(rows) == 2
    assert f"webhook 127.0.0.1:{receiver.server.server_address[1]}" in rows[0]
    assert " ok " in rows[0] and "nothing sent" in rows[0]
    assert "FAIL" in rows[1] and "cannot reach its host" in rows[1]
    assert receiver.posts == []  # a preflight posts nothing to a channel
    assert "hook-s3cret-77" not in result.stdout + result.stderr
    unset = cli("preflight", runbook, env={"HOOK_TOKEN": ""})
    assert "its URL needs secret HOOK_TOKEN" in unset.stdout


def test_preflight_masks_a_secret_in_what_it_says_on_stderr_too(write_runbook, cli):
    """The table was masked; the guard's time-to-detect line on stderr quoted the Prometheus
    error as it came, secret and all (here in the host name, lower-cased by the resolver)."""
    runbook = write_runbook(
        """
        version: 1
        name: Secret host
        secrets: [PROM_TOKEN]
        prometheus: {url: "http://${PROM_TOKEN}.invalid:9090/"}
        steps:
          - {id: golive, at: T+0, run: "true"}
        guards:
          - {id: errors, prometheus: "vector(1)", breach: "> 2", during: [T+0, T+5m]}
        """
    )
    result = cli("preflight", runbook, env={"PROM_TOKEN": "Prom-S3cret-77"})
    assert result.exit_code == 1
    assert "time to detect" in result.stderr
    said = (result.stdout + result.stderr).lower()
    assert "prom-s3cret-77" not in said, said


def test_preflight_probes_the_checks_between_waves_and_of_the_checkpoints(
    write_runbook, cli, http_server
):
    runbook = write_runbook(
        f"""
        version: 1
        name: Watched
        steps:
          - {{id: golive, at: T+0, run: "true"}}
        roll_forward:
          - {{id: flag-off, run: "true", check: [{{http: "{http_server}/roll-forward"}}]}}
        checkpoints:
          check: [{{http: "{http_server}/checkpoint"}}]
          schedule: [{{every: 2h, until: T+24h}}]
        """
    )
    result = cli("preflight", runbook)
    http_rows = [line for line in result.stdout.splitlines() if line.startswith("http")]
    assert any("/roll-forward" in row for row in http_rows), result.stdout
    assert any("/checkpoint" in row for row in http_rows), result.stdout
