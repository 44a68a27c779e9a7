"""Waves over a real sshd (20 host aliases of one loopback sshd): order and holds, a failing canary,
``max_fail`` per wave and in total, per-step ``parallel``/``max_fail``, rollback of exactly the
hosts touched (last wave first), and what ``status`` says per wave and per host."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest
from conftest import events_of, read_events, wait_for
from realservers_ssh import SshLab

pytestmark = pytest.mark.slow  # a real sshd on loopback


@pytest.fixture
def lab20(sshd, silent_server, ssh_home, workdir) -> SshLab:
    """Aliases app1..app20 of the loopback sshd."""
    return SshLab(sshd, workdir, silent_server.port, aliases=20)


def write(workdir: Path, lab: SshLab, text: str, **values: str) -> Path:
    text = textwrap.dedent(text).lstrip()
    hosts = ", ".join(lab.aliases)
    for name, value in {
        "SSH": lab.ssh_section(),
        "DIR": str(workdir),
        "HOSTS": hosts,
        **values,
    }.items():
        text = text.replace(name, value)
    path = workdir / "launch.yaml"
    path.write_text(text)
    return path


def spans(workdir: Path, hosts: list[str]) -> dict[str, tuple[float, float]]:
    found = {}
    for host in hosts:
        path = workdir / f"{host}.times"
        if path.exists():
            start, end = path.read_text().split()
            found[host] = (float(start), float(end))
    return found


def ran(workdir: Path, lab: SshLab, suffix: str = "times") -> list[str]:
    return [host for host in lab.aliases if (workdir / f"{host}.{suffix}").exists()]


TIMED = "date +%s.%N > DIR/{{ host }}.times; sleep 0.2; date +%s.%N >> DIR/{{ host }}.times"


def in_waves(name: str, run: str, hold: str, top: str = "", rest: str = "") -> str:
    """A runbook whose step ``deploy`` runs ``run`` on the twenty aliases (``parallel: 20``) in
    waves [1, 25%, 100%], holding ``hold`` between them; ``top`` and ``rest`` add sections."""
    return f"""
version: 1
name: {name}
ssh: SSH
{top}targets:
  api: {{hosts: [HOSTS], parallel: 20}}
steps:
  - id: deploy
    at: T+0
    on: api
    run: {run}
    waves: [1, 25%, 100%]
    between_waves: {{hold: {hold}}}
{rest}"""


TWENTY = in_waves("Twenty in waves", f'"{TIMED}"', "2s")


def test_twenty_hosts_run_in_their_waves_in_order_with_the_hold_between(lab20, workdir, cli):
    result = cli("run", write(workdir, lab20, TWENTY), "--no-wait", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    waves = [lab20.aliases[:1], lab20.aliases[1:5], lab20.aliases[5:]]
    started = events_of(result.events, "wave_started")
    assert [(e["wave"], e["of"], e["hosts"]) for e in started] == [
        (1, 3, waves[0]),
        (2, 3, waves[1]),
        (3, 3, waves[2]),
    ]
    times = spans(workdir, lab20.aliases)
    assert sorted(times) == sorted(lab20.aliases)
    for before, after in zip(waves, waves[1:], strict=False):
        last_end = max(times[h][1] for h in before)
        first_start = min(times[h][0] for h in after)
        assert first_start - last_end >= 2.0, "the next wave started before the hold was over"
    holds = [e for e in events_of(result.events, "wait_started") if e.get("wave")]
    assert [(e["wave"], e["seconds"]) for e in holds] == [(1, 2.0), (2, 2.0)]
    kinds = [e["event"] for e in result.events if e["event"].startswith(("wave_", "wait_"))]
    assert kinds == ["wave_started", "wave_finished", "wait_started"] * 2 + [
        "wave_started",
        "wave_finished",
    ]
    hosts = events_of(result.events, "host_finished")
    assert sorted(e["host"] for e in hosts) == sorted(lab20.aliases)
    assert {e["status"] for e in hosts} == {"ok"}
    assert "≋ wave 2 of 3: app2, app3, app4, app5" in result.stdout


CANARY = in_waves(
    "Canary",
    """'touch DIR/{{ host }}.ran; [ {{ host }} != app1 ] || { echo "canary is sick" >&2; exit 1; }'""",
    "1s",
    rest="""rollback:
  - id: undeploy
    if_started: deploy
    on: api
    parallel: 4
    run: "touch DIR/{{ host }}.undone"
  - id: everywhere
    on: api
    run: "touch DIR/{{ host }}.everywhere"
