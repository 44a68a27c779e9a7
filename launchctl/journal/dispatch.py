"""The one way events are dispatched: a consumer's table of handlers, checked against the catalogue.

The replay into state, the plain console, the live view and the reports each
build one ``EventTable``: a handler for every event they act on and a
deliberate ``ignore`` for the rest. Naming an event the catalogue does not
declare fails at import; an event the table neither handles nor ignores is
what ``missing()`` reports and the catalogue test refuses. An event read from a
journal that this launchctl does not know is simply not handled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from launchctl.journal.catalogue import EVENTS

H = TypeVar("H", bound=Callable[..., Any])


class UnknownEvent(LookupError):
    """A handler or ignore names an event the catalogue does not declare (a typo, or a missing
    declaration)."""


class EventTable(Generic[H]):
    """What one consumer does with each declared event."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.handlers: dict[str, H] = {}
        self.ignored: set[str] = set()

    def _declared(self, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in EVENTS:
                raise UnknownEvent(f"{self.consumer}: {name!r} is not in the event catalogue")
            if name in self.handlers or name in self.ignored:
                raise UnknownEvent(f"{self.consumer}: {name!r} is handled twice")

    def on(self, *names: str) -> Callable[[H], H]:
        """Decorator: ``handler`` handles each of ``names``."""

        def register(handler: H) -> H:
            self.add(handler, *names)
            return handler

        return register

    def add(self, handler: H, *names: str) -> None:
        self._declared(names)
        for name in names:
            self.handlers[name] = handler

    def ignore(self, *names: str) -> None:
        """This consumer deliberately does nothing with ``names``."""
        self._declared(names)
        self.ignored.update(names)

    def get(self, name: str) -> H | None:
        return self.handlers.get(name)

    def missing(self) -> set[str]:
        """Declared events this consumer neither handles nor ignores."""
        return set(EVENTS) - set(self.handlers) - self.ignored
