"""Thresholds relative to the baseline (``"> 1.5x baseline"``, ``"> baseline + 0.01"``): parsed,
written back, and judged only once a baseline is known; a baseline of 0 under a factor never
passes or fails anything."""

from __future__ import annotations

import math

import pytest

from runbook.comparison import FACTOR, OFFSET, Comparison, parse_comparison

PARSED = [
    ("> 1.5x baseline", Comparison(">", 1.5, FACTOR), "> 1.5x baseline"),
    (">1.5X baseline", Comparison(">", 1.5, FACTOR), "> 1.5x baseline"),
    ("> 2 × baseline", Comparison(">", 2.0, FACTOR), "> 2x baseline"),
    ("< 0.8 * baseline", Comparison("<", 0.8, FACTOR), "< 0.8x baseline"),
    ("> baseline + 0.01", Comparison(">", 0.01, OFFSET), "> baseline + 0.01"),
    ("> baseline+0.01", Comparison(">", 0.01, OFFSET), "> baseline + 0.01"),
    ("< baseline - 5", Comparison("<", -5.0, OFFSET), "< baseline - 5"),
    (">= baseline", Comparison(">=", 0.0, OFFSET), ">= baseline"),
    ("> 3", Comparison(">", 3.0), "> 3"),
]


@pytest.mark.parametrize(("text", "expected", "written"), PARSED, ids=repr)
def test_relative_thresholds_parse_and_write_back(text, expected, written):
    parsed = parse_comparison(text)
    assert parsed == expected
    assert str(parsed) == written
    assert parse_comparison(written) == parsed


REFUSED = [
    ("> 0x baseline", "a factor of 0"),
    ("> -2x baseline", "a factor of -2"),
    ("> 1.5x", "invalid threshold"),
    ("> 1.5x baselines", "invalid threshold"),
    ("> baseline * 2", "invalid threshold"),
    ("> baseline + ", "invalid threshold"),
    ("> 1e400x baseline", "out of range"),
]


@pytest.mark.parametrize(("text", "says"), REFUSED, ids=repr)
def test_malformed_relative_thresholds_are_refused_with_a_reason(text, says):
    with pytest.raises(ValueError, match=says):
        parse_comparison(text)


JUDGED = [
    # threshold, value, baseline, holds
    ("> 1.5x baseline", 0.9, 0.2, True),
    ("> 1.5x baseline", 0.25, 0.2, False),
    ("> 1.5x baseline", 0.3, 0.2, False),  # the limit itself is not above it
    ("> baseline + 0.01", 0.02, 0.005, True),
    ("> baseline + 0.01", 0.01, 0.005, False),
    ("< baseline - 5", 90, 100, True),
    ("> baseline + 0.01", 0.5, 0.0, True),  # an offset works from a baseline of 0
    ("> 1.5x baseline", 0.9, None, None),  # not measured (or no data): inconclusive
    ("> 1.5x baseline", 0.9, math.nan, None),
    ("> 1.5x baseline", 0.9, 0.0, None),  # a factor of 0: nothing to compare with
    ("> 1.5x baseline", math.nan, 0.2, None),
    ("> 3", 4.0, None, True),  # a fixed threshold needs no baseline
]


@pytest.mark.parametrize(("threshold", "value", "baseline", "expected"), JUDGED, ids=repr)
def test_a_relative_threshold_is_judged_against_its_measured_baseline(
    threshold, value, baseline, expected
):
    assert parse_comparison(threshold).holds(value, baseline) is expected


def test_the_limit_and_the_words_people_read():
    factor = parse_comparison("> 1.5x baseline")
    assert factor.limit(0.2) == pytest.approx(0.3)
    assert factor.words() == "> 1.5 × baseline"
    assert factor.describe() == "> 1.5x baseline"
    assert factor.describe(0.2) == "> 1.5x baseline (baseline 0.2: limit 0.3)"
    fixed, why = factor.against(0.0)
    assert fixed is None and "the baseline is 0" in why and "baseline + 0.01" in why
    assert parse_comparison("> baseline + 0.01").against(0.0) == (Comparison(">", 0.01), "")
