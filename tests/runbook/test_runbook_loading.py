"""Valid runbooks load into the right model: the contract's own example, every default, YAML
quirks (`on:`, merge keys), `--var` and `--targets`, the shipped example and the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook import model
from runbook.comparison import Comparison
from runbook.errors import ValidationFailed
from runbook.v1.loader import load_runbook

REPO = Path(__file__).resolve().parents[2]

# The contract's example (section 2 of the launch contract), made loadable: the `db` target it uses is defined and
# the second guard's `prometheus: ...` placeholder is a real query.
SPEC_EXAMPLE = """
version: 1                       # required, must be 1
name: Agente Hotelero IA launch  # required
t0: 2026-12-01T14:00:00Z
gate: checklist.yaml
vars: {release: v1.4.0, api: "http://127.0.0.1:8000"}
secrets: [SLACK_WEBHOOK, DB_PASSWORD]
targets:
  local: {transport: local}
  api:
    hosts: [app1, app2, app3]
    user: deploy
    port: 22
    parallel: 2
    max_fail: 0
  db:
    hosts: [db1]
ssh:
  config: ~/.ssh/config
  known_hosts: ~/.ssh/known_hosts
  host_key_policy: strict
  connect_timeout: 10s
prometheus: {url: "http://127.0.0.1:9090"}
notify:
  - slack: "${SLACK_WEBHOOK}"
  - webhook: "http://127.0.0.1:9999/launch"
steps:
  - id: predeploy
    name: Pre-deployment validation
    at: T-60m
    run: ./scripts/validate-deployment.sh production
    on: local
    timeout: 15m
    env: {PGPASSWORD: "${DB_PASSWORD}"}
    expect: {exit: 0}
    on_failure: rollback
  - id: migrate
    at: T-15m
    run: alembic upgrade head
    on: db
  - id: health
    at: T-5m
    check:
      - http: "{{ api }}/health/ready"
        status: 200
        within: 2m
        every: 5s
  - id: golive
    at: T+0
    confirm: Cut traffic over to {{ release }}?
    run: ./scripts/cutover.sh
    notify: "GO LIVE: {{ release }}"
  - id: initial-validation
    at: T+15m
    check:
      - prometheus: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
        expect: "< 0.001"
      - command: ./scripts/smoke.sh
        on: local
guards:
  - id: error-rate
    prometheus: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
    breach: "> 0.05"
    every: 15s
    for: 1m
    during: [T+0, T+30m]
    then: rollback
  - id: error-rate-considered
    prometheus: sum(rate(http_requests_total{code=~"5.."}[30m])) / sum(rate(http_requests_total[30m]))
    breach: "> 0.01"
    during: [T+30m, T+2h]
    then: ask
rollback:
  - id: announce
    notify: "ROLLBACK INITIATED - reason: {{ rollback.reason }}"
  - id: restore-db
    if_started: migrate
    run: alembic downgrade -1
    on: db
  - id: validate
    check: [{http: "{{ api }}/health/ready"}]
"""

MINIMAL = """
version: 1
name: Minimal launch
steps:
  - {id: deploy, at: T-10m, run: ./deploy.sh}
"""

ERROR_RATIO = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'


@pytest.fixture(autouse=True)
def spec_example_files(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files the SPEC example names (gate checklist, ssh config, known_hosts): validate
    checks that they exist, so they are made here, in a home of the test's own."""
    (workdir / "checklist.yaml").write_text(
        "checklist: c\nitems: [{id: A-1, title: t, status: PASS}]\n"
    )
    home = workdir / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text("")
    (home / ".ssh" / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))