""",
)


def test_a_failing_canary_stops_every_later_wave_and_rolls_back_host_1_only(lab20, workdir, cli):
    result = cli("run", write(workdir, lab20, CANARY), "--no-wait", "--yes")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert ran(workdir, lab20, "ran") == ["app1"]
    assert ran(workdir, lab20, "undone") == ["app1"]
    # a rollback step without if_started still runs on its whole target, as before
    assert ran(workdir, lab20, "everywhere") == lab20.aliases
    assert "everywhere: ok — ran on 20 hosts" in cli("status", result.journal_dir).stdout
    finished = events_of(result.events, "step_finished")[0]
    assert finished["status"] == "failed"
    assert finished["reason"].startswith("wave 1 of 3: on app1: exit code 1")
    assert "max_fail 0 allows 0 of its 1 hosts" in finished["reason"]
    assert [e["wave"] for e in events_of(result.events, "wave_started")] == [1, 1]
    undo = [e for e in events_of(result.events, "rollback_step_started") if e["step"] == "undeploy"]
    assert undo[0]["waves"] == [["app1"]] and undo[0]["undoes"] == "deploy"

    status = cli("status", result.journal_dir)
    assert status.exit_code == 0
    assert "wave 1 of 3: app1 failed" in status.stdout
    assert "waves 2-3: not started (19 hosts)" in status.stdout
    assert "undeploy: ok — undid app1 (wave 1)" in status.stdout


MAX_FAIL = """
version: 1
name: Max fail per wave
ssh: SSH
targets:
  api: {hosts: [app1, app2, app3, app4, app5, app6, app7, app8], parallel: 4}
steps:
  - id: deploy
    at: T+0
    on: api
    run: 'touch DIR/{{ host }}.ran; case {{ host }} in FAILING) exit 1;; esac'
    waves: [2, 50%, 100%]
    max_fail: MAXFAIL
"""


@pytest.mark.parametrize(
    "failing,max_fail,exit_code,hosts_ran,reason",
    [
        # 50%: one of each 2-host wave, two of the last 4, four of 8 in total
        ("app1|app3|app5|app6", '"50%"', 0, 8, None),
        (
            "app3|app4",
            '"50%"',
            1,
            4,
            "wave 2 of 3: on app3: exit code 1, expected 0 (and 1 more "
            "hosts); max_fail 50% allows 1 of its 2 hosts",
        ),
        # a count is the same for each wave and for the whole step
        (
            "app1|app3",
            "1",
            1,
            4,
            "wave 2 of 3: on app1: exit code 1, expected 0 (and 1 more "
            "hosts); max_fail 1 allows 1 of 8 hosts in total",
        ),
    ],
)
def test_max_fail_counts_per_wave_and_in_total(
    ssh_lab, workdir, cli, failing, max_fail, exit_code, hosts_ran, reason
):
    runbook = write(workdir, ssh_lab, MAX_FAIL, FAILING=failing, MAXFAIL=max_fail)
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == exit_code, result.stdout + result.stderr
    assert ran(workdir, ssh_lab, "ran") == ssh_lab.aliases[:hosts_ran]
    finished = events_of(result.events, "step_finished")[0]
    assert finished.get("reason") == reason
    statuses = {e["wave"]: e["status"] for e in events_of(result.events, "wave_finished")}
    assert list(statuses.values())[-1] == ("ok" if exit_code == 0 else "failed")
    sizes = {e["wave"]: len(e["hosts"]) for e in events_of(result.events, "wave_started")}
    for wave in events_of(result.events, "wave_finished"):
        failed = wave.get("failed") or []
        assert set(failed) <= set(failing.split("|"))
        counted = wave["ok"] + len(failed) + len(wave.get("not_started") or [])
        assert counted == sizes[wave["wave"]]


PER_STEP = """
version: 1
name: Per-step parallel and max_fail
ssh: SSH
targets:
  api: {hosts: [app1, app2, app3, app4, app5, app6], parallel: 1, max_fail: 0}
