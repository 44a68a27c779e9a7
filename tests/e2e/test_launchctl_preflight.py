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
