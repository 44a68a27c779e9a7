"""Real servers for integration tests: a Prometheus the tests start, and an exporter they own.

Prometheus is Debian's ``prometheus`` binary with its own config and data
directory, scraping the exporter every second on loopback. In CI (``CI=true``)
a missing binary or a server that will not start fails the test instead of
skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unavailable(what: str) -> None:
    """A real part is missing: a failure in CI, a skip on a developer machine."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} (CI=true: tests needing it must not skip)")
    pytest.skip(what)


LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


class Exporter:
    """A /metrics endpoint whose gauges tests set, plus a histogram fed in the background."""

    def __init__(self) -> None:
        self.gauges: dict[str, float] = {}
        self.histograms: dict[
            str, tuple[list[float], list[float]]
        ] = {}  # name -> (cumulative counts, latencies)
        self.lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._stop = threading.Event()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self._feed_histograms, daemon=True).start()

    def set(self, name: str, value: float) -> None:
        with self.lock:
            self.gauges[name] = value

    def set_latencies(self, name: str, latencies: list[float]) -> None:
        """Feed histogram ``name`` with these latencies, cycling, 50 observations a second."""
        with self.lock:
            counts = self.histograms.get(name, ([0.0] * (len(LATENCY_BUCKETS) + 1), []))[0]
            self.histograms[name] = (counts, list(latencies))

    def _feed_histograms(self) -> None:
        index = 0
        while not self._stop.wait(0.02):
            with self.lock:
                for counts, latencies in self.histograms.values():
                    if not latencies:
                        continue
                    latency = latencies[index % len(latencies)]
                    for i, bound in enumerate((*LATENCY_BUCKETS, float("inf"))):
                        if latency <= bound:  # per bucket here; render() makes them cumulative
                            counts[i] += 1
                            break
            index += 1

    def render(self) -> str:
        lines = []
        with self.lock:
            for name, value in self.gauges.items():
                lines += [f"# TYPE {name} gauge", f"{name} {value!r}"]
            for name, (counts, _) in self.histograms.items():
                lines.append(f"# TYPE {name} histogram")
                cumulative = 0.0
                for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), counts, strict=True):
                    cumulative += count
                    lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
                lines += [f"{name}_sum 0", f"{name}_count {cumulative}"]
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


class Prometheus:
    """``scrape_interval``, ``data`` (default ``workdir/data``) and ``extra_args`` let a test
    serve other histories (see ``tests/history_prometheus.py``)."""

    def __init__(
        self,
        workdir: Path,
        target_port: int,
        *,
        scrape_interval: str = "1s",
        data: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            unavailable("the prometheus binary is not installed (Debian package prometheus)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: {scrape_interval}, evaluation_interval: {scrape_interval}}}\n"
            "scrape_configs:\n"
            f"  - job_name: tests\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        self.log = (workdir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data or workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                unavailable(
                    f"prometheus exited with {self.process.returncode}; see {workdir / 'prometheus.log'}"
                )
            try:
                urllib.request.urlopen(self.url + "/-/ready", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        unavailable("prometheus did not become ready within 30 s")

    def query(self, promql: str) -> list:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)["data"]["result"]

    def wait_for(self, promql: str, predicate, timeout: float = 20.0) -> float:
        """Wait until the query's single value satisfies ``predicate``; returns it."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                value = float(result[0]["value"][1])
                if predicate(value):
                    return value
            time.sleep(0.2)
        raise AssertionError(f"{promql} never satisfied the predicate (last value {value})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
