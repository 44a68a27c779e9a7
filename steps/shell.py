"""Where a command runs, apart from what runs: one interface, several transports.

Step kinds never call subprocess or paramiko directly; they ask a ``Shell``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from steps.cancel import CancelToken
from steps.results import CommandResult

OutputListener = Callable[[str, str], None]
"""Called with (host, line) for every line a command prints."""


class Shell(Protocol):
    host: str

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str],
        timeout: float,
        cancel: CancelToken | None = None,
        on_output: OutputListener | None = None,
    ) -> CommandResult:
        """Run ``command`` to completion, its deadline, or cancellation; never raises for the command's own failure."""
        ...

    def close(self) -> None: ...
