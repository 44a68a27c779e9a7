#!/usr/bin/env python3
"""Agente Hotelero IA -- a demo API service for the launchctl example launch.

Standard library only. Start it with:

    python examples/demo_service.py --port 8000 --state-dir /tmp/agente-demo

and point `examples/launch.yaml` at it. What it offers:

Health and identity
    GET  /health/live        200 while the process runs
    GET  /health/ready       200 {"status": "ready", "version": ...}; 503 while the
                             maintenance window is open or a deploy/rollback is
                             still starting up ({"status": "maintenance"|"deploying"})
    GET  /version            version, previous version, db schema revision, mode
    GET  /metrics            Prometheus text exposition format (see below)
    GET  /stats[?window=60]  error ratio, P95 and request rate over the last N seconds

Deployment state (kept in STATE_DIR/state.json, survives restarts)
    GET  /admin/state
    POST /admin/maintenance  body or ?state= on|off
    POST /admin/deploy?version=X      previous := current, current := X, "deploying"
                                      for --deploy-seconds (default 1.5 s)
    POST /admin/rollback     current := previous (no-op when there is nothing to
                             undo); also resets the traffic mode to "healthy", since
                             the bad release is gone
    POST /admin/migrate?direction=up|down|contract
                             up applies the release's migration once (41 -> 42);
                             down undoes it (no-op when nothing was applied);
                             contract drops the legacy column (42 -> 43): after it
                             there is no way down
    POST /admin/cutover      records that traffic now goes to the current release;
                             refused (409) unless ready

Traffic mode (what the synthetic traffic looks like)
    healthy   error ratio 0.05 %, P95 ~0.2 s
    degraded  error ratio 2 %,    P95 ~2.5 s
    failing   error ratio 10 %,   P95 ~4 s
    GET/POST /control/mode   body or ?mode= healthy|degraded|failing
    or from a shell:         echo failing > STATE_DIR/mode   (re-read every 0.5 s)

Metrics
    A background thread generates --rps (default 20) synthetic requests per second
    that only move the counters: `http_requests_total{method,handler,code}` (code
    "200" or "500"; both series exist from the start, so an error-ratio query
    never comes back empty) and the histogram `http_request_duration_seconds`
    (buckets 0.05 .. 5, +Inf). Error requests and latencies are spread evenly
    (not random), so rate() windows give steady numbers. Real HTTP requests to
    this service are not counted: a health probe's 503 never moves the error rate.

Logging is quiet: a start line, mode/state changes and errors on stderr; no
per-request lines unless --verbose. SIGTERM and SIGINT stop it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SERVICE = "agente-hotelero-ia"
DEFAULT_VERSION = "v1.3.2"
DEFAULT_DB_REVISION = 41
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MAX_BODY = 64 * 1024

# Histogram bucket upper bounds and their `le` label values.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
LE_LABELS = ("0.05", "0.1", "0.25", "0.5", "1", "2", "3", "5", "+Inf")

# Synthetic traffic goes to these routes in a repeating pattern of ten requests:
# 6 x chat, 3 x reservations, 1 x WhatsApp webhook.
ROUTES = (
    ("POST", "/api/v1/chat"),
    ("GET", "/api/v1/reservations"),
    ("POST", "/webhooks/whatsapp"),
)
ROUTE_PATTERN = (0, 1, 0, 2, 0, 1, 0, 0, 1, 0)
CODES = ("200", "500")

# mode -> (error ratio, latency quantile function as (quantile, seconds) points;
# linear in between). The points put P95 where the description says, both for the
# true distribution and for histogram_quantile() over the buckets above.
MODES: dict[str, tuple[float, tuple[tuple[float, float], ...]]] = {
    "healthy": (
        0.0005,
        ((0.0, 0.008), (0.5, 0.045), (0.9, 0.12), (0.99, 0.22), (0.999, 0.6), (1.0, 1.2)),
    ),
    "degraded": (0.02, ((0.0, 0.02), (0.5, 0.25), (0.8, 0.9), (0.9, 2.0), (1.0, 3.0))),
    "failing": (0.10, ((0.0, 0.05), (0.5, 0.6), (0.8, 2.0), (0.9, 3.0), (1.0, 5.0))),
}
GOLDEN = 0.6180339887498949  # low-discrepancy sequence step: evenly spread latencies

HISTORY_SECONDS = 15 * 60


def log(msg: str) -> None:
    print(f"demo_service: {msg}", file=sys.stderr, flush=True)


def fmt_value(v: float) -> str:
    """A sample value as Prometheus writes it."""
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def atomic_write(path: str, text: str) -> None:
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def parse_on_off(text: str) -> bool | None:
    t = text.strip().strip('"').lower()
    if t in ("on", "true", "1", "yes", "enable", "enabled"):
        return True
    if t in ("off", "false", "0", "no", "disable", "disabled"):
        return False
    return None


# --------------------------------------------------------------------------- metrics


class Metrics:
    """Counters and histogram of the synthetic traffic, plus a 1 s history of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = {(r, c): 0 for r in range(len(ROUTES)) for c in CODES}
        self.buckets = {r: [0] * len(LE_LABELS) for r in range(len(ROUTES))}  # not cumulative
        self.sums = {r: 0.0 for r in range(len(ROUTES))}
        self.counts = {r: 0 for r in range(len(ROUTES))}
        # The fixed series list that history snapshots follow: (name, labels).
        self.series: list[tuple[str, dict[str, str]]] = []
        for _r, (method, handler) in enumerate(ROUTES):
            for c in CODES:
                self.series.append(
                    ("http_requests_total", {"method": method, "handler": handler, "code": c})
                )
        for _r, (method, handler) in enumerate(ROUTES):
            for le in LE_LABELS:
                self.series.append(
                    (
                        "http_request_duration_seconds_bucket",
                        {"method": method, "handler": handler, "le": le},
                    )
                )
            self.series.append(
                ("http_request_duration_seconds_sum", {"method": method, "handler": handler})
            )
            self.series.append(
                ("http_request_duration_seconds_count", {"method": method, "handler": handler})
            )
        self.history: deque[tuple[float, tuple[float, ...]]] = deque(maxlen=HISTORY_SECONDS + 5)

    def observe(self, route: int, code: str, seconds: float) -> None:
        idx = len(BUCKETS)
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                idx = i
                break
        with self.lock:
            self.requests[(route, code)] += 1
            self.buckets[route][idx] += 1
            self.sums[route] += seconds
            self.counts[route] += 1

    def values(self) -> tuple[float, ...]:
        """Current values in the order of self.series (buckets cumulative)."""
        with self.lock:
            out: list[float] = []
            for r in range(len(ROUTES)):
                for c in CODES:
                    out.append(self.requests[(r, c)])
            for r in range(len(ROUTES)):
                acc = 0
                for n in self.buckets[r]:
                    acc += n
                    out.append(acc)
                out.append(self.sums[r])
                out.append(self.counts[r])
            return tuple(out)

    def snapshot(self, now: float) -> None:
        self.history.append((now, self.values()))

    def render(self) -> list[str]:
        vals = self.values()
        by_name: dict[str, list[str]] = {}
        for (name, labels), v in zip(self.series, vals, strict=False):
            lab = ",".join(f'{k}="{val}"' for k, val in labels.items())
            by_name.setdefault(name, []).append(f"{name}{{{lab}}} {fmt_value(v)}")
        lines = [
            "# HELP http_requests_total Total HTTP requests handled, by method, handler and status code.",
            "# TYPE http_requests_total counter",
            *by_name["http_requests_total"],
            "# HELP http_request_duration_seconds HTTP request latency in seconds.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        # A histogram's series are written together per label set: buckets, sum, count.
        per = len(LE_LABELS)
        for r in range(len(ROUTES)):
            lines.extend(by_name["http_request_duration_seconds_bucket"][r * per : (r + 1) * per])
            lines.append(by_name["http_request_duration_seconds_sum"][r])
            lines.append(by_name["http_request_duration_seconds_count"][r])
        return lines


def latency_for(points: tuple[tuple[float, float], ...], u: float) -> float:
    for (q0, v0), (q1, v1) in zip(points, points[1:], strict=False):
        if u <= q1:
            return v0 + (v1 - v0) * (u - q0) / (q1 - q0)
    return points[-1][1]


# ----------------------------------------------------------------------------- state


class State:
    """Deployment state persisted as JSON in the state directory."""

    def __init__(self, state_dir: str, initial_version: str, deploy_seconds: float) -> None:
        self.path = os.path.join(state_dir, "state.json")
        self.deploy_seconds = deploy_seconds
        self.lock = threading.Lock()
        self.data = self._default(initial_version)
        if os.path.exists(self.path):
            try:
                with open(self.path, encoding="utf-8") as f:
                    loaded = json.load(f)
                if not isinstance(loaded, dict):
                    raise ValueError("not a JSON object")
                for k in self.data:
                    if k in loaded:
                        self.data[k] = loaded[k]
            except (OSError, ValueError) as e:
                aside = f"{self.path}.corrupt-{int(time.time())}"
                log(f"state file {self.path} unreadable ({e}); moved to {aside}, starting fresh")
                with contextlib.suppress(OSError):
                    os.replace(self.path, aside)
        self._save()

    @staticmethod
    def _default(version: str) -> dict:
        return {
            "service": SERVICE,
            "version": version,
            "previous_version": None,
            "maintenance": False,
            "db_revision": DEFAULT_DB_REVISION,
            "db_previous_revision": None,
            "contracted": False,
            "deploying_until": 0.0,
            "cutover_at": None,
            "updated_at": None,
            "history": [],
        }

    def _save(self) -> None:
        self.data["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.data["history"] = self.data["history"][-50:]
        atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def _event(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.data["history"].append(f"{stamp} {text}")
        log(text)

    def status(self) -> str:
        if time.time() < float(self.data.get("deploying_until") or 0):
            return "deploying"
        if self.data["maintenance"]:
            return "maintenance"
        return "ready"

    def view(self) -> dict:
        with self.lock:
            v = {k: val for k, val in self.data.items() if k != "deploying_until"}
            v["status"] = self.status()
            return v

    def set_maintenance(self, on: bool) -> dict:
        with self.lock:
            changed = self.data["maintenance"] != on
            self.data["maintenance"] = on
            if changed:
                self._event(f"maintenance {'on' if on else 'off'}")
                self._save()
            return {"maintenance": on, "changed": changed, "status": self.status()}

    def deploy(self, version: str) -> dict:
        with self.lock:
            current = self.data["version"]
            if version != current:
                self.data["previous_version"] = current
                self.data["version"] = version
            self.data["deploying_until"] = time.time() + self.deploy_seconds
            self.data["cutover_at"] = None
            self._event(f"deploy {version} (previous {self.data['previous_version']})")
            self._save()
            return {
                "version": version,
                "previous_version": self.data["previous_version"],
                "redeploy": version == current,
                "status": "deploying",
                "ready_in_seconds": self.deploy_seconds,
            }

    def rollback(self) -> dict:
        with self.lock:
            prev = self.data["previous_version"]
            current = self.data["version"]
            if not prev:
                return {
                    "rolled_back": False,
                    "from_version": current,
                    "version": current,
                    "status": self.status(),
                    "message": f"nothing to roll back: {current} has no recorded predecessor",
                }
            self.data["version"] = prev
            self.data["previous_version"] = None
            self.data["deploying_until"] = time.time() + self.deploy_seconds
            self.data["cutover_at"] = None
            self._event(f"rollback {current} -> {prev}")
            self._save()
            return {
                "rolled_back": True,
                "from_version": current,
                "version": prev,
                "status": "deploying",
                "ready_in_seconds": self.deploy_seconds,
            }

    def migrate(self, direction: str) -> dict:
        with self.lock:
            rev = self.data["db_revision"]
            prev = self.data["db_previous_revision"]
            if direction == "contract":
                return self._contract(rev)
            if direction == "up":
                if prev is not None:
                    return {
                        "direction": "up",
                        "applied": False,
                        "from_revision": rev,
                        "db_revision": rev,
                        "message": f"already at head (revision {rev})",
                    }
                self.data["db_previous_revision"] = rev
                self.data["db_revision"] = rev + 1
                self._event(f"migrate up {rev} -> {rev + 1}")
                self._save()
                return {
                    "direction": "up",
                    "applied": True,
                    "from_revision": rev,
                    "db_revision": rev + 1,
                }
            if prev is None:
                return {
                    "direction": "down",
                    "applied": False,
                    "from_revision": rev,
                    "db_revision": rev,
                    "message": f"nothing to downgrade (revision {rev} has no recorded predecessor)",
                }
            self.data["db_revision"] = prev
            self.data["db_previous_revision"] = None
            self._event(f"migrate down {rev} -> {prev}")
            self._save()
            return {"direction": "down", "applied": True, "from_revision": rev, "db_revision": prev}

    def _contract(self, rev: int) -> dict:
        """Drop the legacy column: the schema moves on and forgets its way back."""
        if self.data.get("contracted"):
            return {
                "direction": "contract",
                "applied": False,
                "from_revision": rev,
                "db_revision": rev,
            }
        self.data.update(db_revision=rev + 1, db_previous_revision=None, contracted=True)
        self._event(f"migrate contract {rev} -> {rev + 1} (legacy_sku dropped; no way down)")
        self._save()
        return {
            "direction": "contract",
            "applied": True,
            "from_revision": rev,
            "db_revision": rev + 1,
        }

    def cutover(self) -> tuple[int, dict]:
        with self.lock:
            status = self.status()
            if status != "ready":
                return 409, {"error": f"cannot cut over: service is {status}", "status": status}
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.data["cutover_at"] = stamp
            self._event(f"cutover: traffic to {self.data['version']}")
            self._save()
            return 200, {"version": self.data["version"], "cutover_at": stamp, "status": status}


# ------------------------------------------------------------------------------- app


class App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = time.time()
        os.makedirs(args.state_dir, exist_ok=True)
        self.state = State(args.state_dir, args.initial_version, args.deploy_seconds)
        self.metrics = Metrics()
        self.mode_path = os.path.join(args.state_dir, "mode")
        self.mode_lock = threading.Lock()
        self.mode = "healthy"
        self._bad_mode_text: str | None = None
        if args.mode:
            self.set_mode(args.mode, source="--mode")
        elif os.path.exists(self.mode_path):
            self._poll_mode()
        else:
            self.set_mode("healthy", source="default")
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._traffic_loop, name="traffic", daemon=True),
            threading.Thread(target=self._mode_loop, name="mode-watch", daemon=True),
        ]

    # -- mode
    def set_mode(self, mode: str, source: str) -> None:
        with self.mode_lock:
            atomic_write(self.mode_path, mode + "\n")
            if mode != self.mode:
                log(f"mode {self.mode} -> {mode} ({source})")
            self.mode = mode

    def _poll_mode(self) -> None:
        # Read under the lock, so a POST /control/mode can't be undone by a stale read.
        with self.mode_lock:
            try:
                with open(self.mode_path, encoding="utf-8") as f:
                    text = f.read().strip().lower()
            except FileNotFoundError:
                return
            except OSError as e:
                log(f"cannot read {self.mode_path}: {e}")
                return
            if text in MODES:
                self._bad_mode_text = None
                if text != self.mode:
                    log(f"mode {self.mode} -> {text} (from {self.mode_path})")
                    self.mode = text
            elif text != self._bad_mode_text:
                self._bad_mode_text = text
                log(
                    f"ignoring {self.mode_path}: {text!r} is not one of {', '.join(MODES)}; "
                    f"staying {self.mode}"
                )

    def _mode_loop(self) -> None:
        while not self.stop.wait(0.5):
            self._poll_mode()

    # -- synthetic traffic
    def _traffic_loop(self) -> None:
        rps = self.args.rps
        start = time.monotonic()
        generated = 0
        err_acc = 0.0
        u = 0.0
        n = 0
        next_snapshot = time.time()
        while True:
            try:
                due = int((time.monotonic() - start) * rps)
                if due - generated > rps * 10:  # process was suspended: don't burst
                    generated = due
                for _ in range(max(0, due - generated)):
                    error_ratio, points = MODES[self.mode]
                    err_acc += error_ratio
                    code = "200"
                    if err_acc >= 1.0:
                        err_acc -= 1.0
                        code = "500"
                    u = (u + GOLDEN) % 1.0
                    self.metrics.observe(
                        ROUTE_PATTERN[n % len(ROUTE_PATTERN)], code, latency_for(points, u)
                    )
                    n += 1
                generated = max(generated, due)
                now = time.time()
                if now >= next_snapshot:
                    self.metrics.snapshot(now)
                    next_snapshot = max(next_snapshot + 1.0, now - 0.5)
            except Exception as e:  # never let the generator die silently
                log(f"traffic generator error: {e!r}")
            if self.stop.wait(0.05):
                return

    # -- metrics text
    def metrics_text(self) -> str:
        st = self.state.view()
        lines = self.metrics.render()
        lines += [
            "# HELP agente_build_info Running release of the API (value is always 1).",
            "# TYPE agente_build_info gauge",
            f'agente_build_info{{service="{SERVICE}",version="{st["version"]}"}} 1',
            "# HELP agente_maintenance_mode 1 while the maintenance window is open.",
            "# TYPE agente_maintenance_mode gauge",
            f"agente_maintenance_mode {1 if st['maintenance'] else 0}",
            "# HELP agente_ready 1 when /health/ready answers 200.",
            "# TYPE agente_ready gauge",
            f"agente_ready {1 if st['status'] == 'ready' else 0}",
            "# HELP agente_db_schema_revision Database schema revision.",
            "# TYPE agente_db_schema_revision gauge",
            f"agente_db_schema_revision {int(st['db_revision'])}",
            "# HELP agente_demo_mode Synthetic traffic mode of this demo (1 for the active one).",
            "# TYPE agente_demo_mode gauge",
        ]
        lines += [f'agente_demo_mode{{mode="{m}"}} {1 if m == self.mode else 0}' for m in MODES]
        lines += [
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {fmt_value(round(self.started, 3))}",
        ]
        return "\n".join(lines) + "\n"

    def gauge_series(self) -> list[tuple[str, dict[str, str], float]]:
        st = self.state.view()
        out = [
            ("agente_build_info", {"service": SERVICE, "version": st["version"]}, 1.0),
            ("agente_maintenance_mode", {}, 1.0 if st["maintenance"] else 0.0),
            ("agente_ready", {}, 1.0 if st["status"] == "ready" else 0.0),
            ("agente_db_schema_revision", {}, float(st["db_revision"])),
            ("up", {"job": "agente-api"}, 1.0),
        ]
        out += [("agente_demo_mode", {"mode": m}, 1.0 if m == self.mode else 0.0) for m in MODES]
        return out

    def stats(self, window: float) -> dict:
        """Error ratio, P95 and request rate over the last ``window`` seconds of history.

        Computed the way Prometheus' rate() and histogram_quantile() would, from
        the 1 s snapshots, so the scripts can check the seed's targets directly.
        """
        history = list(self.metrics.history)
        if len(history) < 2:
            return {
                "window_seconds": int(window),
                "requests_per_second": None,
                "error_ratio": None,
                "p95_seconds": None,
                "mode": self.mode,
            }
        end_t, end_v = history[-1]
        start_t, start_v = next(((t, v) for t, v in history if t >= end_t - window), history[0])
        delta = [b - a for a, b in zip(start_v, end_v, strict=True)]
        seconds = max(end_t - start_t, 1e-9)
        total = errors = 0.0
        buckets = [0.0] * len(LE_LABELS)
        for (name, labels), d in zip(self.metrics.series, delta, strict=True):
            if name == "http_requests_total":
                total += d
                if labels["code"].startswith("5"):
                    errors += d
            elif name == "http_request_duration_seconds_bucket":
                buckets[LE_LABELS.index(labels["le"])] += d
        bounds = [*BUCKETS, math.inf]
        p95 = bucket_quantile(0.95, list(zip(bounds, buckets, strict=True)))
        return {
            "window_seconds": int(window),
            "requests_per_second": total / seconds,
            "error_ratio": errors / total if total else None,
            "p95_seconds": None if math.isnan(p95) else p95,
            "mode": self.mode,
        }


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile() for one set of cumulative buckets."""
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, (_, c) in enumerate(buckets) if c >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    start, end, count = 0.0, buckets[b][0], buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return start + (end - start) * (rank / count)


class BaseHandler(BaseHTTPRequestHandler):
    server_version = "AgenteDemo/1.0"

    def version_string(self) -> str:
        return self.server_version

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.app.args.verbose:
            super().log_message(format, *args)

    def send(self, status: int, body, content_type: str = "application/json") -> None:
        if isinstance(body, (dict, list)):
            data = (json.dumps(body) + "\n").encode("utf-8")
        else:
            data = str(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def read_body(self) -> str:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length <= 0:
            return ""
        return self.rfile.read(min(length, MAX_BODY)).decode("utf-8", "replace")

    def route(self) -> None:
        raise NotImplementedError

    def handle_safely(self) -> None:
        try:
            self.route()
        except Exception as e:  # one bad request must not take the service down
            log(f"error handling {self.command} {self.path}: {e!r}")
            self.send(500, {"error": f"internal error: {e}"})

    do_GET = do_POST = do_HEAD = handle_safely


class ApiHandler(BaseHandler):
    def route(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        method = "GET" if self.command == "HEAD" else self.command
        app = self.app
        gets = {
            "/",
            "/health/live",
            "/health/ready",
            "/version",
            "/metrics",
            "/stats",
            "/admin/state",
            "/control/mode",
        }
        posts = {
            "/control/mode",
            "/admin/maintenance",
            "/admin/deploy",
            "/admin/rollback",
            "/admin/migrate",
            "/admin/cutover",
        }
        if path not in gets | posts:
            return self.send(404, {"error": f"no such endpoint: {path}"})
        if (method == "GET" and path not in gets) or (method == "POST" and path not in posts):
            return self.send(405, {"error": f"{method} not allowed on {path}"})

        if method == "GET":
            if path == "/":
                return self.send(200, {"service": SERVICE, "endpoints": sorted(gets | posts)})
            if path == "/health/live":
                return self.send(
                    200, {"status": "alive", "uptime_seconds": round(time.time() - app.started, 1)}
                )
            if path == "/health/ready":
                st = app.state.view()
                body = {"status": st["status"], "version": st["version"]}
                return self.send(200 if st["status"] == "ready" else 503, body)
            if path == "/version":
                st = app.state.view()
                return self.send(
                    200,
                    {
                        "service": SERVICE,
                        "version": st["version"],
                        "previous_version": st["previous_version"],
                        "db_revision": st["db_revision"],
                        "status": st["status"],
                        "mode": app.mode,
                    },
                )
            if path == "/metrics":
                return self.send(
                    200, app.metrics_text(), "text/plain; version=0.0.4; charset=utf-8"
                )
            if path == "/stats":
                try:
                    window = float(params.get("window", "60"))
                    if not 1 <= window <= HISTORY_SECONDS:
                        raise ValueError
                except ValueError:
                    return self.send(400, {"error": f"window must be 1..{HISTORY_SECONDS} seconds"})
                return self.send(200, app.stats(window))
            if path == "/admin/state":
                return self.send(200, {**app.state.view(), "mode": app.mode})
            if path == "/control/mode":
                return self.send(200, {"mode": app.mode})

        body = self.read_body().strip()
        if path == "/control/mode":
            mode = params.get("mode") or body
            if mode.startswith("{"):
                try:
                    mode = str(json.loads(mode).get("mode", ""))
                except (ValueError, AttributeError):
                    mode = ""
            mode = mode.strip().strip('"').lower()
            if mode not in MODES:
                return self.send(
                    400, {"error": f"mode must be one of {', '.join(MODES)}; got {mode!r}"}
                )
            app.set_mode(mode, source="POST /control/mode")
            return self.send(200, {"mode": mode})
        if path == "/admin/maintenance":
            raw = params.get("state") or params.get("enabled") or body
            on = parse_on_off(raw)
            if on is None:
                return self.send(400, {"error": f"maintenance must be on or off; got {raw!r}"})
            return self.send(200, app.state.set_maintenance(on))
        if path == "/admin/deploy":
            version = params.get("version") or body
            if not VERSION_RE.match(version or ""):
                return self.send(
                    400,
                    {"error": f"deploy needs ?version=X (letters, digits, ._+-); got {version!r}"},
                )
            return self.send(200, app.state.deploy(version))
        if path == "/admin/rollback":
            result = app.state.rollback()
            if result["rolled_back"] and app.mode != "healthy":
                app.set_mode("healthy", source="rollback removed the bad release")
                result["mode"] = "healthy"
            return self.send(200, result)
        if path == "/admin/migrate":
            direction = (params.get("direction") or body).lower()
            if direction not in ("up", "down", "contract"):
                return self.send(
                    400, {"error": f"direction must be up, down or contract; got {direction!r}"}
                )
            return self.send(200, app.state.migrate(direction))
        if path == "/admin/cutover":
            status, result = app.state.cutover()
            return self.send(status, result)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, app: App) -> None:
        super().__init__(addr, handler)
        self.app = app


# -------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Agente Hotelero IA demo API service for the launchctl example launch."
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks one)"
    )
    p.add_argument(
        "--state-dir",
        required=True,
        help="directory for state.json and the mode file (created if missing)",
    )
    p.add_argument(
        "--mode",
        choices=sorted(MODES),
        help="traffic mode to start in (default: the mode file's, else healthy)",
    )
    p.add_argument(
        "--initial-version",
        default=DEFAULT_VERSION,
        help=f"version running before any deploy, for a new state dir (default {DEFAULT_VERSION})",
    )
    p.add_argument(
        "--rps",
        type=float,
        default=20.0,
        help="synthetic requests per second counted in the metrics (default 20)",
    )
    p.add_argument(
        "--deploy-seconds",
        type=float,
        default=1.5,
        help="how long a deploy or rollback keeps /health/ready at 503 (default 1.5)",
    )
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = p.parse_args(argv)
    if not VERSION_RE.match(args.initial_version):
        p.error(f"--initial-version {args.initial_version!r} is not a valid version")
    if args.rps <= 0 or args.rps > 10000:
        p.error("--rps must be in (0, 10000]")
    if args.deploy_seconds < 0:
        p.error("--deploy-seconds must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        app = App(args)
    except OSError as e:
        log(f"cannot use state dir {args.state_dir}: {e}")
        return 1
    servers: list[Server] = []
    port = args.port
    try:
        servers.append(Server((args.host, port), ApiHandler, app))
    except OSError as e:
        log(f"cannot listen on {args.host}:{port}: {e}")
        for s in servers:
            s.server_close()
        return 1

    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    for t in app.threads:
        t.start()
    for s in servers:
        threading.Thread(
            target=s.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        ).start()
    api = servers[0].server_address
    st = app.state.view()
    log(
        f"{SERVICE} {st['version']} listening on http://{api[0]}:{api[1]} "
        f"(state dir {os.path.abspath(args.state_dir)}, mode {app.mode}, status {st['status']})"
    )

    while not stop.wait(0.5):
        pass
    log("stopping")
    app.stop.set()
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
