"""Filling placeholders in shell commands so that no value can ever become shell code.

The command is read by a real shell parser (``runbook.shell.syntax``) with a
token in place of each placeholder; each value is then pasted quoted for the
exact place it sits in, so the text that runs is the text people see and the
journal records:

    unquoted, in $(...), a comment     'it'\\''s here'   (plain words stay as they are)
    inside "..."                        \\ $ ` " escaped with a backslash
    unquoted heredoc body               \\ $ ` escaped with a backslash
    inside `...`                        the above, with \\ and ` escaped once more per level

A value a shell will parse a second time (inside single quotes, the command
string of ``sh -c``, an argument of ``ssh``/``su``/``eval``, a heredoc or pipe
into a shell, arithmetic) cannot be made safe by quoting; it must be proven
harmless instead: it matches its var's ``pattern:`` or, without one, the safe
set ``[A-Za-z0-9._:/@%+=,-]``. ``rollback.reason`` and ``rollback.trigger`` are
free text and are refused there. After filling, the command is parsed again and
must have the same structure (commands, redirections, heredocs, substitutions)
as the template: a value that would end a heredoc early is refused, not run.
``{{ x | raw }}`` inserts the value verbatim, for authors who mean it as code.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from runbook.shell import syntax
from runbook.shell.syntax import ARITHMETIC, DQUOTE, HEREDOC, SQUOTE, Site
from runbook.templating import ROLLBACK_ONLY, Placeholder, TemplateError, escape, parse_template
from runbook.values import value

SAFE_CHARACTERS = "A-Za-z0-9._:/@%+=,-"
SAFE_VALUE = re.compile(f"[{SAFE_CHARACTERS}]*")
_UNSAFE_CHARACTER = re.compile(f"[^{SAFE_CHARACTERS}]")
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_$]")
# A quote inside single quotes: close, an escaped quote, reopen; inside `...` a backslash would be
# stripped once more, so there the quote goes in double quotes instead.
_CLOSE_QUOTE_REOPEN = {False: "'\\''", True: "'\"'\"'"}


@value
class ShellCommand:
    """The command exactly as the shell receives it; ``display`` is the same text (kept for callers)."""

    script: str

    @property
    def display(self) -> str:
        return self.script


class UnprovenValue(TemplateError):
    """A value in a place a shell parses again, not proven harmless; ``name`` is the placeholder's."""

    def __init__(self, message: str, offset: int, name: str) -> None:
        super().__init__(message, offset)
        self.name = name


def render_shell_command(
    text: str, values: Mapping[str, str], patterns: Mapping[str, str] | None = None
) -> ShellCommand:
    """The command to run, every placeholder filled; raises ``TemplateError`` when one cannot be."""
    return ShellCommand(_fill(text, values, patterns or {}, frozenset(), as_template=False))


def fill_shell_template(
    text: str,
    values: Mapping[str, str],
    patterns: Mapping[str, str] | None = None,
    keep: Collection[str] = frozenset(),
) -> str:
    """The command with every placeholder but those named in ``keep`` filled, still a template.

    The result renders (``render_shell_command``) to the command that runs; the
    kept names (``host``, ``rollback.*``, known only while running) stay as
    placeholders, and a filled value can never open one.
    """
    return _fill(text, values, patterns or {}, frozenset(keep), as_template=True)


def _fill(
    text: str,
    values: Mapping[str, str],
    patterns: Mapping[str, str],
    keep: frozenset[str],
    *,
    as_template: bool,
) -> str:
    command = _Command(text, parse_template(text), values, keep)
    to_fill = [p for p in command.placeholders if p.name is not None and not p.raw]
    if not to_fill:
        return command.assemble({}, as_template)
    source, spans = command.source({})
    error = syntax.first_error(syntax.parse(source))
    if error is not None:
        raise TemplateError(
            f"the shell parser cannot read this command near {_where(source, error)}, so its "
            "placeholders cannot be filled safely (fix the shell syntax, or use {{ x | raw }})",
            to_fill[0].start,
        )
    found = syntax.sites(source, [spans[id(p)] for p in to_fill])
    pasted: dict[int, str] = {}
    in_heredocs: dict[int, Site] = {}
    for placeholder, site in zip(to_fill, found, strict=True):
        _refuse_if_unfillable(placeholder, site, values, patterns, keep)
        if placeholder.name in keep:
            continue
        pasted[id(placeholder)] = paste(values[placeholder.name], site)
        if site.quoting == HEREDOC:
            in_heredocs[id(placeholder)] = site
    command.check_structure(pasted, in_heredocs, source, to_fill)
    return command.assemble(pasted, as_template)


