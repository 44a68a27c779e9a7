"""Live view benchmark: what the live view writes to a terminal during a whole launch.

Run on demand, not collected by pytest:

    python tests/perf/bench_live_view.py [--speed 120] [--sizes 80x24,150x45]

It starts the demo service (examples/demo_service.py) and a real Prometheus scraping
it every second, then rehearses the example launch (examples/launch.yaml: eleven steps
from T-60m to T+60m whose scripts print, five guards watching to T+2h, the checklist's
GO WITH CAUTION banner) at ``--speed`` on a pseudo-terminal of each size, as
``examples/demo.sh`` does, with a fresh service state each time. Everything the view
writes is played on a terminal emulator (tests/terminal_screen.py).

It prints, per size: the bytes written per (wall-clock) minute and per minute of the
launch's own clock, redraws a second on average and at the busiest second (a redraw is
a burst of output; bursts closer than 30 ms are one), lines that ran past the right
edge, and whether the header was on screen at every quiet moment and at the end.

Goals (issue 11): at most 100 KB a minute, at most 4 redraws in any second, no line
wider than the terminal, the header always on screen. Exit status 0 when all are met.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from perf_common import verdict  # noqa: E402
from realservers import Prometheus, free_port  # noqa: E402
from terminal_screen import Recording, record  # noqa: E402

NAME = " Agente Hotelero IA launch"
LAUNCH_MINUTES = 180  # T-60m to the last guard window's close at T+2h


class Demo:
    """The demo API on a free port with its own state, and a Prometheus scraping it."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.log = (work / "service.log").open("w")
        self.service = subprocess.Popen(
            [sys.executable, str(REPO / "examples" / "demo_service.py"), "--port", str(self.port)]
            + ["--state-dir", str(work / "service")],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        (work / "prometheus").mkdir()
        self.prometheus = Prometheus(work / "prometheus", self.port)
        deadline = time.monotonic() + 60
        query = "/api/v1/query?query=sum(rate(http_requests_total%5B5m%5D))"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.prometheus.url + query, timeout=1) as answer:
                    if json.load(answer)["data"]["result"]:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.close()
        sys.exit("the demo service or Prometheus did not come up")

    def close(self) -> None:
        self.prometheus.stop()
        self.service.terminate()
        self.service.wait(10)
        self.log.close()


def rehearse(cols: int, rows: int, speed: float, work: Path) -> Recording:
    demo = Demo(work)
    try:
        argv = [sys.executable, "-m", "launchctl.cli", "run", "examples/launch.yaml"]
        argv += ["--speed", f"{speed:g}", "--yes", "--journal", str(work / "journal")]
        argv += ["--override-gate", "benchmark rehearsal on a local service"]
        argv += ["--var", f"api={demo.api}", "--var", f"prometheus={demo.prometheus.url}"]
        env = {
            **{k: v for k, v in os.environ.items() if k != "LAUNCHCTL_PLAIN"},
            "TERM": "xterm-256color",
            "PYTHONPATH": str(REPO),
        }
        timeout = LAUNCH_MINUTES * 60 / speed + 120
        return record(argv, cols, rows, str(REPO), env, timeout=timeout)
    finally:
        demo.close()


def header_on(lines: list[str]) -> bool:
    top = next((i for i, line in enumerate(lines) if line.startswith(NAME)), None)
    return top is not None and top + 2 < len(lines) and lines[top + 1].startswith(" now ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=float, default=120.0)
    parser.add_argument("--sizes", default="80x24,150x45")
    args = parser.parse_args()
    if shutil.which("prometheus") is None:
        sys.exit("needs the prometheus binary (Debian package prometheus)")
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    print(
        f"live view: examples/launch.yaml at --speed {args.speed:g} "
        f"({LAUNCH_MINUTES} launch minutes each)"
    )
    ok = True
    for cols, rows in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-live-view-") as scratch:
            run = rehearse(cols, rows, args.speed, Path(scratch))
        bursts = run.bursts()
        per_minute = run.bytes_per_minute
        peak = run.peak_bursts_per_second()
        header = all(header_on(lines) for lines in run.quiet_screens) and header_on(
            run.screen.lines()
        )
        met = (
            run.exit_status in (0, 1)
            and per_minute <= 100_000
            and peak <= 4
            and run.screen.hidden_wraps == 0
            and header
        )
        ok &= met
        print(
            f"  {cols}x{rows}: {run.total_bytes / 1024:.1f} KB in {run.seconds:.1f} s "
            f"(exit {run.exit_status}): {per_minute / 1024:.1f} KB/min "
            f"({run.total_bytes / LAUNCH_MINUTES / 1024:.2f} KB per launch minute); "
            f"redraws {len(bursts) / run.seconds:.2f}/s, peak {peak} in a second; "
            f"lines past the edge {run.screen.hidden_wraps}; header always on screen: {header} "
            f"[{verdict(met)}]"
        )
    print(f"goal: <= 100 KB/min, <= 4 redraws/s, no wrapped line, header kept: {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
