"""``${NAME}`` is expanded in the runbook's own text only, never inside a filled value, and a
partly filled template renders later to exactly the text the values spell."""

from __future__ import annotations

import pytest

from runbook.templating import expand_secrets, fill_template, render

ENVIRON = {"DB_PASS": "s3cret", "HOME": "/home/op"}


def test_a_secret_reference_in_the_runbook_text_is_expanded():
    assert render("postgres://app:${DB_PASS}@db/{{ name }}", {"name": "x"}, ENVIRON) == (
        "postgres://app:s3cret@db/x"
    )


@pytest.mark.parametrize("value", ["${HOME}", "${DB_PASS}", "${UNSET_NAME}", "$", "{", "{{ x }}"])
def test_a_secret_reference_inside_a_value_stays_text(value):
    assert render("v={{ v }}", {"v": value}, ENVIRON) == f"v={value}"


def test_an_unset_secret_stays_a_reference_for_dry_runs():
    assert render("${NOT_SET_ANYWHERE}", {}, ENVIRON) == "${NOT_SET_ANYWHERE}"


@pytest.mark.parametrize(
    "value", ["plain", "${DB_PASS}", "a{{ host }}b", "{", "{{", "}}", '{{ "{{" }}', "$", "$$"]
)
def test_a_filled_template_renders_to_the_value_and_keeps_runtime_names(value):
    template = fill_template(
        "{{ v }}|{{ host }}|${DB_PASS}|{{ '{{' }}", {"v": value}, {"host"}, secret_refs=True
    )
    assert render(template, {"host": "app1"}, ENVIRON) == f"{value}|app1|s3cret|{{{{"
    assert (
        expand_secrets(fill_template("{{ v }}", {"v": value}, secret_refs=True), ENVIRON) == value
    )