@value
class _Command:
    """A command template being filled: its text, placeholders, values and the names kept."""

    text: str
    placeholders: list[Placeholder]
    values: Mapping[str, str]
    keep: frozenset[str]

    def source(self, pasted: Mapping[int, str]) -> tuple[bytes, dict[int, tuple[int, int]]]:
        """The bytes the parser reads: ``pasted`` text where given, else a token; where each token is."""
        source = bytearray()
        spans: dict[int, tuple[int, int]] = {}
        position = 0
        for index, placeholder in enumerate(self.placeholders):
            source += self.text[position : placeholder.start].encode()
            position = placeholder.end
            if placeholder.literal is not None:
                source += placeholder.literal.encode()
            elif placeholder.raw and placeholder.name not in self.keep:
                source += self.values[placeholder.name or ""].encode()
            elif id(placeholder) in pasted:
                source += pasted[id(placeholder)].encode()
            else:
                if source and _NAME_CHARACTER.match(chr(source[-1])):
                    source += b'""'  # keep the token from joining a $name before it
                start = len(source)
                source += f"Xlaunchctl{index}".encode()
                spans[id(placeholder)] = (start, len(source))
        source += self.text[position:].encode()
        return bytes(source), spans

    def assemble(self, pasted: Mapping[int, str], as_template: bool) -> str:
        """The filled command; ``as_template`` keeps it a template (kept names, escaped values)."""
        pieces: list[str] = []
        position = 0
        for placeholder in self.placeholders:
            pieces.append(self.text[position : placeholder.start])
            position = placeholder.end
            own_text = self.text[placeholder.start : placeholder.end]
            if placeholder.literal is not None:
                pieces.append(own_text if as_template else placeholder.literal)
            elif placeholder.name in self.keep:
                pieces.append(own_text)
            else:
                filled = pasted.get(id(placeholder), self.values[placeholder.name or ""])
                pieces.append(escape(filled) if as_template else filled)
        pieces.append(self.text[position:])
        return "".join(pieces)

    def check_structure(
        self,
        pasted: Mapping[int, str],
        in_heredocs: Mapping[int, Site],
        source: bytes,
        to_fill: list[Placeholder],
    ) -> None:
        """The filled command must parse to the template's structure; no value may end a heredoc.

        Heredoc bodies are checked by their lines (a value must not add a line equal to the
        delimiter), not by tree-sitter, which misreads backslashes there.
        """
        names = sorted({f"{{{{ {p.name} }}}}" for p in to_fill if p.name not in self.keep})
        problem = TemplateError(
            f"filling {', '.join(names)} would change the command's structure (a value must "
            "never end a heredoc, a quote or a command); choose another value or declare a "
            "pattern:",
            to_fill[0].start,
        )
        outside = {key: text for key, text in pasted.items() if key not in in_heredocs}
        rendered, _ = self.source(outside)
        if syntax.skeleton(rendered) != syntax.skeleton(source):
            raise problem
        if not in_heredocs:
            return
        if any("\n" in pasted[key] for key in in_heredocs):
            raise problem
        full, _ = self.source(pasted)
        for site in in_heredocs.values():
            if _end_lines(full, site) != _end_lines(source, site):
                raise problem


def _end_lines(source: bytes, site: Site) -> int:
    lines = source.split(b"\n")
    if site.strip_tabs:
        lines = [line.lstrip(b"\t") for line in lines]
    return lines.count(site.heredoc_end or b"")


def _where(source: bytes, offset: int) -> str:
    before = source[:offset].decode("utf-8", "replace")
    line = before.count("\n") + 1
    return f"line {line} of the command, column {len(before) - before.rfind(chr(10))}"


def _refuse_if_unfillable(
    placeholder: Placeholder,
    site: Site,
    values: Mapping[str, str],
    patterns: Mapping[str, str],
    keep: frozenset[str],
) -> None:
    name = placeholder.name or ""
    shown = f"'{{{{ {name} }}}}'"
    if site.refused:
        raise TemplateError(f"{shown}: {site.refused}", placeholder.start)
    if site.reparsed is None:
        return
    if name in ROLLBACK_ONLY:
        raise UnprovenValue(
            f"{shown} is {site.reparsed}; it is free text and cannot be proven harmless there "
            "(pass it as an argument outside the quotes, e.g. sh -c '...\"$1\"' _ {{ ... }})",
            placeholder.start,
            name,
        )
    if name in keep:
        return
    problem = unproven(values[name], patterns.get(name), name)
    if problem:
        raise UnprovenValue(f"{shown} is {site.reparsed}; {problem}", placeholder.start, name)


def unproven(value: str, pattern: str | None, name: str = "") -> str | None:
    """Why ``value`` is not proven harmless where a shell parses it again, or None when it is."""
    if pattern is not None:
        if re.fullmatch(pattern, value):
            return None
        return f"its value {value!r} does not match the var's pattern /{pattern}/"
    bad = _UNSAFE_CHARACTER.search(value)
    if bad is None:
        return None
    hint = (
        "a host name there must use only those characters"
        if name == "host"
        else "declare a pattern: for the var to allow more"
    )
    return (
        f"its value {value!r} contains {bad.group()!r}, outside the safe set "
        f"[{SAFE_CHARACTERS}] ({hint})"
    )


def paste(value: str, site: Site) -> str:
    """``value`` written for the quoting it sits in, so the shell reads back exactly ``value``."""
    if site.quoting == DQUOTE:
        text = re.sub(r'([\\$`"])', r"\\\1", value)
    elif site.quoting == HEREDOC:
        text = re.sub(r"([\\$`])", r"\\\1", value)
    elif site.quoting == SQUOTE:
        text = value.replace("'", _CLOSE_QUOTE_REOPEN[site.backquotes > 0])
    elif site.quoting == ARITHMETIC or value and SAFE_VALUE.fullmatch(value):
        text = value
    else:
        text = "'" + value.replace("'", _CLOSE_QUOTE_REOPEN[site.backquotes > 0]) + "'"
    for _ in range(site.backquotes):
        text = re.sub(r"([\\`])", r"\\\1", text)
    return text
