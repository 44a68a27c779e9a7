"""Guard benchmark against a real Prometheus: breach-to-rollback latency and engine CPU.

Run on demand (not collected by pytest):

    python tests/perf/bench_guards.py [--reps 5] [--cpu-guards 20] [--cpu-seconds 60]
                                      [--profile auto|always|never] [--dir BASE] [--keep]

It starts its own exporter and Prometheus (tests/realservers.py: Debian's
``prometheus`` binary, 1 s scrape and evaluation interval) and then measures:

1. Breach-to-rollback latency. A runbook with ``golive`` (``run: "true"``, T+0),
   ``soak`` (``wait: 10m``, T+0) and one guard (``every: 1s``,
   ``during: [T+0, T+30m]``, ``then: rollback``) runs as
   ``launchctl run RUNBOOK --no-wait --journal DIR`` (stdin /dev/null). Once the
   guard has journaled its first healthy sample, the benchmark waits 1 s plus a
   phase offset (spread over a second across the repetitions so the flip lands
   at different points of the scrape cycle), flips the metric, and notes the
   wall time of the flip. Two variants, --reps repetitions each:

     gauge  query ``bench_lat_gauge_N``, breach "> 0.05"; flip 0.001 -> 0.2
     rate   query ``rate(bench_lat_rate_N_total[5s])``, breach "> 50"; a thread
            increments the counter at 1/s, after the flip at 100/s (the exporter
            only writes gauges; rate() works on the series all the same)

   From the journal (``ts`` of each event, ms resolution, wall clock of the same
   host):
     (a) flip -> rollback_started; bound = scrape interval (1 s) + rate window
         (0 s gauge / 5 s rate) + guard every (1 s)
     (b) breaching guard_sample -> rollback_started; goal <= 1 s
         (guard_triggered -> rollback_started is printed beside it)
   and, to say where (a) goes, the timestamp of the first Prometheus sample taken
   after the flip (read back with a range selector): flip -> scrape,
   scrape -> breaching guard_sample.

2. Engine CPU: one ``true`` step at T+0 and --cpu-guards guards (distinct ids,
   each on its own healthy gauge, ``every: 1s``, ``during: [T+0, T+1m]``), run
   with --no-wait. The launchctl process is reaped with os.wait4, so its CPU
   (user+sys, its reaped children included) is exact; divided by the process's
   wall time it gives the share of one core (goal < 5 %). A steady-state share
   (from the first guard_sample to just before the window closes, from
   /proc/PID/stat) excludes interpreter start-up. Also printed: guard_sample
   events journaled (expected ~ guards x seconds) and Prometheus's own CPU over
   the same interval (information, not part of the goal).

When the CPU goal is missed (or --profile always) the same launch runs once more
with a shorter window under cProfile in every thread, timed with
time.thread_time (CPU, not wall), and the functions holding the CPU are printed.

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
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from perf_common import child_profiler, launchctl_script, short_location, verdict  # noqa: E402
from realservers import Exporter, Prometheus  # noqa: E402

SCRAPE_S = 1.0
EVERY_S = 1.0
RATE_WINDOW_S = 5.0
GOAL_SAMPLE_TO_ROLLBACK_S = 1.0
GOAL_CPU_SHARE = 0.05
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Child interpreter: run launchctl with every thread under cProfile timed by
# time.thread_time (per-thread CPU), merge the stats, dump them to argv[1].


# -- helpers ---------------------------------------------------------------------------------


def ts(event: dict) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


def read_events(journal: Path) -> list[dict]:
    path = journal / "journal.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:  # a line still being written
            break
    return events


def first(events: list[dict], kind: str, **match) -> dict | None:
    for event in events:
        if event["event"] == kind and all(event.get(k) == v for k, v in match.items()):
            return event
    return None


def wait_for_event(
    proc: subprocess.Popen, journal: Path, kind: str, timeout: float, **match
) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = first(read_events(journal), kind, **match)
        if found is not None:
            return found
        if proc.poll() is not None:
            stderr = journal.parent / "stderr.txt"
            tail = stderr.read_text(errors="replace")[-1500:] if stderr.exists() else ""
            raise RuntimeError(
                f"launchctl exited {proc.returncode} before {kind}; see {journal}\n{tail}"
            )
        time.sleep(0.05)
    raise RuntimeError(f"no {kind} {match or ''} within {timeout:g} s; see {journal}")


def proc_cpu(pid: int) -> float:
    """utime+stime of a live process (children not included), seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def guard_yaml(guard_id: str, query: str, breach: str, during: str) -> str:
    return (
        f'  - {{id: {guard_id}, prometheus: "{query}", breach: "{breach}", every: 1s, '
        f"during: [{during}], then: rollback}}"
    )


