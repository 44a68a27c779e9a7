"""Table-driven tests for the runbook's pure pieces: durations and T-offsets, thresholds,
templating (with shell quoting that a hostile value cannot escape) and max_fail."""

from __future__ import annotations

import math
import re
import subprocess
from datetime import timedelta

import pytest

from runbook.comparison import Comparison, parse_comparison
from runbook.durations import format_duration, format_offset, parse_duration, parse_offset
from runbook.model import MaxFail
from runbook.shell.template import UnprovenValue, render_shell_command
from runbook.templating import (
    Placeholder,
    TemplateError,
    parse_template,
    render,
    template_names,
)

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)

# --- durations --------------------------------------------------------------------------

VALID_DURATIONS = [
    ("30s", 30 * S),
    ("10sec", 10 * S),
    ("15m", 15 * M),
    ("15min", 15 * M),
    ("1h30m", 90 * M),
    ("1h 30m", 90 * M),
    (" 2h ", 2 * H),
    ("1.5h", 90 * M),
    ("500ms", timedelta(milliseconds=500)),
    ("2d", timedelta(days=2)),
    ("30d", timedelta(days=30)),
    ("0", timedelta(0)),
    ("0s", timedelta(0)),
    (90, 90 * S),
    (1.5, 1.5 * S),
    (0, timedelta(0)),
]

INVALID_DURATIONS = [
    "",
    "abc",
    "5 minutes",
    "10",
    "-5m",
    "1m30",
    "m",
    "1.2.3s",
    "5x",
    "31d",
    "100000h",
    True,
    -1,
    float("nan"),
    float("inf"),
    2_600_000,
]