steps:
  - id: wide
    at: T+0
    on: api
    parallel: 3
    max_fail: 2
    run: 'date +%s.%N > DIR/{{ host }}.times; sleep 0.4; date +%s.%N >> DIR/{{ host }}.times; case {{ host }} in app2|app5) exit 1;; esac'
  - id: narrow
    at: T+0
    on: api
    run: 'touch DIR/{{ host }}.narrow; exit 1'
rollback:
  - id: undo
    if_started: narrow
    on: api
    parallel: 6
    max_fail: 100%
    run: 'date +%s.%N > DIR/{{ host }}.undo; sleep 0.4'
"""


def test_a_steps_parallel_and_max_fail_override_its_targets(ssh_lab, workdir, cli):
    result = cli("run", write(workdir, ssh_lab, PER_STEP), "--no-wait", "--yes")
    assert result.exit_code == 1, result.stdout + result.stderr
    hosts = ssh_lab.aliases[:6]
    times = spans(workdir, hosts)
    starts = sorted(start for start, _ in times.values())
    in_flight = max(sum(1 for s, e in times.values() if s <= start < e) for start in starts)
    assert in_flight == 3  # the step's parallel, not the target's 1
    first = {e["step"]: e for e in events_of(result.events, "step_finished")}
    assert first["wide"]["status"] == "ok"  # two failures, the step's max_fail allows two
    # the target's own max_fail 0 and parallel 1 still hold for the other step: one host ran
    assert ran(workdir, ssh_lab, "narrow") == ["app1"]
    undone = [h for h in hosts if (workdir / f"{h}.undo").exists()]
    assert undone == ["app1"]  # exactly what narrow touched


UNDO_LOGGED = """rollback:
  - id: undeploy
    if_started: deploy
    on: api
    parallel: 20
    run: "echo {{ host }} >> DIR/undo.log"
"""

GUARDED = in_waves(
    "Breach in the second hold",
    '"touch DIR/{{ host }}.ran"',
    "HOLD",
    top='prometheus: {url: "PROM"}\n',
    rest="""guards:
  - {id: errors, prometheus: METRIC, breach: "> 0.05", every: 1s, during: [T+0, T+1h]}
"""
    + UNDO_LOGGED,
)


def test_a_breach_during_the_second_hold_rolls_back_waves_1_and_2_last_first(
    lab20, workdir, cli, prometheus, exporter, metric_name
):
    exporter.set(metric_name, 0.0)
    prometheus.wait_for(metric_name, lambda v: v == 0.0)
    journal = workdir / "journal"
    runbook = write(workdir, lab20, GUARDED, PROM=prometheus.url, METRIC=metric_name, HOLD="15s")

    def breach_in_the_second_hold() -> None:
        def second_hold() -> bool:
            try:
                return any(
                    e["event"] == "wait_started" and e.get("wave") == 2
                    for e in read_events(journal)
                )
            except (FileNotFoundError, ValueError):
                return False

        wait_for(second_hold, timeout=60)
        exporter.set(metric_name, 0.5)

    threading.Thread(target=breach_in_the_second_hold, daemon=True).start()
    result = cli("run", runbook, "--no-wait", "--yes", "--journal", journal)
    assert result.exit_code == 1, result.stdout + result.stderr
    events = read_events(journal)
    assert ran(workdir, lab20, "ran") == lab20.aliases[:5]  # waves 1 and 2; wave 3 never started
    undone = (workdir / "undo.log").read_text().split()
    assert sorted(undone[:4]) == lab20.aliases[1:5] and undone[4:] == ["app1"]
    rollback = events_of(events, "rollback_started")[0]
    assert rollback["trigger"] == "guard:errors"
    assert [e["wave"] for e in events_of(events, "wave_started") if e.get("phase")] == [2, 1]
    holds = [e for e in events_of(events, "wait_started") if e.get("wave")]
    assert [e["wave"] for e in holds] == [1, 2]  # the first hold ran out, the second was cut


def test_a_live_drill_fails_wave_2_and_undoes_waves_2_then_1_for_real(lab20, workdir, cli):
    drilled = in_waves("Drilled", '"touch DIR/{{ host }}.ran"', "1s", rest=UNDO_LOGGED)
    runbook = write(workdir, lab20, drilled)
    result = cli("drill", runbook, "--live", "--fail-at", "deploy", "--wave", "2", "--no-wait")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ran(workdir, lab20, "ran") == ["app1"]  # wave 1 ran; wave 2 was failed, not run
    undone = (workdir / "undo.log").read_text().split()
    assert sorted(undone[:4]) == lab20.aliases[1:5] and undone[4:] == ["app1"]
    assert "undid app2, app3, app4, app5 (wave 2); app1 (wave 1)" in result.stdout
    assert "injection to rollback start" in result.stdout


UNREACHABLE = """
version: 1
name: A host is down
ssh: SSH
targets:
  api: {hosts: [HOSTS], parallel: 4}