def stats_of(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), max(values)


# -- 1. breach-to-rollback latency -------------------------------------------------------------


class Counter:
    """A counter the exporter serves (as a gauge-typed series), incremented at a settable rate."""

    def __init__(self, exporter: Exporter, name: str, per_second: float) -> None:
        self.exporter, self.name, self.per_second = exporter, name, per_second
        self.value = 0.0
        self._stop = threading.Event()
        exporter.set(name, self.value)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.02):
            now = time.monotonic()
            self.value += self.per_second * (now - last)
            last = now
            self.exporter.set(self.name, self.value)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def latency_run(
    variant: str,
    rep: int,
    reps: int,
    exporter: Exporter,
    prom: Prometheus,
    work: Path,
    launchctl: str,
) -> dict:
    counter: Counter | None = None
    if variant == "gauge":
        metric = f"bench_lat_gauge_{rep}"
        query, breach, threshold = metric, "> 0.05", 0.05
        exporter.set(metric, 0.001)
        prom.wait_for(query, lambda v: v == 0.001)
    else:
        metric = f"bench_lat_rate_{rep}_total"
        query, breach, threshold = f"rate({metric}[5s])", "> 50", 50.0
        counter = Counter(exporter, metric, 1.0)
        prom.wait_for(query, lambda v: 0 < v < 5)
    run_dir = work / f"lat-{variant}-{rep}"
    run_dir.mkdir()
    runbook = run_dir / "launch.yaml"
    runbook.write_text(
        "version: 1\n"
        f"name: bench breach latency {variant} {rep}\n"
        f'prometheus: {{url: "{prom.url}"}}\n'
        "steps:\n"
        '  - {id: golive, at: T+0, run: "true"}\n'
        "  - {id: soak, at: T+0, wait: 10m}\n"
        "guards:\n"
        f"{guard_yaml('error-rate', query, breach, 'T+0, T+30m')}\n"
        "rollback:\n"
        '  - {id: undo, run: "true"}\n',
        encoding="utf-8",
    )
    journal = run_dir / "journal"
    with open(run_dir / "stdout.txt", "wb") as out, open(run_dir / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [launchctl, "run", str(runbook), "--no-wait", "--journal", str(journal)],
            cwd=run_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            wait_for_event(proc, journal, "guard_sample", 30, status="ok")
            time.sleep(1.0 + rep / reps)  # spread the flip over the scrape cycle
            flip = time.time()
            if counter is not None:
                counter.per_second = 100.0
            else:
                exporter.set(metric, 0.2)
            rc = proc.wait(60)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if counter is not None:
                counter.stop()
    events = read_events(journal)
    sample = next(
        (e for e in events if e["event"] == "guard_sample" and e.get("status") == "breaching"), None
    )
    breach_event = first(events, "guard_triggered")
    rollback = first(events, "rollback_started")
    if sample is None or rollback is None or breach_event is None:
        raise RuntimeError(f"{variant} rep {rep}: no breach/rollback in {journal} (exit {rc})")
    if rollback.get("trigger") != "guard:error-rate":
        raise RuntimeError(f"{variant} rep {rep}: rollback trigger {rollback.get('trigger')!r}")
    # The first sample Prometheus took after the flip (scrape timestamps, read back).
    series = prom.query(f"{metric}[2m]")
    points = [(float(t), float(v)) for t, v in series[0]["values"]] if series else []
    if variant == "gauge":
        scrape = next((t for t, v in points if v == 0.2), None)
    else:
        scrape = next((t for t, _ in points if t >= flip), None)
    return {
        "exit": rc,
        "flip_to_rollback": ts(rollback) - flip,
        "sample_to_rollback": ts(rollback) - ts(sample),
        "breach_to_rollback": ts(rollback) - ts(breach_event),
        "flip_to_scrape": None if scrape is None else scrape - flip,
        "scrape_to_sample": None if scrape is None else ts(sample) - scrape,
        "breach_value": sample.get("value"),
        "threshold": threshold,
    }


# -- 2. engine CPU with many guards ----------------------------------------------------------


def cpu_runbook(path: Path, prom_url: str, guards: int, seconds: int) -> None:
    lines = [
        "version: 1",
        f"name: bench guard cpu {guards}x{seconds}s",
        f'prometheus: {{url: "{prom_url}"}}',
        "steps:",
        '  - {id: golive, at: T+0, run: "true"}',
        "guards:",
    ]
    lines += [
        guard_yaml(f"g{i:02d}", f"bench_cpu_g{i:02d}", "> 0.05", f"T+0, T+{seconds}s")
        for i in range(guards)
    ]
    lines += ["rollback:", '  - {id: undo, run: "true"}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def cpu_run(prom: Prometheus, work: Path, launchctl: str, guards: int, seconds: int) -> dict:
    run_dir = work / "cpu"
    run_dir.mkdir()
    runbook = run_dir / "launch.yaml"
    cpu_runbook(runbook, prom.url, guards, seconds)
    journal = run_dir / "journal"
    with open(run_dir / "stdout.txt", "wb") as out, open(run_dir / "stderr.txt", "wb") as err:
        prom_cpu0 = proc_cpu(prom.process.pid)
        started = time.monotonic()
        proc = subprocess.Popen(
            [launchctl, "run", str(runbook), "--no-wait", "--journal", str(journal)],
            cwd=run_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            anchored = wait_for_event(proc, journal, "guards_anchored", 30)
            wait_for_event(proc, journal, "guard_sample", 30)
            steady0, steady_cpu0 = time.monotonic(), proc_cpu(proc.pid)
            # Window closes at anchor + seconds; take the steady-state reading 2 s before.
            closes = ts(anchored) + seconds
            time.sleep(max(0.0, closes - 2.0 - time.time()))
            steady1, steady_cpu1 = time.monotonic(), proc_cpu(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        prom_cpu1 = proc_cpu(prom.process.pid)
    events = read_events(journal)
    samples = [e for e in events if e["event"] == "guard_sample"]
    per_guard: dict[str, int] = {}
    for sample in samples:
        per_guard[sample["guard"]] = per_guard.get(sample["guard"], 0) + 1
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "exit": proc.returncode,
        "wall": wall,
        "cpu": cpu,
        "user": usage.ru_utime,
        "sys": usage.ru_stime,
        "share": cpu / wall,
        "steady_share": (steady_cpu1 - steady_cpu0) / (steady1 - steady0),
        "steady_wall": steady1 - steady0,
        "samples": len(samples),
        "not_ok": sum(1 for s in samples if s.get("status") != "ok"),
        "per_guard": (min(per_guard.values()), max(per_guard.values())) if per_guard else (0, 0),
        "events": len(events),
        "prom_share": (prom_cpu1 - prom_cpu0) / wall,
    }


def profile_cpu(prom: Prometheus, work: Path, guards: int, seconds: int) -> None:
    import pstats

    run_dir = work / "profile"
    run_dir.mkdir()
    runbook = run_dir / "launch.yaml"
    cpu_runbook(runbook, prom.url, guards, seconds)
    out = run_dir / "cpu.prof"
    started = time.monotonic()
    with open(run_dir / "stdout.txt", "wb") as stdout, open(run_dir / "stderr.txt", "wb") as stderr:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                child_profiler("time.thread_time"),
                str(out),
                "run",
                str(runbook),
                "--no-wait",
                "--journal",
                str(run_dir / "journal"),
            ],
            cwd=run_dir,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    wall = time.monotonic() - started
    if proc.returncode != 0 or not out.exists():
        print(f"profile run exited {proc.returncode}; see {run_dir}")
        return
    stats = pstats.Stats(str(out))
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in stats.stats.values())
    samples = sum(1 for e in read_events(run_dir / "journal") if e["event"] == "guard_sample")
    print()
    print(
        f"profile: {guards} guards x {seconds} s under cProfile (every thread, timer time.thread_time = CPU); "
        f"wall {wall:.1f} s, profiled CPU {total:.2f} s, {samples} guard_sample events "
        f"({total / max(samples, 1) * 1000:.2f} ms CPU per sample, profiler overhead included)"
    )
    rows = [(key, nc, tt, ct) for key, (_cc, nc, tt, ct, _callers) in stats.stats.items()]
    for title, index in (("cumulative CPU", 3), ("own CPU (tottime)", 2)):
        rows.sort(key=lambda r: r[index], reverse=True)
        print(f"top 18 by {title}:")
        print(
            f"{'ncalls':>9} {'tottime':>8} {'cumtime':>8} {'% of CPU':>8} {'ms/call':>8}  function"
        )
        for key, nc, tt, ct in rows[:18]:
            value = ct if index == 3 else tt
            print(
                f"{nc:>9} {tt:8.3f} {ct:8.3f} {value / total * 100:7.1f}% {value / nc * 1000 if nc else 0:8.3f}"
                f"  {short_location(key)}"
            )
    print(f"(profile kept at {out}; open with python -m pstats)")


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per latency variant")
    parser.add_argument("--cpu-guards", type=int, default=20)
    parser.add_argument("--cpu-seconds", type=int, default=60)
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="profile the CPU run (shorter window) when its goal is missed",
    )
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    launchctl = launchctl_script()
    work = Path(tempfile.mkdtemp(prefix="bench-guards-", dir=args.dir))
    began = time.monotonic()
    exporter = Exporter()
    prom = None
    ok = True
    try:
        prom = Prometheus(work, exporter.port)
        print(
            f"prometheus {prom.url} (pid {prom.process.pid}) scraping exporter :{exporter.port} "
            f"every {SCRAPE_S:g} s; launchctl = {launchctl}; work dir {work}"
        )
        for i in range(args.cpu_guards):
            exporter.set(f"bench_cpu_g{i:02d}", 0.0)

        results: dict[str, list[dict]] = {}
        for variant in ("gauge", "rate"):
            results[variant] = []
            for rep in range(args.reps):
                r = latency_run(variant, rep, args.reps, exporter, prom, work, launchctl)
                results[variant].append(r)
                print(
                    f"  {variant} rep {rep}: exit {r['exit']}  flip->rollback {r['flip_to_rollback']:.3f} s  "
                    f"(flip->scrape {r['flip_to_scrape'] if r['flip_to_scrape'] is None else round(r['flip_to_scrape'], 3)} s, "
                    f"scrape->breaching sample {r['scrape_to_sample'] if r['scrape_to_sample'] is None else round(r['scrape_to_sample'], 3)} s, "
                    f"sample->rollback {r['sample_to_rollback']:.3f} s)  breaching value {r['breach_value']}",
                    flush=True,
                )

        prom.wait_for("count({__name__=~'bench_cpu_g..'})", lambda v: v == args.cpu_guards)
        print(f"  cpu run: {args.cpu_guards} guards x {args.cpu_seconds} s ...", flush=True)
        cpu = cpu_run(prom, work, launchctl, args.cpu_guards, args.cpu_seconds)

        def row(label: str, med: str = "", mx: str = "", goal: str = "", result: str = "") -> None:
            print(f"{label:<54} {med:>8} {mx:>8}  {goal:<18} {result}".rstrip())

        rule = "-" * 100
        print()
        print(
            f"{args.reps} runs per latency variant; flip = wall time the exporter value changed; "
            "journal ts has ms resolution"
        )
        print("  gauge: query bench_lat_gauge_N, breach > 0.05, 0.001 -> 0.2")
        print("  rate:  query rate(bench_lat_rate_N_total[5s]), breach > 50, counter 1/s -> 100/s")
        row("measure", "median s", "max s", "goal", "result")
        print(rule)
        for variant in ("gauge", "rate"):
            runs = results[variant]
            window = 0.0 if variant == "gauge" else RATE_WINDOW_S
            bound = SCRAPE_S + window + EVERY_S
            med, mx = stats_of([r["flip_to_rollback"] for r in runs])
            passed = mx <= bound
            ok &= passed
            row(
                f"(a) {variant}: flip -> rollback_started",
                f"{med:.3f}",
                f"{mx:.3f}",
                f"<= {bound:g} (1+{window:g}+1)",
                verdict(passed),
            )
            for key, text in (
                ("flip_to_scrape", "flip -> first scrape after it"),
                ("scrape_to_sample", "that scrape -> breaching guard_sample"),
            ):
                values = [r[key] for r in runs if r[key] is not None]
                if values:
                    med, mx = stats_of(values)
                    row(f"      {text}", f"{med:.3f}", f"{mx:.3f}", "(part of (a))")
            med, mx = stats_of([r["sample_to_rollback"] for r in runs])
            passed = mx <= GOAL_SAMPLE_TO_ROLLBACK_S
            ok &= passed
            row(
                f"(b) {variant}: breaching guard_sample -> rollback_started",
                f"{med:.3f}",
                f"{mx:.3f}",
                f"<= {GOAL_SAMPLE_TO_ROLLBACK_S:g}",
                verdict(passed),
            )
            med, mx = stats_of([r["breach_to_rollback"] for r in runs])
            row(
                f"    {variant}: guard_triggered -> rollback_started",
                f"{med:.3f}",
                f"{mx:.3f}",
                "(info)",
            )
            bad_exit = [r["exit"] for r in runs if r["exit"] != 1]
            if bad_exit:
                print(f"    note: exit codes other than 1 (rolled back): {bad_exit}")
        print(rule)
        passed = cpu["share"] < GOAL_CPU_SHARE
        ok &= passed
        row(
            f"(2) engine CPU, {args.cpu_guards} guards x every 1 s, {args.cpu_seconds} s",
            f"{cpu['share'] * 100:.2f}%",
            "",
            f"< {GOAL_CPU_SHARE * 100:g}% of a core",
            verdict(passed),
        )
        print(
            f"      CPU {cpu['cpu']:.2f} s (user {cpu['user']:.2f} + sys {cpu['sys']:.2f}) over wall "
            f"{cpu['wall']:.2f} s, start-up included; exit {cpu['exit']}"
        )
        print(
            f"      steady state (first sample .. window end - 2 s, {cpu['steady_wall']:.1f} s): "
            f"{cpu['steady_share'] * 100:.2f}% of one core"
        )
        expected = args.cpu_guards * args.cpu_seconds
        print(
            f"      guard_sample events: {cpu['samples']} (expected ~{expected}; per guard "
            f"{cpu['per_guard'][0]}..{cpu['per_guard'][1]}; not ok: {cpu['not_ok']}); "
            f"events total {cpu['events']}"
        )
        print(f"      CPU per guard sample: {cpu['cpu'] / max(cpu['samples'], 1) * 1000:.2f} ms")
        print(
            f"      Prometheus CPU over the same wall time: {cpu['prom_share'] * 100:.2f}% "
            "of one core (info)"
        )
        print(rule)
        print(
            f"overall: {'all goals met' if ok else 'goal(s) missed'}  (benchmark wall {time.monotonic() - began:.0f} s)"
        )

        if args.profile == "always" or (args.profile == "auto" and not passed):
            profile_cpu(prom, work, args.cpu_guards, args.profile_seconds)
    finally:
        if prom is not None:
            prom.stop()
        exporter.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
