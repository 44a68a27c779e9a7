"""The live view on a real 80×24 pseudo-terminal, through a whole rehearsal: thirteen steps that
print, guards sampling a real Prometheus. Its header stays on screen from start to end, no line
is wider than the terminal, and it writes well under 100 KB per minute of launch."""

from __future__ import annotations

import os
import re
import sys

from conftest import events_of, read_events
from terminal_screen import record

NAME = "Fits the terminal"
OFFSETS = ["T-12m", "T-10m", "T-8m", "T-6m", "T-4m", "T-2m", "T+0"]
OFFSETS += ["T+2m", "T+4m", "T+6m", "T+8m", "T+10m", "T+12m"]


def runbook(metric: str, prometheus_url: str) -> str:
    """Thirteen steps, each printing twenty lines over a second; three guards every second."""
    steps = []
    for index, offset in enumerate(OFFSETS, 1):
        command = (
            f'for i in $(seq 1 20); do echo "step {index} line $i of 20: deploying the release '
            f'to the fleet, batch $i"; sleep 0.05; done'
        )
        steps.append(
            f"  - id: step-{index:02d}-with-a-longish-name\n"
            f"    name: Step {index} of the launch, with a title long enough to be cut at 80\n"
            f"    at: {offset}\n"
            f"    run: '{command}'\n"
        )
    guards = "".join(
        f"  - {{id: {guard}, prometheus: {metric}, breach: '> 0.5', every: 1s, for: 5s, "
        f"during: [T-12m, T+12m], then: warn}}\n"
        for guard in ("error-rate", "p95-latency", "saturation")
    )
    return (
        f"version: 1\nname: {NAME}\nprometheus: {{url: '{prometheus_url}'}}\n"
        f"steps:\n{''.join(steps)}guards:\n{guards}"
    )


def test_the_live_view_keeps_its_header_and_fits_80x24(workdir, prometheus, exporter, metric_name):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    (workdir / "launch.yaml").write_text(runbook(metric_name, prometheus.url))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAUNCHCTL_PLAIN")},
        "TERM": "xterm-256color",
        "PYTHONPATH": ":".join(sys.path),
    }
    argv = [sys.executable, "-m", "launchctl.cli", "run", "launch.yaml", "--speed", "60"]
    argv += ["--yes", "--journal", "j"]
    run = record(argv, 80, 24, str(workdir), env, timeout=120)

    assert run.exit_status == 0
    events = read_events(workdir / "j")
    assert len(events_of(events, "step_finished")) == 13
    assert len(events_of(events, "guard_sample")) >= 30

    def header_on(lines: list[str]) -> bool:
        top = next((i for i, line in enumerate(lines) if line.startswith(f" {NAME}")), None)
        return (
            top is not None
            and top + 2 < len(lines)
            and lines[top + 1].startswith(" now ")
            and "(launch " in lines[top + 1]
            and " T0 " in lines[top + 1]
            and re.search(r"  T[+-]\d\d:\d\d  ", lines[top + 1]) is not None  # the T-offset
            and lines[top + 2].startswith((" running", " monitoring", " finished"))  # the phase
        )

    assert len(run.quiet_screens) >= 10
    assert all(header_on(lines) for lines in run.quiet_screens), "the header scrolled away"
    final = run.screen.lines()
    assert header_on(final) and any("outcome: completed" in line for line in final)
    assert any(line.startswith("✓ 13 steps done") for line in final)
    assert any("guards:" in line for line in run.quiet_screens[len(run.quiet_screens) // 2])
    assert run.screen.hidden_wraps == 0, "a line ran past column 80"
    assert run.bytes_per_minute <= 100_000, f"{run.bytes_per_minute:.0f} bytes a minute"
