"""Filling placeholders in shell commands so that no value can ever become shell code.

A value is not pasted into the command. It is assigned, shell-quoted, to a
variable in a prelude (where quoting is provably safe: an unquoted assignment
at the top of the script), and the placeholder becomes a reference to that
variable, written for the quoting the placeholder sits in:

    unquoted, in $(...) or `...`   "${LAUNCHCTL_V_x}"     one word, never split or globbed
    inside "..."                    ${LAUNCHCTL_V_x}
    inside '...'                    '"${LAUNCHCTL_V_x}"'   close, expand, reopen
    in an unquoted heredoc body     ${LAUNCHCTL_V_x}

The shell expands a variable without parsing its value again, so even when
the quote tracking below misreads an unusual command, the worst outcome is
wrong text, never an injected command. ``{{ x | raw }}`` inserts the value
verbatim, for authors who mean it to be shell code.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from runbook.templating import TemplateError, parse_template

PREFIX = "LAUNCHCTL_V_"
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


@dataclass(frozen=True)
class ShellCommand:
    """``script`` is what runs; ``display`` is the same command with values pasted in, for people."""

    script: str
    display: str


def variable_name(name: str) -> str:
    return PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", name)


def render_shell_command(text: str, values: Mapping[str, str]) -> ShellCommand:
    placeholders = parse_template(text)
    if not placeholders:
        return ShellCommand(text, text)
    script: list[str] = []
    display: list[str] = []
    assigned: dict[str, str] = {}
    tracker = _QuoteTracker()
    position = 0
    for placeholder in placeholders:
        literal = text[position : placeholder.start]
        tracker.feed(literal)
        script.append(literal)
        display.append(literal)
        position = placeholder.end
        if placeholder.literal is not None:
            script.append(placeholder.literal)
            display.append(placeholder.literal)
            tracker.feed(placeholder.literal)
            continue
        value = values[placeholder.name]
        display.append(value)
        if placeholder.raw:
            script.append(value)
            continue
        variable = variable_name(placeholder.name)
        assigned[variable] = value
        script.append(tracker.reference(variable, placeholder.start))
    script.append(text[position:])
    display.append(text[position:])
    prelude = "".join(f"{name}={shlex.quote(value)}\n" for name, value in assigned.items())
    return ShellCommand(prelude + "".join(script), "".join(display))


class _QuoteTracker:
    """Follows the author's shell text far enough to know what quoting a placeholder sits in."""

    def __init__(self) -> None:
        self.stack: list[str] = ["top"]
        self.escaped = False
        self.pending_heredocs: list[tuple[str, bool]] = []
        self.line = ""

    @property
    def context(self) -> str:
        return self.stack[-1]

    def reference(self, variable: str, offset: int) -> str:
        context = self.context
        if context == "'":
            return f"'\"${{{variable}}}\"'"
        if context in ('"', "heredoc"):
            return f"${{{variable}}}"
        if context == "quoted-heredoc":
            raise TemplateError(
                "a placeholder in a quoted heredoc (<<'EOF') cannot be filled: the shell expands "
                "nothing there; use an unquoted delimiter (<<EOF)",
                offset,
            )
        return f'"${{{variable}}}"'

    def feed(self, text: str) -> None:
        index = 0
        while index < len(text):
            index = self._step(text, index)

    def _step(self, text: str, index: int) -> int:
        char = text[index]
        nxt = text[index + 1] if index + 1 < len(text) else ""
        context = self.context
        if context in ("heredoc", "quoted-heredoc"):
            return self._heredoc_step(text, index, char, nxt)
        if self.escaped:
            self.escaped = False
            return index + 1
        if context == "'":
            if char == "'":
                self.stack.pop()
            return index + 1
        if char == "\\":
            self.escaped = True
            return index + 1
        if char == "$" and nxt == "(":
            self.stack.append("$(")
            return index + 2
        if char == "`":
            if context == "`":
                self.stack.pop()
            else:
                self.stack.append("`")
            return index + 1
        if context == '"':
            if char == '"':
                self.stack.pop()
            return index + 1
        return self._unquoted_step(text, index, char)

    def _unquoted_step(self, text: str, index: int, char: str) -> int:
        if char in "'\"":
            self.stack.append(char)
        elif char == ")" and self.context == "$(":
            self.stack.pop()
        elif char == "<" and text.startswith("<<", index) and not text.startswith("<<<", index):
            match = _HEREDOC.match(text, index)
            if match:
                self.pending_heredocs.append((match.group(3), bool(match.group(2))))
                return match.end()
        elif char == "\n" and self.pending_heredocs:
            self._open_next_heredoc()
        return index + 1

    def _open_next_heredoc(self) -> None:
        delimiter, quoted = self.pending_heredocs[0]
        self.stack.append("quoted-heredoc" if quoted else "heredoc")
        self.line = ""

    def _heredoc_step(self, text: str, index: int, char: str, nxt: str) -> int:
        if char == "\n":
            delimiter, _quoted = self.pending_heredocs[0]
            if self.line.lstrip("\t") == delimiter:
                self.stack.pop()
                self.pending_heredocs.pop(0)
                if self.pending_heredocs:
                    self._open_next_heredoc()
            self.line = ""
            return index + 1
        self.line += char
        return index + 1
