"""``@value`` behaves as ``@dataclass(frozen=True)`` does (runbook/values.py says why it exists)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from runbook import model
from runbook.values import value


def _declare(decorator):
    @decorator
    class Point:
        x: int
        y: float = 0.0
        tags: tuple[str, ...] = ()
        note: str = dataclasses.field(default="", compare=False)
        cache: dict = dataclasses.field(default_factory=dict, hash=False, repr=False)

    return Point


Reference = _declare(dataclasses.dataclass(frozen=True))
Value = _declare(value)
NAN = float("nan")
SAMPLES = [
    ((1,), (1,)),
    ((1, 2.0), (1, 2.0)),
    ((1, 2.0), (1, 3.0)),
    ((1, 2.0, ("a",), "n1"), (1, 2.0, ("a",), "n2")),  # note is not compared
    ((1, NAN), (1, NAN)),  # the same NaN object: equal inside a tuple, as for dataclasses
    ((1, 2.0, (), "", {"k": 1}), (1, 2.0, (), "", {"k": 2})),  # cache: compared, not hashed
]


@pytest.mark.parametrize("a,b", SAMPLES)
def test_equality_hash_and_repr_are_the_dataclass_ones(a, b):
    ref_a, ref_b, val_a, val_b = Reference(*a), Reference(*b), Value(*a), Value(*b)
    assert (val_a == val_b) == (ref_a == ref_b)
    assert (val_a != val_b) == (ref_a != ref_b)
    assert repr(val_a) == repr(ref_a)
    assert hash(val_a) == hash(ref_a)
    assert val_a.__eq__(ref_a) is NotImplemented


def test_order_as_a_dataclass_orders():
    ordered_ref = dataclasses.dataclass(frozen=True, order=True)
    ordered_val = value(order=True)

    def declare(decorator):
        @decorator
        class Mark:
            line: int
            column: int
            note: str = dataclasses.field(default="", compare=False)

        return Mark

    Ref, Val = declare(ordered_ref), declare(ordered_val)
    pairs = [((1, 2), (1, 3)), ((2, 1), (1, 9)), ((1, 1, "a"), (1, 1, "b"))]
    for a, b in pairs:
        for op in ("__lt__", "__le__", "__gt__", "__ge__"):
            assert getattr(Val(*a), op)(Val(*b)) == getattr(Ref(*a), op)(Ref(*b))
        assert Val(*a).__lt__(Ref(*b)) is NotImplemented
    assert sorted([Val(3, 1), Val(1, 2), Val(1, 1)]) == [Val(1, 1), Val(1, 2), Val(3, 1)]


def test_frozen_as_a_dataclass_is():
    point = Value(1)
    for name in ("x", "cache", "other"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(point, name, 2)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(point, name)
    assert point.x == 1


def test_the_dataclass_helpers_work_on_it():
    point = Value(1, 2.0, ("a",), "n", {"k": 1})
    assert dataclasses.is_dataclass(point)
    assert [f.name for f in dataclasses.fields(point)] == ["x", "y", "tags", "note", "cache"]
    assert dataclasses.replace(point, x=5) == Value(5, 2.0, ("a",), "n", {"k": 1})
    assert copy.deepcopy(point) == point
    assert dataclasses.asdict(point)["tags"] == ("a",)


def test_the_model_is_made_of_values():
    step = model.Step(id="migrate", run="true")
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.run = "false"  # type: ignore[misc]
    assert step == model.Step(id="migrate", run="true")
    assert hash(step) == hash(model.Step(id="migrate", run="true"))
    assert repr(step).startswith("Step(id='migrate', name=None, run='true', on='local'")
    assert pickle.loads(pickle.dumps(step)) == step


def test_construction_takes_what_the_dataclass_takes_and_refuses_what_it_refuses():
    for args, kwargs in [((1,), {}), ((1, 2.0), {"tags": ("a",)}), ((), {"x": 1, "note": "n"})]:
        assert repr(Value(*args, **kwargs)) == repr(Reference(*args, **kwargs))
    assert Value(1).cache == {} and Value(1).cache is not Value(1).cache  # a fresh default
    for args, kwargs in [
        ((), {}),
        ((1, 2.0, (), "", {}, 9), {}),
        ((1,), {"x": 2}),
        ((1,), {"z": 0}),
    ]:
        with pytest.raises(TypeError):
            Reference(*args, **kwargs)
        with pytest.raises(TypeError):
            Value(*args, **kwargs)
    assert dataclasses.replace(Value(1), y=5.0) == Value(1, 5.0)
