"""``@value``: a frozen dataclass whose methods are shared by every class instead of compiled for each.

The model and the values around it are some forty frozen dataclasses, and
Python 3.11 generates and compiles six methods for each one when it is
imported: a fifth of ``launchctl validate``. ``@value`` asks ``dataclass`` only
for the fields (``fields()``, ``replace()`` and ``asdict()`` work as usual) and
gives every class the same ``__init__``, ``==``, ``hash()``, ``repr()``,
``__setattr__`` and ``__delattr__`` below, which
behave as the generated ones do: the fields in order, each field's
``compare``, ``hash`` and ``repr`` honoured, ``NotImplemented`` against another
class, and ``FrozenInstanceError`` for any assignment or deletion once
``__init__`` has set the fields (``tests/runbook/test_values.py`` holds them to it).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def value(cls: type[_T] | None = None, *, order: bool = False) -> Any:
    """Use as ``@dataclass(frozen=True)`` is used (fields, defaults, ``field(...)``, ``replace``);
    ``@value(order=True)`` adds ``<``, ``<=``, ``>``, ``>=`` as ``order=True`` does."""
    if cls is None:
        return lambda cls: value(cls, order=order)
    cls = dataclasses.dataclass(init=False, eq=False, repr=False)(cls)
    fields = dataclasses.fields(cls)
    cls.__init__ = _init_for(cls, fields)  # type: ignore[misc]
    cls._compared = tuple(f.name for f in fields if f.compare)  # type: ignore[attr-defined]
    cls._hashed = tuple(  # type: ignore[attr-defined]
        f.name for f in fields if (f.compare if f.hash is None else f.hash)
    )
    cls._shown = tuple(f.name for f in fields if f.repr)  # type: ignore[attr-defined]
    cls._fields = frozenset(f.name for f in fields)  # type: ignore[attr-defined]
    cls.__eq__ = _eq  # type: ignore[assignment,method-assign]
    cls.__hash__ = _hash  # type: ignore[assignment,method-assign]
    cls.__repr__ = _repr  # type: ignore[assignment,method-assign]
    cls.__setattr__ = _setattr  # type: ignore[assignment,method-assign]
    cls.__delattr__ = _delattr  # type: ignore[assignment,method-assign]
    if order:
        cls.__lt__ = _ordering(operator.lt)  # type: ignore[operator]
        cls.__le__ = _ordering(operator.le)  # type: ignore[operator]
        cls.__gt__ = _ordering(operator.gt)  # type: ignore[operator]
        cls.__ge__ = _ordering(operator.ge)  # type: ignore[operator]
    return cls


def _init_for(cls: type, fields: tuple[dataclasses.Field, ...]) -> Callable[..., None]:
    """One ``__init__`` for every class, reading its fields: the generated one is compiled per
    class (about half of what ``dataclass`` costs at import). Positional and keyword arguments,
    defaults and default factories as a dataclass takes them, then ``__post_init__``; every
    field given (the common case: nodes, marks, results) takes the short way."""
    name = cls.__name__
    names = tuple(f.name for f in fields)
    every = frozenset(names)
    defaults = tuple(
        (f.default, None)
        if f.default is not dataclasses.MISSING
        else (
            dataclasses.MISSING,
            None if f.default_factory is dataclasses.MISSING else f.default_factory,
        )
        for f in fields
    )
    post_init = getattr(cls, "__post_init__", None)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if not kwargs and len(args) == len(names):
            self.__dict__.update(zip(names, args, strict=True))
        elif not args and kwargs.keys() == every:
            self.__dict__.update(kwargs)
        else:
            _fill(self, name, names, defaults, args, kwargs)
        if post_init is not None:
            post_init(self)

    return __init__


def _fill(
    self: Any,
    name: str,
    names: tuple[str, ...],
    defaults: tuple[tuple[Any, Any], ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    if len(args) > len(names):
        raise TypeError(f"{name}() takes {len(names)} positional arguments, got {len(args)}")
    given = dict(zip(names, args, strict=False))  # fewer args than fields: the rest by name
    for key in kwargs:
        if key in given or key not in names:
            raise TypeError(f"{name}() got an unexpected or repeated argument {key!r}")
    given.update(kwargs)
    state = self.__dict__
    for field_name, (default, factory) in zip(names, defaults, strict=True):
        if field_name in given:
            state[field_name] = given[field_name]
        elif factory is not None:
            state[field_name] = factory()
        elif default is not dataclasses.MISSING:
            state[field_name] = default
        else:
            raise TypeError(f"{name}() missing required argument {field_name!r}")


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = self._compared
    return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = self._compared
        return compare(
            tuple(getattr(self, n) for n in names), tuple(getattr(other, n) for n in names)
        )

    return method


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in self._hashed))


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._shown)
    return f"{self.__class__.__qualname__}({shown})"


def _setattr(self: Any, name: str, value: Any) -> None:
    # Only ``__init__`` sets a field that is not set yet; nothing else may set anything.
    if name in self.__dict__ or name not in self._fields:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
