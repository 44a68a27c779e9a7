"""Running a launch end to end on the local target: order, schedule, expectations, outcomes."""

from __future__ import annotations

import time
from datetime import datetime

from conftest import events_of

SEED_TIMELINE = """
version: 1
name: Seed launch
vars: {release: v1.4.0}
steps:
  - {id: predeploy, at: T-60min, run: "echo predeploy >> order.log"}
  - {id: maintenance, at: T-45m, run: "echo maintenance >> order.log"}
  - {id: deploy-start, at: T-30m, run: "echo deploy-start >> order.log"}
  - {id: migrate, at: T-15m, run: "echo migrate >> order.log"}
  - {id: deploy, at: T-10m, run: "echo deploy {{ release }} >> order.log"}
  - {id: health, at: T-5m, check: [{command: "grep -q deploy order.log"}]}
  - {id: golive, at: T+0, confirm: "Go live with {{ release }}?", run: "echo golive >> order.log"}
  - {id: initial-validation, at: T+15m, run: "echo initial-validation >> order.log"}
  - {id: full-validation, at: T+30m, run: "echo full-validation >> order.log"}
  - {id: handoff, at: T+60m, run: "echo handoff >> order.log"}
"""


def test_seed_timeline_runs_in_order_under_no_wait(write_runbook, cli, workdir):
    runbook = write_runbook(SEED_TIMELINE)
    started = time.monotonic()
    result = cli("run", runbook, "--no-wait", "--yes")
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started < 20
    order = (workdir / "order.log").read_text().split("\n")
    assert order[:5] == ["predeploy", "maintenance", "deploy-start", "migrate", "deploy v1.4.0"]
    assert [e["step"] for e in events_of(result.events, "step_started")] == [
        "predeploy",
        "maintenance",
        "deploy-start",
        "migrate",
        "deploy",
        "health",
        "golive",
        "initial-validation",
        "full-validation",
        "handoff",
    ]
    finished = events_of(result.events, "launch_finished")
    assert finished == [result.events[-1]]
    assert finished[0]["status"] == "completed" and finished[0]["exit_code"] == 0


