"""``--log-format json``: every event as the journal writes it, one JSON object per line on stdout.

The same rendering as ``journal.jsonl`` (``render_line``), already masked by the
recorder, plus the live ``output`` lines the journal does not keep, so CI and log
shippers see the launch as it happens without parsing the human lines.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from launchctl.journal.recorder import render_line


class JsonLines:
    """A recorder sink writing one JSON line per event."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            self.stream.write(render_line(event) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass
