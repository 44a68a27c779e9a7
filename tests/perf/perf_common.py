"""What the benchmarks share: the verdict word, finding the real launchctl script, naming a
profiled function, and a child interpreter that profiles launchctl in every thread."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("runbook", "steps", "rollback", "launchctl")


def _as_installed() -> None:
    """Measure launchctl as an installed copy runs: with its bytecode compiled (``pip install``
    compiles it; an editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise
    recompile ~140 modules, a quarter of a second, on every run it measures)."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for package in PACKAGES:
        compileall.compile_dir(REPO / package, quiet=1)


_as_installed()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def launchctl_script() -> str:
    """The console script next to this interpreter (a pyenv shim on PATH adds ~80 ms per call)."""
    candidate = Path(sysconfig.get_path("scripts")) / "launchctl"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("launchctl")
    if found is None:
        sys.exit("launchctl is not installed (pip install -e .)")
    return found


def launch_journal(
    runbook: Path, env: dict[str, str], work: Path
) -> tuple[list[dict], float, int, str, Any]:
    """``launchctl run RUNBOOK --no-wait --yes`` with a fresh journal under ``work``: its events,
    the process's wall time, exit code, stderr and resource usage (``os.wait4``)."""
    journal = Path(tempfile.mkdtemp(dir=work, prefix="journal-"))
    started = time.perf_counter()
    argv = [
        launchctl_script(),
        "run",
        str(runbook),
        "--no-wait",
        "--yes",
        "--journal",
        str(journal),
    ]
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
    proc = subprocess.Popen(argv, env=env, cwd=work, stderr=subprocess.PIPE, **quiet)
    stderr = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    events = [json.loads(line) for line in (journal / "journal.jsonl").read_text().splitlines()]
    return events, wall, os.waitstatus_to_exitcode(status), stderr, usage


def short_location(key: tuple[str, int, str]) -> str:
    """A pstats key as repo-relative, site-packages-relative or stdlib-relative file:line(func)."""
    filename, line, func = key
    if filename == "~":
        return func
    path = Path(filename)
    try:
        where = str(path.resolve().relative_to(REPO))
    except ValueError:
        parts = path.parts
        if "site-packages" in parts:
            where = "/".join(parts[parts.index("site-packages") + 1 :])
        elif any(p.startswith("python3.") for p in parts):
            index = next(i for i, p in enumerate(parts) if p.startswith("python3."))
            where = "stdlib/" + "/".join(parts[index + 1 :])
        else:
            where = filename
    return f"{where}:{line}({func})"


def child_profiler(timer: str = "") -> str:
    """Source of a child interpreter: `python -c SRC OUT launchctl-args...` runs launchctl with
    every thread under cProfile (``timer`` e.g. "time.thread_time" to count CPU) and dumps the
    merged stats to OUT. (cProfile alone sees only the main thread.)"""
    return PROFILER_TEMPLATE.replace("TIMER", timer)


PROFILER_TEMPLATE = r"""
import cProfile, pstats, sys, threading, time
out = sys.argv[1]
sys.argv = ["launchctl"] + sys.argv[2:]
collected = []

class _Frozen:
    def __init__(self, stats):
        self.stats = stats
    def create_stats(self):
        pass

_orig_run = threading.Thread.run
def _profiled_run(self):
    prof = cProfile.Profile(TIMER)
    prof.enable()
    try:
        _orig_run(self)
    finally:
        prof.disable()
        prof.create_stats()          # in this thread: never disables another thread's profiler
        collected.append(_Frozen(prof.stats))
threading.Thread.run = _profiled_run

main_prof = cProfile.Profile(TIMER)
code = 0
main_prof.enable()
try:
    from launchctl.cli import main
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
finally:
    main_prof.disable()
main_prof.create_stats()
stats = pstats.Stats(_Frozen(main_prof.stats))
for frozen in list(collected):
    stats.add(frozen)
stats.dump_stats(out)
sys.stderr.write(f"profiled threads: {len(collected)} + main\n")
sys.exit(code)
"""
