"""``parse_range``: any shape that is not one clean matrix series is a reason, never an exception;
unreadable points stay in the series as inconclusive samples."""

from __future__ import annotations

import pytest

from steps.prometheus import parse_range


def _matrix(result) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


@pytest.mark.parametrize(
    "payload,reason",
    [
        ([], "not a Prometheus answer"),
        (None, "not a Prometheus answer"),
        ("x", "not a Prometheus answer"),
        ({"status": "error", "error": "parse error at char 3"}, "query error: parse error"),
        ({"status": "success", "data": 5}, "'data' is int"),
        (
            {"status": "success", "data": {"resultType": "vector", "result": []}},
            "expected a matrix",
        ),
        (_matrix({"a": 1}), "malformed matrix"),
        (_matrix([{"values": []}, {"values": []}]), "2 series; aggregate"),
        (_matrix([{"values": "no"}]), "'values' is a string"),
        (_matrix([{"values": [[1, "1"], "x"]}]), "malformed point"),
        (_matrix([{"values": [["soon", "1"]]}]), "malformed point"),
        (_matrix([{"values": [[float("inf"), "1"]]}]), "malformed point"),
        (_matrix(["x"]), "'values' is null"),
    ],
)
def test_a_range_answer_that_is_not_one_series_is_a_reason(payload, reason):
    reading = parse_range(payload, 200)
    assert reading.points is None and reason in reading.problem


def test_unreadable_points_stay_as_inconclusive_samples_and_points_are_sorted():
    reading = parse_range(_matrix([{"values": [[20, "NaN"], [10, "0.5"], [30, {"x": 1}]]}]))
    assert [(p[0].timestamp(), p[1]) for p in reading.points] == [(10, 0.5), (20, None), (30, None)]
    assert "NaN" in reading.points[1][2] and "unreadable" in reading.points[2][2]


def test_an_empty_matrix_is_a_clean_answer_without_data():
    assert parse_range(_matrix([])).points == ()