@pytest.mark.parametrize(("text", "expected"), VALID_DURATIONS, ids=repr)
def test_parse_duration_accepts(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", INVALID_DURATIONS, ids=repr)
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_invalid_duration_message_shows_the_value_and_the_accepted_forms():
    with pytest.raises(ValueError, match=r"invalid duration '5 minutes' \(use e\.g\. 30s, 15m"):
        parse_duration("5 minutes")


def test_duration_past_30_days_says_it_is_too_long():
    with pytest.raises(ValueError, match=r"duration '31d' is longer than 30 days"):
        parse_duration("31d")


# --- T-offsets --------------------------------------------------------------------------

VALID_OFFSETS = [
    ("T-60m", -60 * M),
    ("T-60min", -60 * M),
    ("T+0", timedelta(0)),
    ("T-0", timedelta(0)),
    ("T", timedelta(0)),
    ("T+1h30m", 90 * M),
    ("T - 5m", -5 * M),
    (" T+15m ", 15 * M),
    ("T+30s", 30 * S),
    ("T+2h", 2 * H),
]

INVALID_OFFSETS = [
    "60m",
    "T-60x",
    "T+",
    "T+-5m",
    "t-5m",
    "T*5m",
    "-T5m",
    "T+31d",
    "T+100000h",
    "",
    60,
    None,
]


@pytest.mark.parametrize(("text", "expected"), VALID_OFFSETS, ids=repr)
def test_parse_offset_accepts(text, expected):
    assert parse_offset(text) == expected


@pytest.mark.parametrize("text", INVALID_OFFSETS, ids=repr)
def test_parse_offset_refuses(text):
    with pytest.raises(ValueError):
        parse_offset(text)


def test_invalid_offset_message_shows_the_value_and_the_accepted_forms():
    with pytest.raises(ValueError, match=r"invalid offset '60m' \(use e\.g\. T-60m, T-60min"):
        parse_offset("60m")


FORMATTED_DURATIONS = [
    (timedelta(0), "0s"),
    (timedelta(milliseconds=250), "250ms"),
    (timedelta(milliseconds=1500), "1.5s"),
    (45 * S, "45s"),
    (61 * S, "1m1s"),
    (15 * M, "15m"),
    (H, "1h"),
    (90 * M, "1h30m"),
    (H + 5 * S, "1h5s"),
    (timedelta(days=2), "48h"),
    (-5 * M, "-5m"),
]

FORMATTED_OFFSETS = [
    (timedelta(0), "T+0"),
    (-60 * M, "T-1h"),
    (-15 * M, "T-15m"),
    (90 * M, "T+1h30m"),
    (30 * S, "T+30s"),
    (timedelta(milliseconds=-500), "T-500ms"),
]


@pytest.mark.parametrize(("delta", "expected"), FORMATTED_DURATIONS, ids=str)
def test_format_duration(delta, expected):
    assert format_duration(delta) == expected


@pytest.mark.parametrize(("delta", "expected"), FORMATTED_OFFSETS, ids=str)
def test_format_offset(delta, expected):
    assert format_offset(delta) == expected


@pytest.mark.parametrize(("text", "offset"), VALID_OFFSETS, ids=repr)
def test_formatted_offset_parses_back_to_the_same_offset(text, offset):
    assert parse_offset(format_offset(offset)) == offset


# --- thresholds -------------------------------------------------------------------------

VALID_THRESHOLDS = [
    ("< 0.001", Comparison("<", 0.001)),
    ("<0.001", Comparison("<", 0.001)),
    ("<= 5", Comparison("<=", 5.0)),
    ("> 0.05", Comparison(">", 0.05)),
    (">= -1", Comparison(">=", -1.0)),
    ("== 0", Comparison("==", 0.0)),
    ("!= 3", Comparison("!=", 3.0)),
    ("> 1e-3", Comparison(">", 0.001)),
    ("> .5", Comparison(">", 0.5)),
    ("> 5.", Comparison(">", 5.0)),
    ("  >  3  ", Comparison(">", 3.0)),
]

INVALID_THRESHOLDS = [
    "about 5",
    "5",
    "= 5",
    "=> 5",
    "<< 5",
    "> ",
    "> five",
    "> nan",
    "> inf",
    "> 1e400",
    "",
    5,
    None,
]


@pytest.mark.parametrize(("text", "expected"), VALID_THRESHOLDS, ids=repr)
def test_parse_comparison_accepts(text, expected):
    assert parse_comparison(text) == expected


@pytest.mark.parametrize("text", INVALID_THRESHOLDS, ids=repr)
def test_parse_comparison_refuses(text):
    with pytest.raises(ValueError):
        parse_comparison(text)


HOLDS = [
    ("< 0.001", 0.0005, True),
    ("< 0.001", 0.001, False),
    ("<= 0.001", 0.001, True),
    ("> 0.05", 0.1, True),
    ("> 0.05", 0.05, False),
    (">= 1", 1, True),
    ("== 0", 0.0, True),
    ("!= 0", 0, False),
    ("> 3", math.inf, True),
    ("< 3", -math.inf, True),
    ("< 3", math.nan, None),
    ("> 3", math.nan, None),
    ("!= 3", math.nan, None),
    ("== 3", None, None),
]


@pytest.mark.parametrize(("threshold", "value", "expected"), HOLDS, ids=repr)
def test_comparison_holds_and_nan_is_no_answer(threshold, value, expected):
    assert parse_comparison(threshold).holds(value) is expected


def test_comparison_reads_back_as_written():
    assert str(parse_comparison("<0.001")) == "< 0.001"
    assert str(parse_comparison(">= 3")) == ">= 3"


# --- templating -------------------------------------------------------------------------

PARSED_TEMPLATES = [
    ("no placeholders here", []),
    ("{{ x }}", [Placeholder(0, 7, "x")]),
    ("{{x}}", [Placeholder(0, 5, "x")]),
    ("a {{ launch.id }}", [Placeholder(2, 17, "launch.id")]),
    ("{{ x | raw }}", [Placeholder(0, 13, "x", raw=True)]),
    ("{{ x|raw }}", [Placeholder(0, 11, "x", raw=True)]),
    ('{{ "{{" }}', [Placeholder(0, 10, None, literal="{{")]),
    ("{{ '}' }}", [Placeholder(0, 9, None, literal="}")]),
    ("{{ a }}-{{ b }}", [Placeholder(0, 7, "a"), Placeholder(8, 15, "b")]),
    ("only }} closing", []),
]

INVALID_TEMPLATES = [
    ("{{ release", 0),
    ("ok {{ a }} then {{ b", 16),
    ("{{ }}", 0),
    ("x {{ a b }}", 2),
    ("{{ x | upper }}", 0),
    ("{{ 1x }}", 0),
    ("{{ {{ x }} }}", 0),
]


@pytest.mark.parametrize(("text", "expected"), PARSED_TEMPLATES, ids=repr)
def test_parse_template(text, expected):
    assert parse_template(text) == expected


@pytest.mark.parametrize(("text", "offset"), INVALID_TEMPLATES, ids=repr)
def test_parse_template_refuses_malformed_placeholders_and_says_where(text, offset):
    with pytest.raises(TemplateError) as failure:
        parse_template(text)
    assert failure.value.offset == offset


def test_template_names_ignore_literals():
    assert template_names('{{ a }} {{ b | raw }} {{ "{{" }} {{ a }}') == {"a", "b"}


def test_render_without_quoting_inserts_values_verbatim():
    values = {"release": "v1.4.0", "reason": "x; rm -rf /"}
    assert render("GO LIVE: {{ release }}", values) == "GO LIVE: v1.4.0"
    assert render("reason: {{ reason }}", values) == "reason: x; rm -rf /"
    assert render("no placeholders", values) == "no placeholders"


HOSTILE_VALUES = [
    "x; rm -rf /",
    "$(id)",
    "`id`",
    "$HOME",
    "it's",
    'say "hi"',
    "two words",
    "a\nb",
    "a && b | c > /tmp/x",
    "*",
    "",
]

PLAIN_VALUES = ["v1.4.0", "app1", "http://127.0.0.1:8000/health", "user@host", "a=b,c%d+e"]


# render_shell_command pastes each value quoted for the place it sits in: whatever the value
# holds, the shell reads back exactly the value, and the text shown is the text that runs.
# Inside single quotes a shell parses the text again, so only a value proven harmless (the
# safe set, or the var's pattern) is filled there; any other is refused.
SHELL_CONTEXTS = [
    ("printf '%s|' {{ v }}", "{}|"),
    ("printf '%s|' \"{{ v }}\"", "{}|"),
    ("printf '%s|' '{{ v }}'", "{}|"),
    ("printf '%s|' \"deploying {{ v }} now\"", "deploying {} now|"),
    ("printf '%s|' 'deploying {{ v }} now'", "deploying {} now|"),
    ("printf '%s|' pre\"{{ v }}\"post", "pre{}post|"),
    ('printf \'%s|\' "a\\"{{ v }}"', 'a"{}|'),
    ("printf '%s|' \\'{{ v }}", "'{}|"),
    ("printf '%s|' '{{ v }}' \"{{ v }}\" {{ v }}", "{0}|{0}|{0}|"),
    ("printf '%s|' \"$(printf %s {{ v }})\"", "{}|"),
    ("printf '%s|' \"$(printf %s '{{ v }}')\"", "{}|"),
    ("printf '%s|' \"`printf %s {{ v }}`\"", "{}|"),
    ("# it's a comment with {{ v }}\nprintf '%s|' {{ v }}", "{}|"),
    ("cat <<EOF\n{{ v }}|\nEOF", "{}|\n"),
    ("cat <<-EOF\n\tpre {{ v }}|\n\tEOF", "pre {}|\n"),
]


def _sh(command: str) -> str:
    result = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=10, check=True
    )
    return result.stdout