def test_every_journal_event_has_a_timestamp_and_a_name(write_runbook, cli):
    result = cli("run", write_runbook(SEED_TIMELINE), "--no-wait", "--yes")
    for event in result.events:
        assert datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).tzinfo is not None
        assert event["event"]
    kinds = {e["event"] for e in result.events}
    assert {
        "launch_started",
        "step_started",
        "step_finished",
        "check_result",
        "launch_finished",
    } <= kinds
    seqs = [e["seq"] for e in result.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_run_prints_journal_directory_first(write_runbook, cli):
    result = cli("run", write_runbook(SEED_TIMELINE), "--no-wait", "--yes")
    assert result.stderr.splitlines()[0].startswith("journal: ")
    assert (result.journal_dir / "journal.jsonl").is_file()


def test_steps_start_at_their_offsets_with_speed(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Timed
        steps:
          - {id: a, at: T+0, run: "true"}
          - {id: b, at: T+1m, run: "true"}
          - {id: c, at: T+2m, run: "true"}
        """
    )
    started = time.monotonic()
    result = cli("run", runbook, "--speed", "60", "--t0", "now")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert 1.8 < elapsed < 6, elapsed  # two launch-minutes at 60x are two real seconds
    for event in events_of(result.events, "step_started"):
        planned = datetime.fromisoformat(event["planned"].replace("Z", "+00:00"))
        actual = datetime.fromisoformat(event["clock"].replace("Z", "+00:00"))
        assert abs((actual - planned).total_seconds()) < 15  # launch seconds: < 0.25 s real
        assert "late_s" not in event


def test_a_step_after_a_slow_one_is_marked_late(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Late
        steps:
          - {id: slow, at: T+0, run: "sleep 2"}
          - {id: next, at: T+1s, run: "true"}
        """
    )
    result = cli("run", runbook, "--t0", "now")
    assert result.exit_code == 0
    late = events_of(result.events, "step_started")[1]
    assert late["step"] == "next" and 0.5 < late["late_s"] < 3


def test_dry_run_touches_nothing_and_shows_resolved_commands(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Dry
        vars: {release: v2}
        steps:
          - {id: deploy, at: T-30m, run: "touch deployed-{{ release }}"}
          - {id: soak, at: T+0, wait: 2h}
          - {id: check, at: T+3h, check: [{command: "touch checked", within: 10m, every: 1m}]}
        """
    )
    started = time.monotonic()
    result = cli("run", runbook, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started < 5  # a simulated clock never sleeps through the 2h soak
    assert not (workdir / "deployed-v2").exists() and not (workdir / "checked").exists()
    commands = events_of(result.events, "command_finished")
    assert commands[0]["command"] == "touch deployed-v2" and commands[0]["dry_run"] is True
    checks = events_of(result.events, "check_result")
    assert checks[0]["status"] == "not-evaluated"
    assert "would run: touch deployed-v2" in result.stdout


def test_expect_stdout_contains_and_matches(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Expect
        steps:
          - id: ok
            at: T+0
            run: "echo version=1.4.0"
            expect: {stdout_contains: "version=", stdout_matches: "^version=1\\\\.4\\\\.\\\\d+$"}
          - id: wrong
            at: T+0
            run: "echo hello"
            expect: {stdout_contains: "goodbye"}
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    finished = {e["step"]: e for e in events_of(result.events, "step_finished")}
    assert finished["ok"]["status"] == "ok"
    assert finished["wrong"]["status"] == "failed"
    assert "does not contain 'goodbye'" in finished["wrong"]["reason"]


def test_expect_exit_code_other_than_zero(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Exit
        steps:
          - {id: three, at: T+0, run: "exit 3", expect: {exit: 3}}
        """
    )
    assert cli("run", runbook, "--no-wait").exit_code == 0


def test_step_env_reaches_the_command(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Env
        vars: {region: eu-west-1}
        steps:
          - id: env
            at: T+0
            run: 'echo "$REGION $LAUNCHCTL_STEP" > env.out'
            env: {REGION: "{{ region }}"}
        """
    )
    assert cli("run", runbook, "--no-wait").exit_code == 0
    assert (workdir / "env.out").read_text().strip() == "eu-west-1 env"


def test_check_within_retries_until_the_criterion_passes(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Poll
        steps:
          - id: ready
            at: T+0
            check:
              - command: 'n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 2 ]'
                within: 5s
                every: 200ms
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 0, result.stdout
    checks = events_of(result.events, "check_result")
    assert [c["status"] for c in checks] == ["fail", "fail", "pass"]
    assert [c["attempt"] for c in checks] == [1, 2, 3]


def test_check_that_never_passes_fails_the_step_after_within(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Poll
        steps:
          - id: ready
            at: T+0
            check: [{command: "false", within: 2s, every: 500ms}]
        """
    )
    result = cli("run", runbook, "--no-wait")
    assert result.exit_code == 1
    assert 4 <= len(events_of(result.events, "check_result")) <= 5
    failed = events_of(result.events, "step_failed")[0]
    assert "check command 'false' fail" in failed["reason"]


def test_wait_holds_for_its_duration_even_under_no_wait(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Soak
        steps:
          - {id: soak, at: T+0, wait: 1m}
        """
    )
    started = time.monotonic()
    assert cli("run", runbook, "--no-wait", "--speed", "60").exit_code == 0
    assert 0.9 < time.monotonic() - started < 4


def test_t0_option_forms(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: T0
        steps: [{id: a, at: T-1h, notify: hi}]
        """
    )
    for value in ("2026-12-01T14:00:00Z", "14:00", "now", "+90m"):
        assert cli("plan", runbook, "--t0", value).exit_code == 0, value
    bad = cli("plan", runbook, "--t0", "tomorrow")
    assert bad.exit_code == 2 and "--t0 'tomorrow'" in bad.stderr


def test_plan_lists_offset_time_step_target_and_command(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Planned
        vars: {release: v9}
        steps:
          - {id: migrate, at: T-15m, run: "alembic upgrade {{ release }}"}
          - {id: golive, at: T+0, confirm: "Go?", run: ./cutover.sh}
        rollback:
          - {id: restore, if_started: migrate, run: alembic downgrade -1}
        """
    )
    result = cli("plan", runbook, "--t0", "2026-12-01T14:00:00Z")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    migrate = next(line for line in lines if "migrate" in line and "T-15m" in line)
    local_time = (
        datetime.fromisoformat("2026-12-01T13:45:00+00:00").astimezone().strftime("%H:%M:%S")
    )
    assert local_time in migrate and "local" in migrate and "run: alembic upgrade v9" in migrate
    assert any("confirm: Go?" in line for line in lines)
    assert any("restore: if 'migrate' started" in line for line in lines)


def test_validate_prints_counts(write_runbook, cli):
    result = cli("validate", write_runbook(SEED_TIMELINE))
    assert result.exit_code == 0
    assert result.stdout.strip() == "ok: 10 steps, 0 guards, 0 rollback steps"


HOSTILE_VARS = [
    "x; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "a' ; touch pwned ; '",
    'a" ; touch pwned ; "',
    "x\ntouch pwned",
]


def test_hostile_var_values_cannot_inject_commands_in_any_quoting(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Injection
        steps:
          - id: plain
            at: T+0
            run: printf '%s|' {{ v }} > plain.out
          - id: double
            at: T+0
            run: printf '%s|' "release {{ v }}" > double.out
          - id: check
            at: T+0
            check: [{command: "test -n {{ v }}"}]
        """
    )
    for value in HOSTILE_VARS:
        result = (
            cli("run", runbook, "--no-wait", "--var", f"v={value}") if "\n" not in value else None
        )
        if result is None:
            assert (
                cli("run", runbook, "--no-wait", "--var", f"v={value}").exit_code == 2
            )  # control characters refused
            continue
        assert result.exit_code == 0, (value, result.stdout)
        assert not (workdir / "pwned").exists(), value
        assert (workdir / "plain.out").read_text() == f"{value}|"
        assert (workdir / "double.out").read_text() == f"release {value}|"
        shown = events_of(result.events, "command_finished")[0]["command"]
        quoted = "'" + value.replace("'", "'\\''") + "'"
        assert shown == f"printf '%s|' {quoted} > plain.out"  # the journal shows exactly what ran


def test_hostile_var_inside_single_quotes_is_refused_before_anything_runs(
    write_runbook, cli, workdir
):
    runbook = write_runbook(
        """
        version: 1
        name: Injection
        steps:
          - {id: first, at: T+0, run: touch first.out}
          - {id: single, at: T+0, run: "sh -c 'echo deploying {{ v }}' > single.out"}
        """
    )
    for value in HOSTILE_VARS[:5]:
        result = cli("run", runbook, "--no-wait", "--var", f"v={value}")
        assert result.exit_code == 2, value
        assert (
            f"{runbook}:5:32: steps[1].run: '{{{{ v }}}}' is inside single quotes" in result.stderr
        )
        assert not (workdir / "first.out").exists() and not (workdir / "pwned").exists()
    assert cli("run", runbook, "--no-wait", "--var", "v=v1.4.0").exit_code == 0
    assert (workdir / "single.out").read_text() == "deploying v1.4.0\n"


def test_raw_placeholder_inserts_shell_code_on_purpose(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Raw
        steps:
          - {id: raw, at: T+0, run: "echo start {{ flags | raw }}"}
        """
    )
    assert cli("run", runbook, "--no-wait", "--var", "flags=> raw.out").exit_code == 0
    assert (workdir / "raw.out").read_text().strip() == "start"