steps:
  - id: deploy
    at: T+0
    on: api
    run: 'touch DIR/{{ host }}.ran'
    waves: [1, 100%]
rollback:
  - id: undeploy
    if_started: deploy
    on: api
    run: 'touch DIR/{{ host }}.undone'
"""


@pytest.mark.parametrize(
    "hosts,deployed",
    [
        ("app1, dead, app2", ["app1", "app2"]),  # down in the last wave
        ("dead, app1, app2", []),  # the canary is down: nothing ran anywhere
    ],
)
def test_a_host_the_step_never_reached_is_not_undone_and_the_rollback_completes(
    ssh_lab, workdir, cli, hosts, deployed
):
    """Connection refused: the command never started on 'dead', so there is nothing to undo
    there. Undoing it anyway failed the rollback (exit 3, "a person must act") although every
    host the launch changed was restored."""
    result = cli("run", write(workdir, ssh_lab, UNREACHABLE, HOSTS=hosts), "--no-wait", "--yes")
    assert result.exit_code == 1, result.stdout + result.stderr  # rolled back, complete
    assert ran(workdir, ssh_lab, "ran") == deployed
    assert ran(workdir, ssh_lab, "undone") == deployed  # exactly what was touched
    undone = [e["host"] for e in events_of(result.events, "host_started") if e.get("phase")]
    assert "dead" not in undone
    status = cli("status", result.journal_dir).stdout
    assert "connection refused" in status


UNDO_FAILS_ON_APP3 = """
version: 1
name: An undo fails on one host
ssh: SSH
targets:
  api: {hosts: [app1, app2, app3], parallel: 4}
steps:
  - id: deploy
    at: T+0
    on: api
    run: 'touch DIR/{{ host }}.ran'
    waves: [1, 100%]
  - {id: smoke, at: T+0, run: "exit 1"}
rollback:
  - id: undeploy
    if_started: deploy
    on: api
    run: 'test {{ host }} != app3 && echo {{ host }} >> DIR/undo.log'
"""


def test_an_undo_failing_in_a_later_wave_still_undoes_the_earlier_waves(ssh_lab, workdir, cli):
    """The canary is as changed as the host whose undo failed: leaving it on the new release
    because app3 would not come back made the outage wider than it had to be."""
    result = cli("run", write(workdir, ssh_lab, UNDO_FAILS_ON_APP3), "--no-wait", "--yes")
    assert result.exit_code == 3, result.stdout + result.stderr  # incomplete: app3 needs a person
    undone = (workdir / "undo.log").read_text().split()
    assert "app1" in undone and "app2" in undone and "app3" not in undone
    assert undone.index("app2") < undone.index("app1")  # still last wave first
    finished = events_of(result.events, "host_finished")
    assert any(e["host"] == "app3" and e["status"] == "failed" for e in finished if e.get("phase"))