@pytest.mark.parametrize(("template", "expected"), SHELL_CONTEXTS, ids=repr)
@pytest.mark.parametrize("value", HOSTILE_VALUES + PLAIN_VALUES, ids=repr)
def test_render_shell_keeps_any_value_inside_the_quoting_it_sits_in(template, expected, value):
    in_single_quotes = "'{{ v }}" in template.replace("\\'{{", "") or "'deploying" in template
    if in_single_quotes and not re.fullmatch(r"[A-Za-z0-9._:/@%+=,-]*", value):
        with pytest.raises(UnprovenValue, match="single quotes"):
            render_shell_command(template, {"v": value})
        return
    if ("cat <<" in template or "#" in template) and "\n" in value:
        with pytest.raises(TemplateError, match="structure"):
            render_shell_command(template, {"v": value})  # it would end the heredoc or comment
        return
    command = render_shell_command(template, {"v": value})
    assert _sh(command.script) == expected.format(value)
    assert command.display == command.script


def test_render_shell_leaves_text_without_placeholders_alone():
    command = render_shell_command("echo \"$HOME\" 'x'", {})
    assert command.script == command.display == "echo \"$HOME\" 'x'"


def test_render_shell_inserts_raw_values_verbatim():
    command = render_shell_command("deploy {{ flags | raw }}", {"flags": "-f $(id)"})
    assert command.script == command.display == "deploy -f $(id)"


def test_render_shell_writes_literal_braces_inside_single_quotes():
    text = "printf '%s|' '{{ \"{{\" }} .State.Status }}' {{ name }}"
    command = render_shell_command(text, {"name": "api 1"})
    assert command.display == "printf '%s|' '{{ .State.Status }}' 'api 1'"
    assert _sh(command.script) == "{{ .State.Status }}|api 1|"


def test_a_placeholder_in_a_quoted_heredoc_is_refused():
    with pytest.raises(TemplateError, match="quoted heredoc"):
        render_shell_command("cat <<'EOF'\n{{ v }}\nEOF", {"v": "x"})


def test_render_of_a_name_without_a_value_raises_key_error():
    with pytest.raises(KeyError):
        render("{{ host }}", {})


# --- max_fail ---------------------------------------------------------------------------

ALLOWED_FAILURES = [
    (MaxFail(), 5, 0),
    (MaxFail(count=0), 5, 0),
    (MaxFail(count=1), 5, 1),
    (MaxFail(count=3), 3, 3),
    (MaxFail(count=None, percent=10), 10, 1),
    (MaxFail(count=None, percent=10), 9, 0),
    (MaxFail(count=None, percent=10), 30, 3),
    (MaxFail(count=None, percent=12.5), 8, 1),
    (MaxFail(count=None, percent=29), 100, 29),
    (MaxFail(count=None, percent=50), 3, 1),
    (MaxFail(count=None, percent=33.3), 3, 0),
    (MaxFail(count=None, percent=33.4), 3, 1),
    (MaxFail(count=None, percent=100), 3, 3),
    (MaxFail(count=None, percent=0), 10, 0),
    (MaxFail(count=None, percent=50), 0, 0),
]


@pytest.mark.parametrize(("max_fail", "hosts", "allowed"), ALLOWED_FAILURES, ids=repr)
def test_max_fail_allowed_counts_and_rounds_percentages_down(max_fail, hosts, allowed):
    assert max_fail.allowed(hosts) == allowed


def test_max_fail_reads_back_as_written():
    assert str(MaxFail(count=2)) == "2"
    assert str(MaxFail(count=None, percent=10)) == "10%"
    assert str(MaxFail(count=None, percent=12.5)) == "12.5%"
