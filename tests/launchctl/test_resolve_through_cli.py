"""The resolve pass seen from the command line: every field rendered before anything runs,
no secret needed to plan, ``${NAME}`` never expanded inside a value, named files checked,
and the journal showing exactly the command the shell received."""

from __future__ import annotations

from conftest import events_of

SECRET_RUNBOOK = """
version: 1
name: Secrets {{ release }}
vars: {release: v2}
secrets: [DB_PASS, PROM_TOKEN]
prometheus: {url: "http://user:${PROM_TOKEN}@127.0.0.1:1"}
notify: [{webhook: "http://127.0.0.1:1/${DB_PASS}"}]
steps:
  - id: deploy
    at: T+0
    run: echo deploying {{ release }}
    env: {PASS: "${DB_PASS}"}
guards:
  - {id: errors, prometheus: "up", breach: "< 1", during: [T+0, T+1m]}
rollback:
  - {id: restore, run: "echo restore {{ release }}", env: {PASS: "${DB_PASS}"}}
"""


def test_plan_needs_no_secret_and_shows_the_rollback_rendered(write_runbook, cli):
    result = cli("plan", write_runbook(SECRET_RUNBOOK), env={"DB_PASS": None, "PROM_TOKEN": None})
    assert result.exit_code == 0, result.stderr
    assert "Secrets v2" in result.stdout
    assert "restore: run on local: echo restore v2" in result.stdout
    assert "{{" not in result.stdout


def test_dry_run_needs_no_secret(write_runbook, cli):
    runbook = write_runbook(SECRET_RUNBOOK)
    result = cli(
        "run", "--dry-run", "--no-wait", runbook, env={"DB_PASS": None, "PROM_TOKEN": None}
    )
    assert result.exit_code == 0, result.stderr
    assert "internal error" not in result.stderr
    assert events_of(result.events, "launch_started")[0]["name"] == "Secrets v2"


def test_expect_text_is_rendered_before_the_run(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Staged
        vars: {release: v1.4.0}
        steps:
          - id: stage
            at: T+0
            run: echo staged {{ release }}
            expect: {stdout_contains: "staged {{ release }}", stdout_matches: "^staged {{ release }}$"}
        """
    )
    result = cli("run", "--no-wait", runbook, "--var", "release=v1.4.1")
    assert result.exit_code == 0, result.stderr


def test_a_secret_reference_inside_a_var_value_stays_text(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Values are data
        vars: {token: none}
        steps:
          - id: show
            at: T+0
            run: printf '%s' "$TOKEN" > token.out
            env: {TOKEN: "{{ token }}"}
        """
    )
    environment = {"NOT_A_LISTED_SECRET": "hunter2-value"}
    for value in ("${NOT_A_LISTED_SECRET}", "${UNSET_NAME_XYZ}"):
        result = cli("run", "--no-wait", runbook, "--var", f"token={value}", env=environment)
        assert result.exit_code == 0, result.stderr
        assert (workdir / "token.out").read_text() == value
        assert "hunter2-value" not in (result.journal_dir / "journal.jsonl").read_text()


def test_a_missing_gate_checklist_fails_validate_and_preflight(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Gated
        gate: missing-checklist.yaml
        steps: [{id: a, at: T+0, run: "true"}]
        """
    )
    for command in ("validate", "preflight"):
        result = cli(command, runbook)
        assert result.exit_code == 2
        assert f"{runbook}:3:7: gate: no such file: " in result.stderr


def test_missing_ssh_files_fail_validate_at_their_fields(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Ssh files
        ssh: {config: "{{ dir }}/ssh_config", known_hosts: nowhere/known_hosts}
        vars: {dir: conf}
        steps: [{id: a, at: T+0, run: "true"}]
        """
    )
    result = cli("validate", runbook)
    assert result.exit_code == 2
    assert f"{runbook}:3:15: ssh.config: no such file: " in result.stderr
    assert "conf/ssh_config" in result.stderr  # rendered with its var
    assert f"{runbook}:3:52: ssh.known_hosts: no such file: " in result.stderr


PATTERN_RUNBOOK = """
version: 1
name: Patterns
vars:
  message: {default: "hello world", pattern: "[a-z ]+"}
  release: {pattern: "v[0-9.]+"}
steps:
  - {id: say, at: T+0, run: "sh -c 'echo {{ message }} {{ release }}' > said.out"}
"""


def test_a_var_pattern_proves_a_value_for_sh_c_and_binds_var_options(write_runbook, cli, workdir):
    runbook = write_runbook(PATTERN_RUNBOOK)
    missing = cli("validate", runbook)
    assert missing.exit_code == 2
    assert f"{runbook}:5:3: vars.release: has no default; pass --var release=..." in missing.stderr
    bad = cli("validate", runbook, "--var", "release=v1;touch x")
    assert bad.exit_code == 2
    assert (
        "vars.release: --var value 'v1;touch x' does not match the pattern /v[0-9.]+/" in bad.stderr
    )
    result = cli("run", "--no-wait", runbook, "--var", "release=v1.2")
    assert result.exit_code == 0, result.stderr
    assert (workdir / "said.out").read_text() == "hello world v1.2\n"


def test_free_text_rollback_reason_is_refused_where_a_shell_parses_it_again(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Reasons
        steps: [{id: a, at: T+0, run: "true"}]
        rollback:
          - {id: tell, run: "logger {{ rollback.reason }}"}
          - {id: ssh, run: "ssh ops-host 'echo {{ rollback.reason }}'"}
        """
    )
    result = cli("validate", runbook)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{runbook}:6:20: rollback[1].run: ")
    assert "free text and cannot be proven harmless" in lines[0]


def test_a_host_is_proven_like_a_value_where_a_shell_parses_it_again(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Hosts
        targets:
          jump: {transport: local}
          web: {hosts: ["ops$@app1", app1]}
        steps:
          - {id: a, at: T+0, on: web, run: "ssh -t {{ host }} uptime"}
        """
    )
    result = cli("validate", runbook)
    assert result.exit_code == 2
    assert f"{runbook}:7:36: steps[0].run: with host 'ops$@app1': " in result.stderr
    assert "contains '$'" in result.stderr


def test_the_journal_shows_exactly_the_command_the_shell_received(write_runbook, cli, workdir):
    runbook = write_runbook(
        """
        version: 1
        name: Exact
        steps:
          - id: show
            at: T+0
            run: |
              # it's a comment with a quote
              printf '%s|' {{ v }} "{{ v }}" > out.txt
              cat /proc/$$/cmdline > received.bin
        """
    )
    value = "a b * $(touch pwned) `touch pwned` it's"
    result = cli("run", "--no-wait", runbook, "--var", f"v={value}")
    assert result.exit_code == 0, result.stderr
    assert (workdir / "out.txt").read_text() == f"{value}|{value}|"
    assert not (workdir / "pwned").exists()
    shown = events_of(result.events, "command_finished")[0]["command"]
    received = (workdir / "received.bin").read_bytes().split(b"\0")
    assert received[:2] == [b"/bin/sh", b"-c"]
    assert received[2].decode() == shown
    assert shown.startswith("# it's a comment with a quote\nprintf '%s|' 'a b * $(touch pwned)")


def test_the_first_real_launch_of_the_issue_rolls_back_nothing(write_runbook, cli):
    """stdout_contains, rollback run and notify were left unrendered: a healthy launch rolled back."""
    runbook = write_runbook(
        """
        version: 1
        name: First {{ release }}
        vars: {release: v1}
        steps:
          - {id: stage, at: T+0, run: "echo staged {{ release }}", expect: {stdout_contains: "staged {{ release }}"}}
        rollback:
          - {id: undo, run: "echo undo {{ release }}", expect: {stdout_contains: "undo {{ release }}"}}
        """
    )
    result = cli("run", "--no-wait", runbook)
    assert result.exit_code == 0, result.stderr
    assert not events_of(result.events, "rollback_started")
