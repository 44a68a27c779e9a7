"""Masking by construction: only free-text fields are masked, before anything is cut, across chunk
and line boundaries, in every spelling a secret takes (multi-line, trailing newline, as an HTTP
client rewrites a URL); a secret too short to mask is refused before anything runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import events_of
from hypothesis import given, settings
from hypothesis import strategies as st

from launchctl.journal.catalogue import EVENTS
from launchctl.journal.masking import (
    MASK,
    SecretMasker,
    SecretTooShort,
    masker_for,
    refuse_short_secrets,
)
from steps.http import client_spellings, without_quoted_parts
from steps.shells.output import MAX_LINE, OutputCapture

# -- only free text ----------------------------------------------------------------------------


def test_a_secret_equal_to_a_step_id_masks_the_title_never_the_id():
    masker = SecretMasker(["deploy"])
    event = {
        "ts": "2026-12-01T14:00:00.000Z",
        "event": "step_started",
        "seq": 3,
        "step": "deploy-start",
        "title": "deploy the app",
        "target": "deploy",
        "offset": "T-10m",
    }
    masked = masker.event(EVENTS["step_started"], event)
    assert masked == {**event, "title": "*** the app"}


def test_a_secret_equal_to_the_year_leaves_times_numbers_and_offsets_alone():
    year = str(datetime.now(UTC).year)
    masker = SecretMasker([year])
    event = {
        "ts": f"{year}-12-01T14:00:00.000Z",
        "clock": f"{year}-12-01T14:00:00.000Z",
        "event": "step_finished",
        "seq": int(year),
        "step": f"s{year}",
        "status": "failed",
        "reason": f"exit code 1 in {year}",
        "planned": f"{year}-12-01T14:00:00.000Z",
    }
    masked = masker.event(EVENTS["step_finished"], event)
    assert masked == {**event, "reason": f"exit code 1 in {MASK}"}


def test_nested_records_mask_their_free_text_members_only():
    masker = SecretMasker(["hunter22"])
    plan = [{"step": "hunter22", "title": "rotate hunter22", "planned": "2026-01-01T00:00:00Z"}]
    masked = masker.event(EVENTS["launch_started"], {"event": "launch_started", "plan": plan})
    assert masked["plan"] == [{**plan[0], "title": "rotate ***"}]


def test_free_text_is_masked_before_it_is_cut_to_length():
    secret = "s3cr3t-token-value"
    reason = "x" * 1995 + secret
    masked = SecretMasker([secret]).event(
        EVENTS["step_failed"], {"event": "step_failed", "step": "a", "reason": reason}
    )
    assert masked["reason"].startswith("x" * 1995 + "**")
    assert "s3c" not in masked["reason"]


# -- streams: chunks, lines, the 4,096th character -----------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(alphabet="ab\n -", max_size=60),
    after=st.text(alphabet="ab\n -", max_size=60),
    secret=st.text(alphabet="abc-\n", min_size=4, max_size=12).filter(lambda s: s.strip() == s),
    cuts=st.lists(st.integers(0, 140), max_size=6),
)
def test_stream_masking_equals_masking_the_whole_whatever_the_chunks(before, after, secret, cuts):
    masker = SecretMasker([secret])
    whole = before + secret + after
    stream = masker.stream()
    out = ""
    for start, end in zip([0, *sorted(cuts)], [*sorted(cuts), len(whole)], strict=True):
        out += stream.feed(whole[start:end])
    out += stream.flush()
    assert out == masker.text(whole)
    assert secret not in out


def _capture(secret: str, chunks: list[bytes]) -> OutputCapture:
    lines: list[str] = []
    capture = OutputCapture(lines.append, text_filter=SecretMasker([secret]).stream())
    for chunk in chunks:
        capture.feed(chunk)
    capture.close()
    return capture


@pytest.mark.parametrize("offset", [MAX_LINE - 8, MAX_LINE - 1, MAX_LINE, MAX_LINE + 5])
def test_a_secret_at_the_cut_of_a_long_line_is_masked_not_halved(offset):
    secret = "topsecret-value-123"
    data = ("x" * offset + secret + "y" * 50 + "\n").encode()
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    capture = _capture(secret, chunks)
    shown = "\n".join(capture.tail) + capture.text
    assert "tops" not in shown and "123" not in shown.replace("x", "")


def test_a_multi_line_secret_is_masked_whole_and_line_by_line():
    pem = "-----BEGIN KEY-----\nMIIEabcdefghijkl\nQRSTuvwxyz012345\n-----END KEY-----"
    whole = _capture(pem, [(pem + "\n").encode()])
    part = _capture(pem, [b"key starts with: MIIEabcdefghijkl\n"])
    assert "MIIE" not in "\n".join(whole.tail) and "QRST" not in whole.text
    assert part.tail == ("key starts with: ***",)


def test_a_secret_given_with_a_trailing_newline_is_masked_without_it():
    masker = SecretMasker(["hunter22-pw\n"])
    assert masker.text("password=hunter22-pw;") == "password=***;"


# -- the forms a URL takes once a client normalizes it -------------------------------------------


def test_a_secret_url_is_masked_as_httpx_rewrites_it():
    secret = "http://LOCALHOST:80/Hook Token/abc"
    masker = SecretMasker([secret], url_forms=client_spellings)
    assert masker.text("POST http://localhost/Hook%20Token/abc failed") == "POST *** failed"
    assert masker.text(f"given {secret}") == "given ***"


def test_a_secret_inside_url_userinfo_is_masked_percent_encoded():
    masker = SecretMasker(["p@ss w0rd!"], url_forms=client_spellings)
    assert masker.text("http://deploy:p%40ss%20w0rd%21@host/") == "http://deploy:***@host/"


def test_a_host_name_secret_is_masked_in_the_case_a_client_writes_it():
    masker = SecretMasker(["Hush-Hush-Host.invalid"])
    assert masker.text("cannot resolve hush-hush-host.invalid: no") == "cannot resolve ***: no"


def test_an_invalid_url_error_does_not_quote_pieces_of_the_url():
    text = "Invalid port: 'w0rd@host'"
    assert without_quoted_parts(text) == "Invalid port: (…)"


# -- too short to mask ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "ab", "123", " 12 \n"])
def test_a_secret_too_short_to_mask_is_refused_saying_why(value):
    with pytest.raises(SecretTooShort, match="PIN is .* at least 4"):
        refuse_short_secrets({"PIN": value})


def test_four_characters_are_enough():
    assert masker_for(["PIN"], {"PIN": "1234"}).text("pin 1234") == "pin ***"


SHORT = """
version: 1
name: Short
secrets: [PIN]
steps:
  - {id: a, at: T+0, run: "touch ran", env: {P: "${PIN}"}}
