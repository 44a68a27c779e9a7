"""The runbook format reference in Markdown (docs/runbook-format.md): its introduction and
example, then every record, written by ``runbook.schema.reference`` from the same declarations
as the JSON Schema (``document.json_schema``), so the document cannot drift from what
``validate`` accepts.

``launchctl schema --format markdown`` prints it; ``docs/runbook-format.md`` is its output
(a test keeps the two equal).
"""

from __future__ import annotations

from typing import Any

from runbook.model import MILESTONES
from runbook.schema.reference import cell, markdown_reference
from runbook.v1.document import json_schema

INTRO = """\
# The runbook format (v1)

A runbook is one YAML file: the launch as a timeline around go-live (T+0), what checks each
step, which guards watch while their window is open, and what runs when something fails.
`launchctl validate` checks it and reports every problem as `FILE:LINE:COL: message`;
`launchctl schema` prints the JSON Schema that editors use. This reference is generated
from the same declarations (`launchctl schema --format markdown`): every field is here.

```yaml
version: 1
name: Agente Hotelero IA launch
gate: checklist.yaml                   # go/no-go checklist, relative to this file
vars:
  release: v1.4.0
  region: {default: eu-west-1, pattern: "[a-z]+-[a-z]+-[0-9]"}
secrets: [DB_PASSWORD, SLACK_WEBHOOK]
targets:
  api: {hosts: [app1, app2, app3], parallel: 2, max_fail: "10%"}
prometheus: {url: "http://127.0.0.1:9090"}
notify:
  - slack: "${SLACK_WEBHOOK}"
  - {webhook: "https://hooks.example/launch", milestones: [go_live, rollback_started]}
steps:
  - id: migrate
    at: T-15m
    run: alembic upgrade head
    env: {PGPASSWORD: "${DB_PASSWORD}"}
    expect: {exit: 0, stdout_contains: "at head"}
  - id: golive
    at: T+0
    confirm: {question: "Cut traffic over to {{ release }}?", timeout: 10m, on_timeout: pause}
    run: ./scripts/cutover.sh {{ release }}
    on: api
  - id: contract
    at: T+45m
    run: alembic upgrade contract
    irreversible: "drops column legacy_sku"
guards:
  - id: error-rate
    prometheus: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))
    breach: "> 0.05"
    every: 15s
    for: 1m
    during: [T+0, T+30m]
    then: rollback
  - id: p95-vs-normal
    prometheus: histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[1m])) by (le))
    breach: "> 1.5x baseline"          # the same query's average over the baseline window
    baseline: {from: T-30m, to: T-5m}  # measured once, when T-5m passes
    during: [T+0, T+30m]
    then: ask
rollback:
  - id: restore-db
    if_started: migrate
    if_not_started: contract
    run: alembic downgrade -1
roll_forward:
  - id: flag-off
    run: ./scripts/flag.sh new-pricing off
checkpoints:                           # after the launch: launchctl watch / launchctl checkpoint
  check:
    - prometheus: sum(rate(http_requests_total[5m]))
      expect: "> 0.8x baseline"
  schedule:
    - {every: 2h, until: T+24h}        # T+2h, T+4h ... T+24h
    - {every: 4h, until: T+48h}        # T+28h ... T+48h
  review: [T+24h, T+48h]
```

**Templating.** `{{ name }}` works in every string that says so below and takes `vars`,
`--var name=value`, and the built-ins `t0`, `launch.id`, `launch.name`, `step.id`, `host`
(per-host commands and checks), `rollback.reason` and `rollback.trigger` (rollback and
roll-forward steps). Every field is filled once, before anything runs. `${NAME}` names a
listed secret, only where a field says so. Durations: `500ms`, `30s`, `5m`, `1h30m`.
Offsets: `T-60m`, `T-60min`, `T+0`, `T+1h30m`.

**Thresholds.** A comparator and a number (`"< 0.001"`, `"> 3"`), or a number relative to the
*baseline*, the same query's average before go-live: `"> 1.5x baseline"`, `"> baseline + 0.01"`.
The baseline is measured once, when its window's end passes (default T-30m..T-5m), and
journaled (`baseline_measured`); no data for it is inconclusive, never a pass (points at ±Inf
are left out of the average), and a baseline of 0 or below under a factor compares with nothing
(refused at start-up when a late start can see it).
"""


def markdown() -> str:
    """The whole reference, as ``docs/runbook-format.md`` holds it."""
    reference = markdown_reference(json_schema(), INTRO, _type_name)
    return reference + "\n".join(_milestones()) + "\n"


def _milestones() -> list[str]:
    """The messages launchctl sends by itself, for a channel's ``milestones:``."""
    lines = [
        "",
        "## Built-in milestones",
        "",
        "Besides each step's own `notify:` (sent to every channel), launchctl posts these "
        "messages by itself to every `notify` channel, as JSON (`webhook`: `time`, `launch`, "
        "`name`, `milestone`, `step`, `t_offset`, `phase`, `guard`) or Slack blocks. A channel's "
        "`milestones:` lists the ones it wants (`[]` for none, so it gets only the steps' own "
        "messages); without it a channel gets them all. A dry run or a dry drill sends nothing: "
        "its log and record say `would notify`. A runbook need not announce these itself "
        '(a rollback step posting "ROLLBACK INITIATED" would post it twice).',
        "",
        "| milestone | sent when |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {cell(meaning)} |" for name, meaning in MILESTONES.items()]
    return lines


def _type_name(field: dict[str, Any]) -> str | None:
    """Durations and T-offsets by name; every other type as the schema says it."""
    options = field.get("oneOf") or field.get("anyOf") or ()
    if any("ms|sec|min" in option.get("pattern", "") for option in options):
        return "duration"
    if field.get("type") == "string" and field.get("pattern", "").startswith("^T"):
        return "T-offset"
    return None