def _messages(failure: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [f"{d.line}:{d.column}: {d.message}" for d in failure.value.diagnostics]


# --- the SPEC example -------------------------------------------------------------------


def test_spec_example_loads_top_level_settings(write_runbook):
    path = write_runbook(SPEC_EXAMPLE)
    book = load_runbook(path)
    assert book.version == 1
    assert book.name == "Agente Hotelero IA launch"
    assert book.source == path.resolve()
    assert book.t0 == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert book.gate == (path.parent / "checklist.yaml").resolve()
    assert dict(book.vars) == {"release": "v1.4.0", "api": "http://127.0.0.1:8000"}
    assert book.secrets == ("SLACK_WEBHOOK", "DB_PASSWORD")
    assert book.prometheus_url == "http://127.0.0.1:9090"
    assert book.notify == (
        model.NotifyChannel("slack", "${SLACK_WEBHOOK}"),
        model.NotifyChannel("webhook", "http://127.0.0.1:9999/launch"),
    )
    assert book.ssh == model.SshSettings(
        config="~/.ssh/config",
        known_hosts="~/.ssh/known_hosts",
        host_key_policy=model.HostKeyPolicy.STRICT,
        connect_timeout=timedelta(seconds=10),
    )
    assert len(book.content_sha256) == 64


def test_spec_example_loads_targets(write_runbook):
    book = load_runbook(write_runbook(SPEC_EXAMPLE))
    assert sorted(book.targets) == ["api", "db", "local"]
    assert book.target("local").is_local
    api = book.target("api")
    assert (api.transport, api.hosts, api.user, api.port) == (
        "ssh",
        ("app1", "app2", "app3"),
        "deploy",
        22,
    )
    assert api.parallel == 2
    assert api.max_fail.allowed(3) == 0
    assert book.target("db").hosts == ("db1",)


def test_spec_example_loads_steps_in_order_with_their_fields(write_runbook):
    book = load_runbook(write_runbook(SPEC_EXAMPLE))
    assert book.step_ids == ("predeploy", "migrate", "health", "golive", "initial-validation")
    assert [step.at for step in book.steps] == [
        timedelta(minutes=-60),
        timedelta(minutes=-15),
        timedelta(minutes=-5),
        timedelta(0),
        timedelta(minutes=15),
    ]
    predeploy = book.step("predeploy")
    assert predeploy.title == "Pre-deployment validation"
    assert predeploy.run == "./scripts/validate-deployment.sh production"
    assert predeploy.timeout == timedelta(minutes=15)
    assert dict(predeploy.env) == {"PGPASSWORD": "${DB_PASSWORD}"}
    assert predeploy.expect == model.Expect(exit=0)
    assert predeploy.on_failure is model.OnFailure.ROLLBACK
    assert book.step("migrate").on == "db"
    golive = book.step("golive")
    assert golive.confirm.question == "Cut traffic over to {{ release }}?"
    assert golive.notify == "GO LIVE: {{ release }}"


def test_spec_example_loads_checks(write_runbook):
    book = load_runbook(write_runbook(SPEC_EXAMPLE))
    (ready,) = book.step("health").check
    assert isinstance(ready, model.HttpCriterion)
    assert ready.url == "{{ api }}/health/ready"
    assert ready.status == 200
    assert ready.poll == model.Poll(within=timedelta(minutes=2), every=timedelta(seconds=5))
    errors, smoke = book.step("initial-validation").check
    assert isinstance(errors, model.PrometheusCriterion)
    assert errors.query == ERROR_RATIO
    assert errors.expect == Comparison("<", 0.001)
    assert isinstance(smoke, model.CommandCriterion)
    assert (smoke.command, smoke.on, smoke.exit) == ("./scripts/smoke.sh", "local", 0)


def test_spec_example_loads_guards(write_runbook):
    book = load_runbook(write_runbook(SPEC_EXAMPLE))
    immediate, considered = book.guards
    assert immediate.id == "error-rate"
    assert immediate.query == ERROR_RATIO
    assert immediate.breach == Comparison(">", 0.05)
    assert immediate.every == timedelta(seconds=15)
    assert immediate.hold == timedelta(minutes=1)
    assert immediate.during == (timedelta(0), timedelta(minutes=30))
    assert immediate.then is model.GuardAction.ROLLBACK
    assert considered.breach == Comparison(">", 0.01)
    assert considered.during == (timedelta(minutes=30), timedelta(hours=2))
    assert considered.then is model.GuardAction.ASK


def test_spec_example_loads_the_rollback_sequence(write_runbook):
    book = load_runbook(write_runbook(SPEC_EXAMPLE))
    announce, restore_db, validate = book.rollback
    assert announce.notify == "ROLLBACK INITIATED - reason: {{ rollback.reason }}"
    assert (restore_db.if_started, restore_db.run, restore_db.on) == (
        "migrate",
        "alembic downgrade -1",
        "db",
    )
    assert [c.url for c in validate.check] == ["{{ api }}/health/ready"]


def test_fields_remember_where_they_were_written(write_runbook):
    book = load_runbook(write_runbook(MINIMAL))
    marks = book.step("deploy").marks
    assert (marks["at"].line, marks["at"].column) == (4, 22)


# --- defaults ---------------------------------------------------------------------------


def test_step_defaults(write_runbook):
    step = load_runbook(write_runbook(MINIMAL)).step("deploy")
    assert step.timeout == timedelta(minutes=10)
    assert step.on == "local"
    assert step.on_failure is model.OnFailure.ROLLBACK
    assert step.expect == model.Expect(exit=0, stdout_contains=None, stdout_matches=None)
    assert (step.check, step.confirm, step.notify, step.wait) == ((), None, None, None)
    assert dict(step.env) == {}


def test_runbook_without_targets_runs_on_the_built_in_local_target(write_runbook):
    book = load_runbook(write_runbook(MINIMAL))
    assert dict(book.targets) == {}
    assert book.target("local") == model.LOCAL_TARGET
    assert book.ssh == model.SshSettings()
    assert (book.t0, book.gate, book.prometheus_url) == (None, None, None)
    assert (book.secrets, book.notify, book.guards, book.rollback) == ((), (), (), ())


def test_target_defaults(write_runbook):
    book = load_runbook(
        write_runbook(
            """
            version: 1
            name: Defaults
            targets:
              api: {hosts: [app1, app2]}
            steps:
              - {id: deploy, at: T-10m, run: ./deploy.sh, on: api}
            """
        )
    )
    api = book.target("api")
    assert api.transport == "ssh"
    assert (api.user, api.port) == (None, None)
    assert api.parallel == 10
    assert api.max_fail == model.MaxFail(count=0)
    assert api.max_fail.allowed(2) == 0


def test_guard_and_criterion_defaults(write_runbook):
    book = load_runbook(
        write_runbook(
            """
            version: 1
            name: Defaults
            prometheus: {url: "http://127.0.0.1:9090"}
            steps:
              - id: health
                at: T-5m
                check:
                  - http: http://127.0.0.1:8000/health
                  - command: ./smoke.sh
                  - {prometheus: sum(up), expect: "> 0"}
            guards:
              - {id: errors, prometheus: sum(up), breach: "< 1"}
            rollback:
              - {id: undo, run: ./undo.sh}
            """
        )
    )
    (guard,) = book.guards
    assert guard.every == timedelta(seconds=15)
    assert guard.hold == timedelta(0)
    assert guard.during is None
    assert guard.then is model.GuardAction.ROLLBACK
    assert guard.inconclusive_limit == 3
    http, command, prometheus = book.step("health").check
    assert (http.status, http.body_contains, http.on) == (None, None, None)
    assert http.poll == model.Poll(within=None, every=timedelta(seconds=5))
    assert http.timeout == timedelta(seconds=10)
    assert (command.on, command.exit, command.timeout) == ("local", 0, timedelta(seconds=60))
    assert prometheus.timeout == timedelta(seconds=10)
    (undo,) = book.rollback
    assert (undo.if_started, undo.retries, undo.retry_delay) == (None, 0, timedelta(seconds=5))
    assert undo.on == "local"


def test_max_fail_accepts_a_percentage(write_runbook):
    book = load_runbook(
        write_runbook(
            """
            version: 1
            name: Percent
            targets:
              api: {hosts: [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10], max_fail: "20%"}
            steps:
              - {id: deploy, at: T-10m, run: ./deploy.sh, on: api}
            """
        )
    )
    max_fail = book.target("api").max_fail
    assert max_fail == model.MaxFail(count=None, percent=20.0)
    assert max_fail.allowed(10) == 2


# --- YAML details -----------------------------------------------------------------------


def test_on_key_is_read_as_the_string_on_not_yaml_1_1_true(write_runbook):
    book = load_runbook(
        write_runbook(
            """
            version: 1
            name: On key
            targets:
              api: {hosts: [app1]}
            steps:
              - id: deploy
                at: T-10m
                run: ./deploy.sh
                on: api
                check:
                  - {command: ./smoke.sh, on: api}
            rollback:
              - {id: undo, run: ./undo.sh, on: api}
            """
        )
    )
    step = book.step("deploy")
    assert step.on == "api"
    assert step.check[0].on == "api"
    assert book.rollback[0].on == "api"


def test_merge_keys_copy_fields_and_explicit_keys_win(write_runbook):
    book = load_runbook(
        write_runbook(
            """
            version: 1
            name: Merge keys
            targets:
              api: {hosts: [app1]}
            steps:
              - &deploy {id: deploy-a, at: T-10m, run: ./deploy.sh a, on: api, timeout: 3m}
              - <<: *deploy
                id: deploy-b
                run: ./deploy.sh b
              - <<: [*deploy, {on_failure: ask}]
                id: deploy-c
                at: T-5m
            """
        )
    )
    a, b, c = book.steps
    assert (b.on, b.timeout, b.at, b.run) == ("api", timedelta(minutes=3), a.at, "./deploy.sh b")
    assert (c.run, c.at, c.on_failure) == (
        "./deploy.sh a",
        timedelta(minutes=-5),
        model.OnFailure.ASK,
    )


# --- --var and --targets ----------------------------------------------------------------

USES_UNDEFINED_NAME = """
version: 1
name: Var overrides
vars: {release: v1.4.0}
steps:
  - {id: deploy, at: T-10m, run: "./deploy.sh {{ release }} {{ region }}"}
"""


def test_var_override_may_add_a_name_the_file_does_not_define(write_runbook):
    path = write_runbook(USES_UNDEFINED_NAME)
    book = load_runbook(path, {"region": "eu-west-1"})
    assert dict(book.vars) == {"release": "v1.4.0", "region": "eu-west-1"}


def test_var_override_replaces_a_value_from_the_file(write_runbook):
    book = load_runbook(write_runbook(USES_UNDEFINED_NAME), {"region": "x", "release": "v2"})
    assert book.vars["release"] == "v2"


def test_name_neither_in_vars_nor_overrides_is_refused(write_runbook):
    with pytest.raises(ValidationFailed) as failure:
        load_runbook(write_runbook(USES_UNDEFINED_NAME))
    assert _messages(failure) == [
        "5:34: steps[0].run: unknown name '{{ region }}' (define it under vars or pass --var region=...)"
    ]


WITH_PRODUCTION_TARGETS = """
version: 1
name: Targets file
targets:
  api: {hosts: [app1, app2, app3], user: deploy, parallel: 2}
steps:
  - {id: deploy, at: T-10m, run: ./deploy.sh, on: api}
"""


def test_targets_file_replaces_the_runbook_targets(write_runbook):
    runbook = write_runbook(WITH_PRODUCTION_TARGETS)
    staging = write_runbook(
        """
        targets:
          api: {hosts: [staging1], user: stage}
          db: {hosts: [staging-db]}
        """,
        name="staging.yaml",
    )
    book = load_runbook(runbook, None, staging)
    assert sorted(book.targets) == ["api", "db"]
    api = book.target("api")
    assert (api.hosts, api.user, api.parallel) == (("staging1",), "stage", 10)


def test_targets_file_problems_name_the_targets_file(write_runbook):
    runbook = write_runbook(WITH_PRODUCTION_TARGETS)
    staging = write_runbook(
        """
        targets:
          api: {hosts: [staging1], paralel: 2}
          db: {transport: ssh}
        """,
        name="staging.yaml",
    )
    with pytest.raises(ValidationFailed) as failure:
        load_runbook(runbook, None, staging)
    assert {d.file for d in failure.value.diagnostics} == {str(staging)}
    assert _messages(failure) == [
        "2:28: targets.api.paralel: unknown key 'paralel' (did you mean 'parallel'?)",
        "3:7: targets.db: an ssh target needs 'hosts'",
    ]


def test_targets_file_without_targets_key_is_refused(write_runbook):
    runbook = write_runbook(WITH_PRODUCTION_TARGETS)
    staging = write_runbook("api: {hosts: [staging1]}\n", name="staging.yaml")
    with pytest.raises(ValidationFailed) as failure:
        load_runbook(runbook, None, staging)
    assert {d.file for d in failure.value.diagnostics} == {str(staging)}
    assert _messages(failure) == [
        "1:1: api: unknown key 'api'",
        "1:1: targets file: missing required key 'targets'",
    ]


def test_step_target_missing_from_the_targets_file_is_reported_in_the_runbook(write_runbook):
    runbook = write_runbook(WITH_PRODUCTION_TARGETS)
    staging = write_runbook("targets:\n  web: {hosts: [staging1]}\n", name="staging.yaml")
    with pytest.raises(ValidationFailed) as failure:
        load_runbook(runbook, None, staging)
    assert [str(d) for d in failure.value.diagnostics] == [
        f"{runbook}:6:51: steps[0].on: unknown target 'api' (known: local, web)"
    ]


# --- the shipped example and the schema -------------------------------------------------


def test_shipped_example_validates(cli):
    result = cli("validate", REPO / "examples" / "launch.yaml")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ok: 11 steps, 5 guards, 4 rollback steps, 2 roll-forward steps\n"


def test_spec_example_validates_through_the_cli(write_runbook, cli):
    result = cli("validate", write_runbook(SPEC_EXAMPLE))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ok: 5 steps, 2 guards, 3 rollback steps\n"


def test_schema_prints_a_json_schema_of_the_runbook(cli):
    result = cli("schema")
    assert result.exit_code == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "steps" in schema["properties"]
    assert schema["properties"]["steps"]["type"] == "array"
    assert set(schema["required"]) == {"version", "name", "steps"}
    step = schema["properties"]["steps"]["items"]
    assert {"id", "at", "run", "on", "check", "on_failure"} <= set(step["properties"])
    assert step["additionalProperties"] is False


def test_after_names_an_earlier_step(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: After
        prometheus: {url: "http://127.0.0.1:9090"}
        steps:
          - {id: check, at: T+0, check: [{prometheus: "up", expect: "> 0", after: deploy}]}
          - {id: deploy, at: T+1m, run: "true"}
        guards:
          - {id: g, prometheus: "up", breach: "< 1", after: nosuch}
        """
    )
    result = cli("validate", runbook)
    assert result.exit_code == 2
    assert (
        "steps[0].check[0].after: 'deploy' runs after this check's own step 'check'"
        in result.stderr
    )
    assert "guards[0].after: no launch step with id 'nosuch'" in result.stderr