"""


@pytest.mark.parametrize("command", [("run", "--no-wait"), ("drill", "--fail-at", "a", "--live")])
def test_the_cli_refuses_a_short_secret_before_anything_runs(write_runbook, cli, workdir, command):
    runbook = write_runbook(SHORT + "rollback:\n  - {id: r, run: 'true'}\n")
    result = cli(command[0], runbook, *command[1:], env={"PIN": "12"})
    assert result.exit_code == 2
    assert (
        result.stderr.strip().splitlines()
        == [
            result.stderr.strip(),
        ]
        and "secret PIN is 2 character(s) long" in result.stderr
    )
    assert not (workdir / "ran").exists() and not (workdir / ".launchctl").exists()


# -- reproduced through the CLI --------------------------------------------------------------------

DEPLOY = """
version: 1
name: Deploy
secrets: [DB_USER]
steps:
  - {id: deploy-start, at: T+0, run: 'echo started >> ran.log', env: {U: "${DB_USER}"}}
  - id: deploy-finish
    at: T+0
    confirm: Finish the deploy?
    run: 'echo finished >> ran.log'
rollback:
  - {id: undo-deploy, if_started: deploy-start, run: 'echo undone >> ran.log'}
"""


def test_a_secret_equal_to_part_of_a_step_id_leaves_the_journal_resumable(
    write_runbook, cli, workdir
):
    env = {"DB_USER": "deploy"}
    runbook = write_runbook(DEPLOY)
    paused = cli("run", runbook, "--no-wait", env=env)
    assert paused.exit_code == 5, paused.stderr
    started = events_of(paused.events, "step_finished")
    assert [e["step"] for e in started] == ["deploy-start"]
    assert '"step":"***' not in (paused.journal_dir / "journal.jsonl").read_text()
    assert paused.events[0]["steps"] == ["deploy-start", "deploy-finish"]
    status = cli("status", paused.journal_dir, "--format", "json", env=env)
    assert [s["step"] for s in json.loads(status.stdout)["steps"]] == [
        "deploy-start",
        "deploy-finish",
    ]
    resumed = cli("resume", paused.journal_dir, "--yes", env=env)
    assert resumed.exit_code == 0, resumed.stderr
    assert (workdir / "ran.log").read_text().split() == ["started", "finished"]


def test_a_second_terminal_rollback_undoes_a_step_whose_id_holds_the_secret(
    write_runbook, cli, workdir
):
    env = {"DB_USER": "deploy"}
    paused = cli("run", write_runbook(DEPLOY), "--no-wait", env=env)
    assert paused.exit_code == 5
    rolled = cli("rollback", paused.journal_dir, "--reason", "deploy went wrong", env=env)
    assert rolled.exit_code == 0, rolled.stderr
    assert (workdir / "ran.log").read_text().split() == ["started", "undone"]
    reason = events_of(rolled.events, "rollback_started")[0]["reason"]
    assert reason == "*** went wrong"


def test_a_secret_equal_to_the_current_year_leaves_the_journal_readable(write_runbook, cli):
    year = str(datetime.now(UTC).year)
    runbook = write_runbook(DEPLOY)
    result = cli("run", runbook, "--no-wait", "--yes", env={"DB_USER": year})
    assert result.exit_code == 0, result.stderr
    assert all(e["ts"].startswith(year) for e in result.events)
    report = json.loads(cli("report", result.journal_dir, "--format", "json").stdout)
    assert report["outcome"] == "completed" and report["started"].startswith(year)
    assert cli("status", result.journal_dir).exit_code == 0


def test_a_secret_past_the_4096th_character_never_reaches_the_journal(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Long
        secrets: [TOKEN]
        steps:
          - id: a
            at: T+0
            run: 'printf "%04090d%s tail\\n" 0 "$T"; exit 1'
            env: {T: "${TOKEN}"}
        """
    )
    result = cli("run", runbook, "--no-wait", env={"TOKEN": "tok-abcdefghij"})
    journal = (result.journal_dir / "journal.jsonl").read_text()
    assert "tok-" not in journal and "tok-" not in result.stdout + result.stderr
    tail = events_of(result.events, "command_finished")[0]["tail"]
    assert tail[0].startswith("0" * 4090 + "**")


def test_a_notification_error_with_the_host_lower_cased_is_masked(write_runbook, cli):
    runbook = write_runbook(
        """
        version: 1
        name: Notify
        secrets: [HOOK_HOST]
        notify:
          - webhook: "http://${HOOK_HOST}/hook"
        steps:
          - {id: a, at: T+0, run: "true"}
        """
    )
    result = cli("run", runbook, "--no-wait", env={"HOOK_HOST": "Hush-Hush-Host.invalid"})
    assert result.exit_code == 0
    failures = events_of(result.events, "notification_failed")
    assert failures and all("***" in e["error"] for e in failures)
    journal = (result.journal_dir / "journal.jsonl").read_text().lower()
    assert "hush-hush" not in journal
