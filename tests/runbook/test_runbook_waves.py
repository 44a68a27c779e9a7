"""Wave arithmetic, table-driven: cumulative sizes against a target's hosts, in the target's order."""

from __future__ import annotations

import pytest

from runbook.model import WaveSize
from runbook.waves import WaveProblem, describe_waves, split_into_waves


def sizes(*written: str | int) -> tuple[WaveSize, ...]:
    return tuple(
        WaveSize(percent=float(w[:-1])) if isinstance(w, str) else WaveSize(count=w)
        for w in written
    )


def hosts(count: int) -> tuple[str, ...]:
    return tuple(f"h{i}" for i in range(1, count + 1))


@pytest.mark.parametrize(
    "count,written,expected",
    [
        (20, (1, "25%", "100%"), [1, 4, 15]),
        (100, (1, "10%", "100%"), [1, 9, 90]),
        (100, (1, "10%", "50%", "100%"), [1, 9, 40, 50]),
        (10, (1, "25%", "100%"), [1, 2, 7]),  # 25% of 10 rounds up to 3 hosts done
        (3, (1, "10%", "100%"), [1, 1, 1]),  # a percentage is always one host more
        (3, (1, 2, 3, "50%", "100%"), [1, 1, 1]),  # nothing left: later waves are dropped
        (5, ("100%",), [5]),
        (4, (2, 4), [2, 2]),
        (20, ("10%", 5, "100%"), [2, 3, 15]),
    ],
)
def test_waves_split_the_hosts_cumulatively_in_order(count, written, expected):
    batches = split_into_waves(hosts(count), sizes(*written))
    assert [len(batch) for batch in batches] == expected
    assert [h for batch in batches for h in batch] == list(hosts(count))


@pytest.mark.parametrize(
    "count,written,index,message",
    [
        (4, (0, "100%"), 0, "a wave of 0 hosts adds no hosts"),
        (4, (1, "0%", "100%"), 1, "a wave of 0% adds no hosts"),
        (4, (1, "150%"), 1, "150% is over 100%"),
        (4, (2, 1, "100%"), 1, "1 is not more than 2 before it"),
        (4, ("50%", "20%", "100%"), 1, "20% is not more than 50% before it"),
        (4, (1, "50%"), 1, "50% ends short of 100%"),
        (4, ("100%", 4), 1, "comes after 100%"),
        (4, (5, "100%"), 0, "asks for 5 hosts; the target has 4"),
        (4, (1, 3), 1, "the waves reach 3 of the 4 hosts"),
        (100, ("10%", 5, "100%"), 1, "5 is not more than the 10 hosts"),
    ],
)
def test_sizes_that_do_not_add_up_name_the_wave_at_fault(count, written, index, message):
    with pytest.raises(WaveProblem) as problem:
        split_into_waves(hosts(count), sizes(*written))
    assert problem.value.index == index
    assert message in problem.value.message


def test_waves_describe_themselves_for_plans():
    assert describe_waves([("a",), ("b", "c")]) == "2 waves: 1, 2 hosts"
