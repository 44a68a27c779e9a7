"""A deadline for one call: when it must be over, and the token that may end it sooner.

Per-read timeouts are not deadlines: a server that trickles one byte a second
keeps every read under any timeout forever. A ``Deadline`` bounds the whole
call (connect, send, every read) and is checked at least every
``CHECK_SECONDS`` so a cancellation (a guard's rollback, SIGTERM) ends it
promptly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from steps.cancel import CancelToken

CHECK_SECONDS = 0.2


@dataclass(frozen=True)
class Deadline:
    end: float  # time.monotonic() value
    cancel: CancelToken | None = field(default=None, compare=False)

    @classmethod
    def after(cls, seconds: float, cancel: CancelToken | None = None) -> Deadline:
        return cls(time.monotonic() + max(0.0, seconds), cancel)

    def remaining(self) -> float:
        return self.end - time.monotonic()

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.cancelled

    def slice(self, limit: float | None = None) -> float:
        """How long the next blocking operation may wait before looking again (never negative)."""
        wait = min(self.remaining(), CHECK_SECONDS)
        if limit is not None:
            wait = min(wait, limit)
        return max(0.0, wait)

    def sooner(self, seconds: float) -> Deadline:
        """This deadline or ``seconds`` from now, whichever comes first (same cancel token)."""
        return Deadline(min(self.end, time.monotonic() + seconds), self.cancel)
