"""Soak benchmark: the same 2-hour launch run back to back in one process; does anything leak?

Run on demand (not collected by pytest):

    python tests/perf/bench_soak.py [--runs 10] [--speed 120] [--dir BASE] [--keep]

Quick check: ``--runs 2 --speed 600`` (about 30 s). The default (10 runs at
speed 120, two launch-hours = 60 s each) takes about 10 minutes.

It starts its own exporter and Prometheus (tests/realservers.py: Debian's
``prometheus`` binary, 1 s scrape interval) and a tiny local HTTP server
(http.server in a thread) for an http check, then generates one runbook:

  * 50 steps spread evenly over T-60m .. T+60m, each ``run: "true"`` or a short
    ``echo``; every 10th has ``check: [{command: "true"}]`` and one has an http
    check against the local server;
  * 20 guards (``every: 15s``, ``during: [T+0, T+60m]``, ``then: rollback``),
    each on its own healthy gauge (0, breach "> 0.5"), so they never breach;
  * a 3-step rollback sequence (never run, since nothing breaches).

It runs that runbook --runs times IN THIS PROCESS through the Python API,
``start_launch(runbook, RunOptions(speed=S, yes=True, journal=<fresh dir>), ...,
display=Display([]))``, T0 by default (the first step is due at once), and
records, before the first run and after each run (after gc.collect()):

  RSS          VmRSS from /proc/self/status
  fds          len(os.listdir('/proc/self/fd'))
  threads      threading.active_count()
  tracemalloc  tracemalloc.get_traced_memory()[0] (tracing started once, at the beginning)
  malloc       glibc mallinfo2() over all arenas: bytes in use (incl. mmapped chunks) and
               bytes free but kept by the allocator, and the number of malloc arenas
               (malloc_info) (information: a growing RSS with flat
               "used" is allocator retention/fragmentation, a growing "used" with flat
               tracemalloc is native memory held by C code)

fds and threads are the minimum of a few readings 0.1 s apart: the exporter
answers each Prometheus scrape (every second) on a short-lived thread and socket
of its own, which a single reading can catch.

Verdict (PASS/MISS):
  * growth of the live heap (glibc mallinfo2 bytes in use) from run 2 to the last run < 1 MiB
    (run 1 to 2 when --runs 2); RSS is shown too, but it also holds freed memory glibc keeps
    in its arenas (a 10-run soak measured +16 MiB of RSS with a flat live heap and flat
    tracemalloc; malloc_trim returned it), so it is information, not the verdict;
  * fds after every run == baseline (before the first run);
  * threads after every run == baseline;
  * (sanity) every run exited 0 and every guard sample was "ok".

To say where memory goes, a tracemalloc snapshot is taken after the reference
run and after the last run (dumped to disk so that holding it does not count)
and the top 10 differences by line are printed; when fds or threads are not
back to the baseline, the extra /proc/self/fd targets and thread names are
listed. At the very end malloc_trim(0) is called once and RSS read again.

Exit status: 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from perf_common import verdict  # noqa: E402
from realservers import Exporter, Prometheus  # noqa: E402

from launchctl.engine.assembly import RunOptions, start_launch  # noqa: E402
from launchctl.views.terminal import Display  # noqa: E402
from runbook.durations import format_offset  # noqa: E402
from runbook.v1.loader import load_runbook  # noqa: E402

STEPS = 50
GUARDS = 20
SPAN_S = 7200  # T-60m .. T+60m
GOAL_HEAP_GROWTH_MIB = 1.0
MIB = 1024 * 1024


# -- helpers ---------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def fd_targets() -> dict[int, str]:
    targets = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            targets[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the listing's own descriptor, already closed
            pass
    return targets


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _Mallinfo2
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.fdopen.restype = ctypes.c_void_p
    libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    return libc


LIBC = _libc()


def malloc_figures() -> tuple[int, int]:
    """glibc heap, all arenas: (bytes in use incl. mmapped chunks, bytes free but kept)."""
    if LIBC is None:
        return -1, -1
    info = LIBC.mallinfo2()
    return info.uordblks + info.hblkhd, info.fordblks


def malloc_arenas() -> list[tuple[int, int, int]]:
    """glibc malloc_info(): per arena (nr, bytes obtained from the system, bytes free in it)."""
    if LIBC is None:
        return []
    with tempfile.TemporaryFile() as handle:
        stream = LIBC.fdopen(os.dup(handle.fileno()), b"w")
        LIBC.malloc_info(0, stream)
        LIBC.fclose(stream)
        handle.seek(0)
        text = handle.read().decode("ascii", "replace")
    arenas = []
    for match in re.finditer(r'<heap nr="(\d+)">(.*?)</heap>', text, re.S):
        body = match.group(2)
        free = sum(
            int(n)
            for n in re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"/>', body)
        )
        current = re.search(r'<system type="current" size="(\d+)"/>', body)
        arenas.append((int(match.group(1)), int(current.group(1)) if current else 0, free))
    return arenas


def rss_breakdown() -> dict[str, int]:
    """Rss of /proc/self/smaps by kind of mapping, bytes."""
    kinds = {"file": 0, "[heap]": 0, "anon 8 MiB (thread stacks)": 0, "other anon": 0, "other": 0}
    size_kb = 0
    kind = "other"
    with open("/proc/self/smaps", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                path = head[5].strip() if len(head) > 5 else ""
                start, end = (int(x, 16) for x in head[0].split("-"))
                size_kb = (end - start) // 1024
                if path.startswith("/"):
                    kind = "file"
                elif path == "[heap]":
                    kind = "[heap]"
                elif not path:
                    kind = "anon 8 MiB (thread stacks)" if size_kb == 8192 else "other anon"
                else:
                    kind = "other"
            elif line.startswith("Rss:"):
                kinds[kind] += int(line.split()[1]) * 1024
    return kinds


def memory_detail(label: str) -> str:
    parts = ", ".join(f"{k} {v / MIB:.1f}" for k, v in rss_breakdown().items())
    arenas = malloc_arenas()
    text = f"  {label}: RSS by mapping (MiB): {parts}"
    if arenas:
        text += (
            f"\n  {'':{len(label)}}  glibc arenas: {len(arenas)}, from the system "
            f"{sum(a[1] for a in arenas) / MIB:.1f} MiB, free inside them "
            f"{sum(a[2] for a in arenas) / MIB:.1f} MiB (per arena free MiB: "
            + " ".join(f"{a[2] / MIB:.1f}" for a in arenas)
            + ")"
        )
    return text


def thread_names() -> list[str]:
    return sorted(f"{t.name} (daemon={t.daemon})" for t in threading.enumerate())


def measure() -> dict:
    """Figures of this process now, after a full collection."""
    gc.collect()
    fds, threads = [], []
    for _ in range(6):
        fds.append(fd_count())
        threads.append(threading.active_count())
        time.sleep(0.1)
    heap_used, heap_free = malloc_figures()
    return {
        "arenas": len(malloc_arenas()),
        "heap_used": heap_used,
        "heap_free": heap_free,
        "rss": rss_bytes(),
        "fds": min(fds),
        "threads": min(threads),
        "traced": tracemalloc.get_traced_memory()[0],
        "fd_targets": fd_targets(),
        "thread_names": thread_names(),
    }


def offset(seconds: int) -> str:
    return f"T{'-' if seconds < 0 else '+'}{abs(seconds)}s"


class HealthServer:
    """GET anything -> 200 "ok", on loopback, served by one thread (no thread per request)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        self.requests = 0
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="soak-health-server", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def write_runbook(path: Path, prom_url: str, health_url: str) -> None:
    lines = [
        "version: 1",
        f"name: soak {STEPS} steps {GUARDS} guards 2h",
        f'prometheus: {{url: "{prom_url}"}}',
        "steps:",
    ]
    http_step = STEPS // 2 + 3
    for i in range(STEPS):
        at = offset(-SPAN_S // 2 + round(i * SPAN_S / (STEPS - 1)))
        run = '"true"' if i % 2 == 0 else f'"echo soak step {i}"'
        extra = ""
        if i == http_step:
            extra = f', check: [{{http: "{health_url}"}}]'
        elif i % 10 == 5:
            extra = ', check: [{command: "true"}]'
        lines.append(f"  - {{id: s{i:02d}, at: {at}, run: {run}{extra}}}")
    lines.append("guards:")
    for i in range(GUARDS):
        lines.append(
            f'  - {{id: g{i:02d}, prometheus: "soak_g{i:02d}", breach: "> 0.5", every: 15s, '
            "during: [T+0, T+60m], then: rollback}"
        )
    lines += [
        "rollback:",
        '  - {id: rb-announce, run: "echo rolling back"}',
        '  - {id: rb-restore, run: "true"}',
        '  - {id: rb-verify, run: "true", check: [{command: "true"}]}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def journal_summary(journal: Path) -> dict:
    events = []
    path = journal / "journal.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
    samples = [e for e in events if e.get("event") == "guard_sample"]
    finished = next((e for e in events if e.get("event") == "launch_finished"), {})
    return {
        "events": len(events),
        "samples": len(samples),
        "not_ok": sum(1 for s in samples if s.get("status") != "ok"),
        "steps_ok": sum(
            1 for e in events if e.get("event") == "step_finished" and e.get("status") == "ok"
        ),
        "status": finished.get("status"),
        "not_ok_reasons": sorted(
            {str(s.get("reason")) for s in samples if s.get("status") != "ok"}
        )[:3],
    }


def tracemalloc_filtered(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
            tracemalloc.Filter(False, "<unknown>"),
        )
    )


def short_path(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        parts = path.parts
        for marker in ("site-packages", "dist-packages"):
            if marker in parts:
                return "/".join(parts[parts.index(marker) + 1 :])
        if "lib" in parts:
            index = len(parts) - 1 - parts[::-1].index("lib")
            return "/".join(parts[index + 2 :]) if index + 2 < len(parts) else filename
        return filename


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--speed", type=float, default=120.0)
    parser.add_argument("--frames", type=int, default=1, help="tracemalloc frames per trace")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    tracemalloc.start(args.frames)
    work = Path(tempfile.mkdtemp(prefix="bench-soak-", dir=args.dir))
    began = time.monotonic()
    exporter = Exporter()
    health = HealthServer()
    prom = None
    ok = True
    try:
        prom = Prometheus(work, exporter.port)
        for i in range(GUARDS):
            exporter.set(f"soak_g{i:02d}", 0.0)
        prom.wait_for("count({__name__=~'soak_g..'})", lambda v: v == GUARDS)
        runbook_path = work / "soak.yaml"
        write_runbook(runbook_path, prom.url, health.url)
        runbook = load_runbook(runbook_path)
        launch_s = (runbook.steps[-1].at - runbook.steps[0].at).total_seconds()
        print(
            f"prometheus {prom.url} (pid {prom.process.pid}) scraping exporter :{exporter.port} "
            f"every 1 s; health server {health.url}; work dir {work}"
        )
        print(
            f"runbook: {len(runbook.steps)} steps {format_offset(runbook.steps[0].at)}.."
            f"{format_offset(runbook.steps[-1].at)} "
            f"({sum(1 for s in runbook.steps if s.check)} with checks), {len(runbook.guards)} guards "
            f"every 15s during T+0..T+60m, {len(runbook.rollback)} rollback steps; "
            f"{args.runs} runs at speed {args.speed:g} (~{launch_s / args.speed:.0f} s each); "
            f"tracemalloc {args.frames} frame(s)"
        )
        environ = dict(os.environ)
        echoed: list[str] = []

        def echo(text: str) -> None:
            echoed.append(text)

        baseline = measure()
        details = [memory_detail("before run 1")]
        rows: list[dict] = []
        header = (
            f"{'run':>4} {'exit':>4} {'wall s':>7} {'events':>7} {'RSS MiB':>8} "
            f"{'fds':>4} {'threads':>7} {'tracemalloc MiB':>15}   "
            f"{'malloc used':>11} {'malloc free':>11} {'arenas':>6}"
        )
        print()
        print(header)
        print("-" * len(header))
        print(
            f"{'0':>4} {'-':>4} {'-':>7} {'-':>7} {baseline['rss'] / MIB:8.1f} "
            f"{baseline['fds']:>4} {baseline['threads']:>7} {baseline['traced'] / MIB:15.2f}   "
            f"{baseline['heap_used'] / MIB:11.1f} {baseline['heap_free'] / MIB:11.1f} "
            f"{baseline['arenas']:>6}   (before the first run)",
            flush=True,
        )
        reference = 2 if args.runs >= 3 else 1
        snap_ref = work / "snapshot-ref.tracemalloc"
        snap_last = work / "snapshot-last.tracemalloc"
        for run in range(1, args.runs + 1):
            journal = work / f"run-{run:02d}" / "journal"
            echoed.clear()
            started = time.monotonic()
            code = start_launch(
                runbook,
                RunOptions(speed=args.speed, yes=True, journal=journal),
                environ,
                echo,
                display=Display([]),
            )
            wall = time.monotonic() - started
            figures = measure()
            summary = journal_summary(journal)
            row = {"run": run, "exit": code, "wall": wall, **summary, **figures}
            rows.append(row)
            print(
                f"{run:>4} {code:>4} {wall:7.1f} {summary['events']:>7} {figures['rss'] / MIB:8.1f} "
                f"{figures['fds']:>4} {figures['threads']:>7} {figures['traced'] / MIB:15.2f}   "
                f"{figures['heap_used'] / MIB:11.1f} {figures['heap_free'] / MIB:11.1f} "
                f"{figures['arenas']:>6}",
                flush=True,
            )
            if run == reference or run == args.runs:
                details.append(memory_detail(f"after run {run}"))
                snapshot = tracemalloc_filtered(tracemalloc.take_snapshot())
                snapshot.dump(str(snap_last if run == args.runs else snap_ref))
                del snapshot
                gc.collect()

        # -- verdict ----------------------------------------------------------------------------
        last = rows[-1]
        ref = rows[reference - 1]
        rule = "-" * len(header)
        print(rule)
        print(
            "journals: "
            + "; ".join(
                f"run {r['run']}: {r['samples']} guard samples ({r['not_ok']} not ok), "
                f"{r['steps_ok']} steps ok, {r['status']}"
                for r in rows
            )
        )
        for r in rows:
            if r["not_ok"]:
                print(f"  run {r['run']}: not-ok guard samples, e.g. {r['not_ok_reasons']}")
        rss_growth = (last["rss"] - ref["rss"]) / MIB
        traced_growth = (last["traced"] - ref["traced"]) / MIB
        heap_growth = (last["heap_used"] - ref["heap_used"]) / MIB
        # A leak grows the memory in use; RSS also holds memory already freed that glibc keeps in
        # its per-thread arenas for reuse (malloc_trim below gives it back), so RSS is information.
        passed = heap_growth < GOAL_HEAP_GROWTH_MIB
        ok &= passed
        print(
            f"live heap (malloc in use) growth run {reference} -> run {last['run']}: {heap_growth:+.2f} MiB "
            f"({ref['heap_used'] / MIB:.1f} -> {last['heap_used'] / MIB:.1f}; goal < {GOAL_HEAP_GROWTH_MIB:g} MiB)  "
            f"{verdict(passed)}"
        )
        print(
            f"RSS growth run {reference} -> run {last['run']}: {rss_growth:+.1f} MiB "
            f"({ref['rss'] / MIB:.1f} -> {last['rss'] / MIB:.1f}; freed memory glibc keeps, see malloc free)  (info)"
        )
        print(
            f"tracemalloc growth run {reference} -> run {last['run']}: {traced_growth:+.2f} MiB "
            f"({ref['traced'] / MIB:.2f} -> {last['traced'] / MIB:.2f}; "
            f"{traced_growth * MIB / max(last['run'] - reference, 1) / 1024:+.1f} KiB per run)  (info)"
        )
        bad_fds = [r["run"] for r in rows if r["fds"] != baseline["fds"]]
        passed = not bad_fds
        ok &= passed
        print(
            f"fds after each run == baseline {baseline['fds']}: "
            f"{[r['fds'] for r in rows]}  {verdict(passed)}"
        )
        bad_threads = [r["run"] for r in rows if r["threads"] != baseline["threads"]]
        passed = not bad_threads
        ok &= passed
        print(
            f"threads after each run == baseline {baseline['threads']}: "
            f"{[r['threads'] for r in rows]}  {verdict(passed)}"
        )
        passed = all(r["exit"] == 0 and r["not_ok"] == 0 for r in rows)
        ok &= passed
        print(
            f"every run exit 0 with all guard samples ok: exits {[r['exit'] for r in rows]}, "
            f"not-ok samples {sum(r['not_ok'] for r in rows)}  {verdict(passed)}"
        )

        # -- where it goes -----------------------------------------------------------------------
        print("where the RSS is (information):")
        for text in details:
            print(text)
        if LIBC is not None:
            before = rss_bytes()
            LIBC.malloc_trim(0)
            after = rss_bytes()
            print(
                f"malloc_trim(0) after the last run: RSS {before / MIB:.1f} -> {after / MIB:.1f} MiB "
                f"(baseline {baseline['rss'] / MIB:.1f}; what trimming returns was freed memory "
                "glibc kept, not live objects)"
            )
        if bad_fds:
            extra = {
                fd: target
                for fd, target in last["fd_targets"].items()
                if baseline["fd_targets"].get(fd) != target
            }
            print(f"fds open after run {last['run']} that were not at the baseline ({len(extra)}):")
            for fd, target in sorted(extra.items())[:40]:
                print(f"  {fd:>4} -> {target}")
        if bad_threads:
            before = list(baseline["thread_names"])
            extra_threads = []
            for name in last["thread_names"]:
                if name in before:
                    before.remove(name)
                else:
                    extra_threads.append(name)
            print(f"threads alive after run {last['run']} that were not at the baseline:")
            for name in extra_threads[:40]:
                print(f"  {name}")
        if args.runs > reference:
            old = tracemalloc.Snapshot.load(str(snap_ref))
            new = tracemalloc.Snapshot.load(str(snap_last))
            stats = new.compare_to(old, "lineno")
            print(
                f"tracemalloc: top 10 growth by line, after run {reference} -> after run {last['run']}:"
            )
            for stat in stats[:10]:
                frame = stat.traceback[0]
                print(
                    f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks "
                    f"(now {stat.size / 1024:8.1f} KiB)  {short_path(frame.filename)}:{frame.lineno}"
                )
        print(
            f"overall: {'all goals met' if ok else 'goal(s) missed'}  "
            f"(benchmark wall {time.monotonic() - began:.0f} s)"
        )
    finally:
        if prom is not None:
            prom.stop()
        health.close()
        exporter.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
