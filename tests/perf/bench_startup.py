"""Startup benchmark: how much slower `launchctl --help` is than a bare interpreter.

Run on demand (not collected by pytest):

    python tests/perf/bench_startup.py [--runs 15] [--warmup 3]

Goals: median wall time of `launchctl --help` <= 3x the median of `python -c pass`; and,
against `python -c "import click"` (the floor for any click CLI), `launchctl --help` within
1.25x and `launchctl validate examples/launch.yaml` within 1.75x.
Also prints the ten most expensive imports of `import launchctl.cli`
(`python -X importtime`) and checks that `--help` imports none of the heavy
libraries (fabric, httpx, rich), which must only load in the commands using them.

Both commands are timed through the interpreter binaries themselves
(sys.executable and the `launchctl` script installed next to it), because a
version-manager shim on PATH (pyenv) adds a constant ~80 ms to both sides and
would flatter the ratio. The PATH variants are printed too, for reference.

Every command runs with cached bytecode, as an installed tool does (pip compiles
it on install, and click's own is there already): PYTHONDONTWRITEBYTECODE is
dropped from the children's environment, so the warm-up runs write it.
Without that, launchctl's own modules would be compiled on every run while the
floor's are not, and the ratio would measure the compiler.

Exit status: 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from perf_common import launchctl_script, verdict

GOAL_RATIO = 3.0
GOAL_HELP_OVER_CLICK = 1.25
GOAL_VALIDATE_OVER_CLICK = 1.75
EXAMPLE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "launch.yaml"
)
FORBIDDEN = ("fabric", "httpx", "rich")
# Reported for information only: heavy dependencies (or their dependencies) worth watching.
WATCHED = (
    "paramiko",
    "invoke",
    "cryptography",
    "httpcore",
    "anyio",
    "tenacity",
    "structlog",
    "yaml",
)


# The children's environment: bytecode cached (see the module's docstring).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def time_once(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CHILD_ENV)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )
    return elapsed


def time_pair(
    a: list[str], b: list[str], runs: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Interleaved timings so drift in machine load hits both commands alike."""
    for _ in range(warmup):
        time_once(a)
        time_once(b)
    times_a, times_b = [], []
    for _ in range(runs):
        times_a.append(time_once(a))
        times_b.append(time_once(b))
    return times_a, times_b


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def parse_importtime(stderr: str) -> list[tuple[int, int, int, str]]:
    """(self_us, cumulative_us, depth, module) for each `import time:` line, in output order."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        name_field = parts[2].rstrip()
        stripped = name_field.lstrip(" ")
        depth = (len(name_field) - len(stripped) - 1) // 2
        rows.append((int(parts[0]), int(parts[1]), depth, stripped))
    return rows


def after_site(rows: list[tuple[int, int, int, str]]) -> list[tuple[int, int, int, str]]:
    """Drop interpreter start-up imports (everything up to and including the top-level `site`)."""
    for index in range(len(rows) - 1, -1, -1):
        if rows[index][3] == "site" and rows[index][2] == 0:
            return rows[index + 1 :]
    return rows


def importtime(code: str) -> tuple[list[tuple[int, int, int, str]], str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    if proc.returncode != 0 and "Traceback" in proc.stderr:
        sys.exit(f"import failed:\n{proc.stderr[-3000:]}")
    return parse_importtime(proc.stderr), proc.stdout


def top_package(module: str) -> str:
    return module.split(".", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    script = launchctl_script()
    python = sys.executable
    ok_all = True

    print(f"interpreter : {python}")
    print(f"launchctl   : {script}")
    print(
        f"runs        : {args.runs} each, interleaved, after {args.warmup} warm-up runs each; cores: {os.cpu_count()}"
    )
    print()

    help_times, pass_times = time_pair(
        [script, "--help"], [python, "-c", "pass"], args.runs, args.warmup
    )
    help_med, pass_med = statistics.median(help_times), statistics.median(pass_times)
    ratio = help_med / pass_med
    ok_ratio = ratio <= GOAL_RATIO
    ok_all &= ok_ratio

    print("== wall time (ms) ==")
    header = f"{'command':<34} {'median':>8} {'min':>8} {'max':>8}   {'ratio':>6}   goal"
    print(header)
    print("-" * len(header))
    print(
        f"{'python -c pass':<34} {ms(pass_med)} {ms(min(pass_times))} {ms(max(pass_times))}   {1.0:6.2f}x"
    )
    print(
        f"{'launchctl --help':<34} {ms(help_med)} {ms(min(help_times))} {ms(max(help_times))}   "
        f"{ratio:6.2f}x   <= {GOAL_RATIO:.0f}x  {verdict(ok_ratio)}"
    )
    print(f"{'  (launchctl cost over python)':<34} {ms(help_med - pass_med)}")

    click_floor = [python, "-c", "import click"]
    help_c, click_a = time_pair([script, "--help"], click_floor, args.runs, args.warmup)
    validate_c, click_b = time_pair([script, "validate", EXAMPLE], click_floor, args.runs, 1)
    click_med = statistics.median(click_a + click_b)
    floor_label = 'python -c "import click"'
    print(f"{floor_label:<34} {ms(click_med)}                     1.00x")
    for label, times, goal in (
        ("launchctl --help", help_c, GOAL_HELP_OVER_CLICK),
        ("launchctl validate launch.yaml", validate_c, GOAL_VALIDATE_OVER_CLICK),
    ):
        over = statistics.median(times) / click_med
        ok = over <= goal
        ok_all &= ok
        print(
            f"{label:<34} {ms(statistics.median(times))} {ms(min(times))} {ms(max(times))}   "
            f"{over:6.2f}x   <= {goal:.2f}x click  {verdict(ok)}"
        )
    path_python, path_script = shutil.which("python"), shutil.which("launchctl")
    if (
        path_python
        and path_script
        and (
            os.path.realpath(path_python) != os.path.realpath(python)
            or os.path.realpath(path_script) != os.path.realpath(script)
        )
    ):
        runs = max(5, args.runs // 3)
        shim_help, shim_pass = time_pair(
            [path_script, "--help"], [path_python, "-c", "pass"], runs, 1
        )
        shim_ratio = statistics.median(shim_help) / statistics.median(shim_pass)
        print(f"-- via PATH ({path_script}, {path_python}), {runs} runs, info only --")
        print(f"{'python -c pass (PATH)':<34} {ms(statistics.median(shim_pass))}")
        print(
            f"{'launchctl --help (PATH)':<34} {ms(statistics.median(shim_help))}            {shim_ratio:6.2f}x"
        )
    print()

    # -- what `import launchctl.cli` costs, module by module -----------------------------------
    rows, _ = importtime("import launchctl.cli")
    rows = after_site(rows)
    total_us = sum(r[0] for r in rows)
    print(
        f"== python -X importtime -c 'import launchctl.cli': {total_us / 1000:.1f} ms of imports after start-up =="
    )
    print("top 10 by cumulative time (nested imports are included in their parent):")
    print(f"{'cumulative ms':>13} {'self ms':>8}  module")
    for self_us, cum_us, depth, name in sorted(rows, key=lambda r: r[1], reverse=True)[:10]:
        print(f"{cum_us / 1000:13.1f} {self_us / 1000:8.1f}  {'  ' * depth}{name}")
    print()
    by_package: dict[str, int] = {}
    for self_us, _cum, _depth, name in rows:
        by_package[top_package(name)] = by_package.get(top_package(name), 0) + self_us
    print("top 10 packages by total self time:")
    for package, us in sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:10]:
        print(f"{us / 1000:13.1f} ms  {package}")
    print()

    # -- what `launchctl --help` actually imports ----------------------------------------------
    code = "import sys; sys.argv = ['launchctl', '--help']; from launchctl.cli import main; main()"
    help_rows, help_out = importtime(code)
    if "Usage" not in help_out:
        print("warning: --help printed no usage text; the import check below may not be meaningful")
    imported = {name for _s, _c, _d, name in help_rows}
    print("== heavy libraries imported by `launchctl --help` ==")
    print(f"{'library':<14} {'imported':<9} goal")
    for package in FORBIDDEN:
        hit = sorted(m for m in imported if m == package or m.startswith(package + "."))
        ok = not hit
        ok_all &= ok
        print(
            f"{package:<14} {'YES' if hit else 'no':<9} not imported  {verdict(ok)}"
            + (f"  ({len(hit)} modules, e.g. {hit[0]})" if hit else "")
        )
    for package in WATCHED:
        hit = [m for m in imported if m == package or m.startswith(package + ".")]
        print(f"{package:<14} {'yes' if hit else 'no':<9} (info)")
    print()
    print("RESULT:", "all goals met" if ok_all else "some goals MISSED")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
