"""Engine overhead benchmark: what launchctl adds on top of the commands a runbook runs.

Run on demand (not collected by pytest):

    python tests/perf/bench_engine_overhead.py [--steps 1000] [--repeat 3] [--dir BASE] [--keep] [--no-profile]

It generates a runbook of N `run: "true"` steps (all `at: T+0`, ids s0000..)
in a temporary directory and measures, each --repeat times (median reported):

  (a) `launchctl run RUNBOOK --no-wait --yes --journal DIR`   (console output to /dev/null)
  (b) the floor: N x subprocess.run(["/bin/sh", "-c", "true"]) from Python
      per-step overhead = (a - b) / N                         goal <= 5 ms
  (c) `launchctl run RUNBOOK --dry-run --journal DIR2`         goal < 1 s
      `launchctl plan RUNBOOK`                                 (info)

To say where the overhead goes it then measures, without a profiler, the parts
in isolation (start-up + load via `launchctl validate`, the local executor
`steps.shells.local.LocalShell.run`, the journal's write+fsync per event, a
worker thread per step) and the same run with os.fsync made a no-op, and it
profiles one --no-wait run twice with cProfile:

  * exactly `python -m cProfile -o OUT -m launchctl.cli run ...`: this sees the
    main thread only, where the engine mostly sits in Event.wait while a
    worker thread runs the step;
  * every thread (each thread gets its own cProfile.Profile, merged at exit),
    which is where the commands, their output readers and most journal
    writes actually happen. Cumulative times of different threads overlap
    (the main thread waits while the worker works), so read them per line.

The journal fsyncs every event (docs/journal.md); the fsync share is reported
three ways: calls and time in the all-threads profile, a write+fsync
micro-benchmark, and the wall-time difference of a run with fsync disabled.

Exit status: 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perf_common import child_profiler, launchctl_script, short_location, verdict

GOAL_PER_STEP_MS = 5.0
GOAL_DRY_RUN_S = 1.0

# Run inside a child interpreter: profile every thread, merge, dump to argv[1].

# Run inside a child interpreter: the same launch with os.fsync a no-op (the counterfactual).
CHILD_NO_FSYNC = r"""
import os, sys
os.fsync = lambda fd: None
sys.argv = ["launchctl"] + sys.argv[1:]
from launchctl.cli import main
main()
"""


def write_runbook(path: Path, steps: int) -> None:
    lines = ["version: 1", "name: engine overhead benchmark", "steps:"]
    for i in range(steps):
        lines += [f"  - id: s{i:04d}", "    at: T+0", '    run: "true"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(argv: list[str], cwd: Path, expect_rc: int = 0) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode != expect_rc:
        sys.exit(
            f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')[-3000:]}"
        )
    return elapsed


def check_journal(directory: Path, steps: int) -> int:
    """Number of events; fails loudly if the launch did not run every step ok."""
    events = [
        json.loads(line)
        for line in (directory / "journal.jsonl").read_text().splitlines()
        if line.strip()
    ]
    ok = sum(1 for e in events if e.get("event") == "step_finished" and e.get("status") == "ok")
    last = events[-1] if events else {}
    if ok != steps or last.get("event") != "launch_finished" or last.get("status") != "completed":
        sys.exit(
            f"{directory}: expected {steps} ok steps and a completed launch, got {ok} ok, last event {last}"
        )
    return len(events)


def floor_spawn(steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        subprocess.run(["/bin/sh", "-c", "true"])
    return time.perf_counter() - started


def local_shell_spawn(steps: int) -> float:
    """The executor alone: Popen in a new session with a pipe, reader thread, polled wait."""
    from steps.shells.local import LocalShell

    shell = LocalShell()
    started = time.perf_counter()
    for _ in range(steps):
        result = shell.run("true", env={"LAUNCHCTL_STEP": "x"}, timeout=600)
        if result.exit_code != 0:
            sys.exit(f"LocalShell.run('true') gave {result}")
    return time.perf_counter() - started


def journal_appends(directory: Path, sample_events: list[dict], durable: bool) -> float:
    """The real JournalWriter appending the real run's events (write + fsync each when durable)."""
    from launchctl.journal.writer import JournalWriter

    directory.mkdir(parents=True)
    writer = JournalWriter(directory, durable=durable)
    writer.open()
    started = time.perf_counter()
    for event in sample_events:
        writer.append(event)
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed


def thread_per_step(steps: int) -> float:
    """engine.Engine._block: one worker thread + Event per step, started and joined."""
    import threading

    started = time.perf_counter()
    for _ in range(steps):
        done = threading.Event()
        worker = threading.Thread(target=done.set, daemon=True)
        worker.start()
        done.wait(0.2)
        worker.join()
    return time.perf_counter() - started


def fmt_s(values: list[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


def print_top(stats, sort: str, count: int, title: str) -> None:
    rows = []
    for key, (cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append((key, cc, nc, tt, ct))
    index = {"cumulative": 4, "tottime": 3}[sort]
    rows.sort(key=lambda r: r[index], reverse=True)
    print(title)
    print(f"{'ncalls':>10} {'tottime s':>10} {'cumtime s':>10} {'ms/call':>8}  function")
    for key, cc, nc, tt, ct in rows[:count]:
        calls = f"{nc}/{cc}" if nc != cc else str(nc)
        per = (ct if sort == "cumulative" else tt) / nc * 1000 if nc else 0.0
        print(f"{calls:>10} {tt:10.3f} {ct:10.3f} {per:8.3f}  {short_location(key)}")


def find(stats, predicate) -> tuple[int, float, float]:
    """(calls, tottime, cumtime) summed over the functions matching predicate(key)."""
    calls, tt, ct = 0, 0.0, 0.0
    for key, (_cc, nc, t, c, _callers) in stats.stats.items():
        if predicate(key):
            calls, tt, ct = calls + nc, tt + t, ct + c
    return calls, tt, ct


def callers_of(stats, predicate) -> list[tuple[str, int, float]]:
    """Who calls the matching functions: (caller, calls, time spent in the callee from there)."""
    merged: dict[tuple, list] = {}
    for key, (_cc, _nc, _tt, _ct, callers) in stats.stats.items():
        if not predicate(key):
            continue
        for caller, value in callers.items():
            nc, tt = value[1], value[2]
            slot = merged.setdefault(caller, [0, 0.0])
            slot[0] += nc
            slot[1] += tt
    return sorted(
        ((short_location(k), v[0], v[1]) for k, v in merged.items()),
        key=lambda r: r[2],
        reverse=True,
    )


def is_builtin(name: str):
    return lambda key: key[0] == "~" and key[2] == name


def is_func(file_suffix: str, func: str):
    return lambda key: key[0].endswith(file_suffix) and key[2] == func


def profile_breakdown(stats, wall: float, steps: int) -> None:
    """Named hot spots from the all-threads profile, with their share of the run."""
    probes = [
        ("os.fsync (journal durability)", is_builtin("<built-in method posix.fsync>"), "tottime"),
        ("os.write (journal lines)", is_builtin("<built-in method posix.write>"), "tottime"),
        (
            "journal.JournalWriter.append",
            is_func("launchctl/journal/writer.py", "append"),
            "cumtime",
        ),
        (
            "recorder.Recorder.emit (mask+journal+console)",
            is_func("launchctl/journal/recorder.py", "emit"),
            "cumtime",
        ),
        ("json encode (JSONEncoder.encode)", is_func("json/encoder.py", "encode"), "cumtime"),
        ("masking (SecretMasker.data)", is_func("launchctl/journal/masking.py", "data"), "cumtime"),
        (
            "console.PlainConsole.__call__",
            is_func("launchctl/views/plain.py", "__call__"),
            "cumtime",
        ),
        (
            "subprocess.Popen._execute_child (fork+exec)",
            is_func("subprocess.py", "_execute_child"),
            "cumtime",
        ),
        (
            "subprocess._fork_exec (the syscall)",
            is_builtin("<built-in method _posixsubprocess.fork_exec>"),
            "tottime",
        ),
        ("subprocess.Popen.wait (LocalShell)", is_func("subprocess.py", "wait"), "cumtime"),
        (
            "time.sleep (Popen.wait poll loop)",
            is_builtin("<built-in method time.sleep>"),
            "tottime",
        ),
        ("threading.Thread.start", is_func("threading.py", "start"), "cumtime"),
        ("threading.Thread.join", is_func("threading.py", "join"), "cumtime"),
        ("shells.base.Runner.run (LocalShell)", is_func("steps/shells/base.py", "run"), "cumtime"),
        (
            "engine.Engine._action_context (env+ctx)",
            is_func("launchctl/engine/engine.py", "_action_context"),
            "cumtime",
        ),
        (
            "engine.Engine._pending_interrupt (Path.exists)",
            is_func("launchctl/engine/engine.py", "_pending_interrupt"),
            "cumtime",
        ),
        (
            "runbook.v1.loader.load_runbook",
            is_func("runbook/v1/loader.py", "load_runbook"),
            "cumtime",
        ),
    ]
    print(
        f"named hot spots (all threads; profiled wall {wall:.2f} s; times under the profiler are inflated):"
    )
    print(f"{'calls':>8} {'time s':>8} {'ms/step':>8}  {'kind':<8} what")
    for label, predicate, kind in probes:
        calls, tt, ct = find(stats, predicate)
        if not calls:
            print(f"{0:>8} {'-':>8} {'-':>8}  {kind:<8} {label} (not seen)")
            continue
        value = tt if kind == "tottime" else ct
        print(f"{calls:>8} {value:8.3f} {value / steps * 1000:8.3f}  {kind:<8} {label}")


def profile_all_threads(work: Path, runbook: Path, steps: int, *options: str):
    import pstats

    name = "all-threads" + "".join(o.strip("-") for o in options)
    out = work / f"{name}.prof"
    journal = work / f"prof-{name}"
    t = timed(
        [
            sys.executable,
            "-c",
            child_profiler(),
            str(out),
            "run",
            str(runbook),
            *options,
            "--journal",
            str(journal),
        ],
        work,
    )
    check_journal(journal, steps)
    return pstats.Stats(str(out)), t


def report_fsync_and_sleep(stats, steps: int) -> None:
    calls, tt, _ = find(stats, is_builtin("<built-in method posix.fsync>"))
    print(
        f"os.fsync, all threads: {calls} calls, {tt:.3f} s total, {tt / max(calls, 1) * 1000:.3f} ms per call, "
        f"{tt / steps * 1000:.3f} ms per step; called from:"
    )
    for caller, n, secs in callers_of(stats, is_builtin("<built-in method posix.fsync>"))[:5]:
        print(f"{n:>8} {secs:8.3f}s  {caller}")
    sleeps = callers_of(stats, is_builtin("<built-in method time.sleep>"))
    if sleeps:
        print("time.sleep called from:")
        for caller, n, secs in sleeps[:5]:
            print(f"{n:>8} {secs:8.3f}s  {caller}")


def read_events(directory: Path) -> list[dict]:
    text = (directory / "journal.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, help="base directory for the temp dir (default: system temp)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir (runbook, journals, profiles)"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile runs")
    args = parser.parse_args()
    steps, repeat = args.steps, args.repeat

    script = launchctl_script()
    work = Path(tempfile.mkdtemp(prefix="launchctl-bench-", dir=args.dir))
    runbook = work / "runbook.yaml"
    write_runbook(runbook, steps)
    rb = str(runbook)
    ok_all = True
    started_all = time.perf_counter()
    try:
        fs = subprocess.run(
            ["stat", "-f", "-c", "%T", str(work)], capture_output=True, text=True
        ).stdout.strip()
        load = os.getloadavg()[0]
        print(f"launchctl : {script}")
        print(f"work dir  : {work} (filesystem: {fs or '?'})")
        print(
            f"setup     : {steps} steps; median of {repeat} (min also shown); cores: {os.cpu_count()}; "
            f"load average {load:.2f}"
            + ("  <- other work is running; figures will be noisy" if load > 0.7 else "")
        )
        print(
            "           whole-process timings are taken round-robin, so load drift hits every variant alike"
        )
        print()

        def launch(argv: list[str], journal: Path) -> float:
            elapsed = timed(argv + ["--journal", str(journal)], work)
            check_journal(journal, steps)
            return elapsed

        no_fsync = [sys.executable, "-c", CHILD_NO_FSYNC]
        variants = {
            "run": lambda i: launch([script, "run", rb, "--no-wait", "--yes"], work / f"run-{i}"),
            "floor": lambda i: floor_spawn(steps),
            "dry": lambda i: launch([script, "run", rb, "--dry-run"], work / f"dry-{i}"),
            "plan": lambda i: timed([script, "plan", rb], work),
            "validate": lambda i: timed([script, "validate", rb], work),
            "version": lambda i: timed([script, "--version"], work),
            "run_nofsync": lambda i: launch(
                no_fsync + ["run", rb, "--no-wait", "--yes"], work / f"run-nofsync-{i}"
            ),
            "dry_nofsync": lambda i: launch(
                no_fsync + ["run", rb, "--dry-run"], work / f"dry-nofsync-{i}"
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for i in range(repeat):
            for name, fn in variants.items():
                samples[name].append(fn(i))
        med = {name: statistics.median(v) for name, v in samples.items()}
        low = {name: min(v) for name, v in samples.items()}

        events = read_events(work / "run-0")
        dry_events = len(read_events(work / "dry-0"))

        run_med, floor_med, dry_med, plan_med = med["run"], med["floor"], med["dry"], med["plan"]
        per_step_ms = (run_med - floor_med) / steps * 1000
        ok_step = per_step_ms <= GOAL_PER_STEP_MS
        ok_dry = dry_med < GOAL_DRY_RUN_S
        ok_all &= ok_step and ok_dry

        print("== goals ==")
        header = f"{'measurement':<52} {'median':>9} {'min':>8}  {'runs':<23} goal"
        print(header)
        print("-" * (len(header) + 20))

        def row(label: str, name: str, goal: str = "") -> None:
            print(
                f"{label:<52} {med[name]:8.3f}s {low[name]:7.3f}s  {fmt_s(samples[name]):<23} {goal}"
            )

        row(f"(a) run --no-wait --yes ({steps} x true)", "run")
        row(f"(b) floor: {steps} x subprocess.run([sh,-c,true])", "floor")
        print(
            f"{'    per-step overhead (a - b) / ' + str(steps):<52} {per_step_ms:7.3f}ms "
            f"{(low['run'] - low['floor']) / steps * 1000:6.3f}ms  {'':<23} "
            f"<= {GOAL_PER_STEP_MS:g} ms  {verdict(ok_step)}"
            + (
                ""
                if ok_step
                else f"  (over by {per_step_ms - GOAL_PER_STEP_MS:.2f} ms, x{per_step_ms / GOAL_PER_STEP_MS:.2f})"
            )
        )
        row(
            "(c) run --dry-run",
            "dry",
            f"< {GOAL_DRY_RUN_S:g} s  {verdict(ok_dry)}"
            + (
                ""
                if ok_dry
                else f"  (over by {dry_med - GOAL_DRY_RUN_S:.3f} s, x{dry_med / GOAL_DRY_RUN_S:.2f})"
            ),
        )
        row("    plan", "plan", "(info; no goal set)")
        print(
            f"journal events: {len(events)} per --no-wait run, {dry_events} per dry run "
            f"({len(events) / steps:.1f} per step)"
        )
        print()

        # -- where it goes, without a profiler ----------------------------------------------
        parts = {"shell": [], "append_durable": [], "append_plain": [], "thread": []}
        for i in range(repeat):
            parts["shell"].append(local_shell_spawn(steps))
            parts["append_durable"].append(
                journal_appends(work / f"append-durable-{i}", events, True)
            )
            parts["append_plain"].append(journal_appends(work / f"append-plain-{i}", events, False))
            parts["thread"].append(thread_per_step(steps))
        part = {name: statistics.median(v) for name, v in parts.items()}
        validate_med = med["validate"]
        over = run_med - floor_med

        def share(seconds: float) -> str:
            return (
                f"{seconds:8.3f}s {seconds / steps * 1000:8.3f} {100 * seconds / over:7.1f}%"
                if over > 0
                else f"{seconds:8.3f}s"
            )

        print(
            "== where the --no-wait overhead goes (no profiler; medians; parts measured on their own) =="
        )
        print(f"total overhead (a - b) = {over:.3f} s = {per_step_ms:.3f} ms/step")
        print(f"{'part':<70} {'seconds':>9} {'ms/step':>8} {'% of a-b':>8}")
        lines = [
            (
                "fixed: start-up + imports + load/validate runbook (`launchctl validate`)",
                validate_med,
            ),
            (
                "executor: steps/shells LocalShell.run x N, minus the floor",
                part["shell"] - floor_med,
            ),
            (
                f"journal: JournalWriter.append x {len(events)} events (write + fsync)",
                part["append_durable"],
            ),
            (
                f"   of which fsync (same appends with durable=False take {part['append_plain']:.3f}s)",
                part["append_durable"] - part["append_plain"],
            ),
            ("engine: a worker thread + Event per step (Engine._block) x N", part["thread"]),
        ]
        for label, seconds in lines:
            print(f"{label:<70} {share(seconds)}")
            if label.startswith("fixed"):
                print(
                    f"{'   of which interpreter + CLI start-up (`launchctl --version`)':<70} {share(med['version'])}"
                )
                print(
                    f"{'   of which reading + validating the runbook (validate - --version)':<70} {share(validate_med - med['version'])}"
                )
        accounted = (
            validate_med + (part["shell"] - floor_med) + part["append_durable"] + part["thread"]
        )
        print(
            f"{'remainder: engine walk, emit/mask/json, console, GIL hand-offs':<70} {share(over - accounted)}"
        )
        fsync_cf = run_med - med["run_nofsync"]
        print(
            f"counterfactual (whole-process difference, noisy under load): the same run with os.fsync a no-op: median {med['run_nofsync']:.3f} s "
            f"(min {low['run_nofsync']:.3f}) vs {run_med:.3f} s (min {low['run']:.3f}) -> fsync costs "
            f"{fsync_cf:.3f} s = {fsync_cf / steps * 1000:.3f} ms/step"
            + (f" = {100 * fsync_cf / over:.0f}% of the overhead" if over > 0 else "")
        )
        print(
            f"overhead excluding the fixed start-up: ({run_med:.3f} - {floor_med:.3f} - {validate_med:.3f}) / {steps} = "
            f"{(over - validate_med) / steps * 1000:.3f} ms/step"
        )
        print()

        # -- where the dry run goes (it has a goal of its own) ------------------------------
        dry_fsync = dry_med - med["dry_nofsync"]
        walk = plan_med - validate_med
        rest = dry_med - validate_med - walk - dry_fsync
        print(
            f"== where the dry run goes ({dry_med:.3f} s, {dry_events} journal events; goal < {GOAL_DRY_RUN_S:g} s) =="
        )
        print(f"{'part':<70} {'seconds':>9} {'% of run':>8}")
        for label, seconds in [
            (
                "fixed: start-up + imports + load/validate runbook (`launchctl validate`)",
                validate_med,
            ),
            ("   of which interpreter + CLI start-up (`launchctl --version`)", med["version"]),
            (
                "   of which reading + validating the runbook (validate - --version)",
                validate_med - med["version"],
            ),
            ("engine walk with the describing executor, no journal (plan - validate)", walk),
            (
                "   of which 2 worker threads per step (Engine._block: sleep_until, run_action)",
                2 * part["thread"],
            ),
            ("journal fsync (dry run minus the same dry run with os.fsync a no-op)", dry_fsync),
            ("remainder: journal lock/open, write + json, console lines", rest),
        ]:
            print(f"{label:<70} {seconds:8.3f}s {100 * seconds / dry_med:7.1f}%")
        print(
            f"the dry run with fsync a no-op: {med['dry_nofsync']:.3f} s -> "
            f"{verdict(med['dry_nofsync'] < GOAL_DRY_RUN_S)} against the {GOAL_DRY_RUN_S:g} s goal"
        )
        print()

        # -- profiles -----------------------------------------------------------------------
        if not args.no_profile:
            import pstats

            main_out = work / "main-thread.prof"
            t = timed(
                [
                    sys.executable,
                    "-m",
                    "cProfile",
                    "-o",
                    str(main_out),
                    "-m",
                    "launchctl.cli",
                    "run",
                    rb,
                    "--no-wait",
                    "--yes",
                    "--journal",
                    str(work / "prof-main"),
                ],
                work,
            )
            check_journal(work / "prof-main", steps)
            stats = pstats.Stats(str(main_out))
            print(
                f"== cProfile, main thread only: python -m cProfile -m launchctl.cli run --no-wait ... ({t:.2f} s) =="
            )
            print_top(stats, "cumulative", 15, "top 15 by cumulative time:")
            calls, tt, _ = find(stats, is_builtin("<built-in method posix.fsync>"))
            print(
                f"os.fsync on the main thread: {calls} calls, {tt:.3f} s ({tt / max(calls, 1) * 1000:.3f} ms each)"
                " -- fsyncs on worker threads are not seen here; see the all-threads profile"
            )
            print()

            stats, t = profile_all_threads(work, runbook, steps, "--no-wait", "--yes")
            print(f"== cProfile, every thread merged: run --no-wait ({t:.2f} s) ==")
            print_top(
                stats,
                "cumulative",
                15,
                "top 15 by cumulative time (threads overlap: main waits while workers run):",
            )
            print()
            print_top(stats, "tottime", 15, "top 15 by own time (tottime):")
            print()
            profile_breakdown(stats, t, steps)
            print()
            report_fsync_and_sleep(stats, steps)
            print()

            stats, t = profile_all_threads(work, runbook, steps, "--dry-run")
            print(f"== cProfile, every thread merged: run --dry-run ({t:.2f} s) ==")
            print_top(stats, "tottime", 15, "top 15 by own time (tottime):")
            print()
            profile_breakdown(stats, t, steps)
            print()
            report_fsync_and_sleep(stats, steps)
            print()

        print(f"total benchmark time: {time.perf_counter() - started_all:.1f} s")
        print("RESULT:", "all goals met" if ok_all else "some goals MISSED")
        return 0 if ok_all else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
