"""Terminal hygiene: the one function every view passes untrusted text through before showing it.

Command output and error text come from the world. Printed raw, an escape
sequence can clear the operator's screen, retitle the window (OSC 0/2), plant
a link whose text lies about its target (OSC 8), move the cursor to paint over
the timeline, or reorder what is read (bidirectional overrides). What survives
is printable text and colour (SGR, ``ESC [ … m``); every other control
character is shown escaped — ``\\x1b]0;title\\x07`` — so a person can see that
it was there.
"""

from __future__ import annotations

import re

_SGR = r"\x1b\[[0-9;:]{0,64}m"
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_PATTERN = re.compile(f"({_SGR})|({_CONTROL})")


def terminal_safe(text: str, colour: bool = True) -> str:
    """``text`` with only printable characters, tabs, newlines and (if ``colour``) SGR colour
    sequences left as they are; every other control character shown as ``\\xNN`` / ``\\uNNNN``.
    Without ``colour`` the SGR sequences are dropped (a rich table cell, an HTML page)."""
    if text.isprintable():
        return text
    return _PATTERN.sub(lambda match: _replace(match, colour), text)


def _replace(match: re.Match[str], colour: bool) -> str:
    if match.group(1) is not None:
        return match.group(1) if colour else ""
    code = ord(match.group(2))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
