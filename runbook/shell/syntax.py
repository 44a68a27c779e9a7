"""Reading a shell command with a real parser (tree-sitter-bash) to learn where each placeholder sits.

For every placeholder this says which quoting the shell will read it in
(unquoted, double quotes, single quotes, an unquoted heredoc body, a comment,
arithmetic), how many backquote substitutions wrap it (each strips one level of
backslashes), whether a shell will parse it a second time (single quotes,
``sh -c``, ``ssh``, a heredoc or pipe into a shell, ...) and, when it cannot
be filled at all, why. tree-sitter is imported on first use only, so
``launchctl --help`` never loads it.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from runbook.shell.reparse import reads_script_from_stdin, reparsed_arguments
from runbook.values import value

UNQUOTED = "unquoted"
DQUOTE = "double quotes"
SQUOTE = "single quotes"
HEREDOC = "heredoc"
COMMENT = "comment"
ARITHMETIC = "arithmetic"

_ARITHMETIC_OPENERS = frozenset({"((", "$((", "$["})
_NESTED_COMMANDS = frozenset({"command_substitution", "process_substitution"})
_REFUSED = {
    "ansi_c_string": "inside $'...' (escape sequences would be decoded in the value)",
    "expansion": "inside ${...} (put the placeholder outside the parameter expansion)",
    "heredoc_start": "in a heredoc delimiter",
}
_NAMING = frozenset({"variable_assignment", "simple_expansion", "for_statement"})


@value
class Site:
    """Where one placeholder sits, as the shell will read it."""

    quoting: str = UNQUOTED
    backquotes: int = 0
    reparsed: str | None = None
    refused: str | None = None
    heredoc_end: bytes | None = None  # in a heredoc body: the line that ends it
    strip_tabs: bool = False  # <<-: leading tabs are dropped before comparing with the end


@cache
def _parser() -> Any:
    from tree_sitter import Language, Parser

    return Parser(Language(_bash_grammar()))


def _bash_grammar() -> Any:
    """tree-sitter-bash's grammar, from its compiled module alone.

    The package's ``__init__`` imports ``importlib.resources`` (and with it
    tempfile, shutil, random and the compressors) for highlight queries this
    never reads: a tenth of ``launchctl validate``'s start-up. Loading the
    extension module by itself skips that; a package laid out otherwise is
    imported the ordinary way.
    """
    import importlib.util
    from importlib.machinery import EXTENSION_SUFFIXES

    package = importlib.util.find_spec("tree_sitter_bash")
    directories = package.submodule_search_locations if package else None
    for directory in directories or ():
        for suffix in EXTENSION_SUFFIXES:
            path = os.path.join(directory, "_binding" + suffix)
            if os.path.isfile(path):
                spec = importlib.util.spec_from_file_location("tree_sitter_bash._binding", path)
                binding = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(binding)
                return binding.language()
    import tree_sitter_bash

    return tree_sitter_bash.language()


def parse(source: bytes) -> Any:
    return _parser().parse(source).root_node


def first_error(root: Any) -> int | None:
    """Byte offset of the first part the parser could not read, or None."""
    if not root.has_error:
        return None
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            return node.start_byte
        stack.extend(reversed([child for child in node.children if child.has_error]))
    return root.start_byte


def sites(source: bytes, spans: list[tuple[int, int]]) -> list[Site]:
    """The site of each placeholder, given its byte span in ``source`` (a token stands in for it)."""
    root = parse(source)
    return [_site(root, source, start, end) for start, end in spans]


def _site(root: Any, source: bytes, start: int, end: int) -> Site:
    node = root.descendant_for_byte_range(start, end)
    chain = []
    while node is not None:
        chain.append(node)
        node = node.parent
    quoting, refused, base_index = _quoting(chain, source)
    if refused is None and _after_escaping_backslash(source, start, quoting):
        refused = "right after a backslash (it would escape the value's first character)"
    backquotes = sum(1 for node in chain[base_index:] if _is_backquote(node))
    if refused is None and any(
        _is_backquote(node) and b"\\" in source[node.start_byte : node.end_byte]
        for node in chain[base_index:]
    ):
        refused = (
            "inside `...` that holds backslash escapes (the shell strips them before reading "
            "it again, so its quoting cannot be read reliably; use $(...))"
        )
    if refused is None and quoting == DQUOTE and _backquote_inside_dquote(chain[base_index:]):
        refused = (
            "in double quotes inside `...` inside double quotes (shells disagree on that "
            "nesting; use $(...))"
        )
    end, strip_tabs = (
        _heredoc_end(chain[base_index], source) if quoting == HEREDOC else (None, False)
    )
    return Site(quoting, backquotes, _reparsed(chain, source, quoting), refused, end, strip_tabs)


def _quoting(chain: list[Any], source: bytes) -> tuple[str, str | None, int]:
    """The innermost quoting around the placeholder, a refusal, and where in ``chain`` it was found."""
    for index, node in enumerate(chain):
        kind = node.type
        if _names_something(node):
            return UNQUOTED, "a placeholder cannot be (part of) a variable or function name", index
        if kind in _REFUSED:
            return UNQUOTED, f"a placeholder {_REFUSED[kind]} cannot be filled safely", index
        if kind == "raw_string":
            return SQUOTE, None, index
        if kind in ("string", "translated_string"):
            return DQUOTE, None, index
        if kind == "comment":
            return COMMENT, None, index
        if kind == "heredoc_body":
            if _quoted_heredoc(node, source):
                return HEREDOC, _QUOTED_HEREDOC, index
            return HEREDOC, None, index
        if kind in ("arithmetic_expansion", "subscript") or _opens_arithmetic(node):
            return ARITHMETIC, None, index
        if kind in _NESTED_COMMANDS:
            return UNQUOTED, None, index
    return UNQUOTED, None, len(chain)


_QUOTED_HEREDOC = (
    "a placeholder in a quoted heredoc (<<'EOF') cannot be filled: the shell expands "
    "nothing there; use an unquoted delimiter (<<EOF)"
)


def _names_something(node: Any) -> bool:
    parent = node.parent
    if parent is None:
        return False
    if node.type == "variable_name":
        return parent.type in _NAMING
    name = parent.child_by_field_name("name") if parent.type == "function_definition" else None
    return name is not None and name.id == node.id


def _opens_arithmetic(node: Any) -> bool:
    return node.child_count > 0 and node.children[0].type in _ARITHMETIC_OPENERS


def _quoted_heredoc(body: Any, source: bytes) -> bool:
    redirect = body.parent
    for child in redirect.children if redirect is not None else ():
        if child.type == "heredoc_start":
            return any(c in source[child.start_byte : child.end_byte] for c in b"'\"\\")
    return False


def _heredoc_end(body: Any, source: bytes) -> tuple[bytes | None, bool]:
    redirect = body.parent
    children = redirect.children if redirect is not None else []
    starts = [c for c in children if c.type == "heredoc_start"]
    if not starts:
        return None, False
    word = source[starts[0].start_byte : starts[0].end_byte]
    strip_tabs = any(c.type == "<<-" for c in children)
    return bytes(b for b in word if b not in b"'\"\\"), strip_tabs


def _is_backquote(node: Any) -> bool:
    return node.type == "command_substitution" and node.children[0].type == "`"


def _backquote_inside_dquote(chain: list[Any]) -> bool:
    seen_backquote = False
    for node in chain:
        if _is_backquote(node):
            seen_backquote = True
        elif seen_backquote and node.type == "string":
            return True
    return False


def _after_escaping_backslash(source: bytes, start: int, quoting: str) -> bool:
    if quoting in (SQUOTE, COMMENT):
        return False
    count = 0
    while start - count - 1 >= 0 and source[start - count - 1] == ord("\\"):
        count += 1
    return count % 2 == 1


def _reparsed(chain: list[Any], source: bytes, quoting: str) -> str | None:
    """Why a shell will parse this placeholder's text again, or None."""
    if quoting == SQUOTE:
        return "inside single quotes (text a shell will read again)"
    if quoting == ARITHMETIC:
        return "in arithmetic (evaluated as an expression)"
    for child, node in zip(chain, chain[1:], strict=False):
        if node.type == "command":
            why = _argument_reparsed(node, child, source)
            if why:
                return why
        if node.type in ("pipeline", "redirected_statement"):
            feeder = _feeds_a_shell(node, child, chain[0], source)
            if feeder:
                return feeder
    return None


def command_words(command: Any, source: bytes) -> tuple[list[str], list[Any]]:
    """The name and arguments of a ``command`` node as text (quotes dropped), with their nodes."""
    words: list[str] = []
    nodes: list[Any] = []
    for child in command.children:
        if child.type in ("variable_assignment", "herestring_redirect", "file_redirect"):
            continue
        if child.type == "comment":
            continue
        text = source[child.start_byte : child.end_byte].decode("utf-8", "replace")
        words.append(text.replace("'", "").replace('"', ""))
        nodes.append(child)
    return words, nodes


def _argument_reparsed(command: Any, child: Any, source: bytes) -> str | None:
    words, nodes = command_words(command, source)
    if child.type == "herestring_redirect":
        return "a here-string read by a shell" if reads_script_from_stdin(words) else None
    for index, node in enumerate(nodes):
        if node.id == child.id:
            why = reparsed_arguments(words).get(index)
            return f"{why} (parsed again by a shell)" if why else None
    return None


def _feeds_a_shell(node: Any, child: Any, placeholder: Any, source: bytes) -> str | None:
    """A heredoc, or a stage of a pipeline, whose text can reach a shell's standard input."""
    if node.type == "redirected_statement" and child.type != "heredoc_redirect":
        return None
    for other in _commands_within(node):
        if _contains(other, placeholder):
            continue
        words, _nodes = command_words(other, source)
        if reads_script_from_stdin(words):
            return f"text piped or redirected into '{words[0]}' (parsed again as a script)"
    return None


def _commands_within(node: Any) -> list[Any]:
    found = []
    stack = list(node.children)
    while stack:
        current = stack.pop()
        if current.type == "command":
            found.append(current)
        elif current.type not in _NESTED_COMMANDS:
            stack.extend(current.children)
    return found


def _contains(outer: Any, inner: Any) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


_SKELETON = frozenset(
    {
        "command",
        "pipeline",
        "list",
        "redirected_statement",
        "heredoc_redirect",
        "herestring_redirect",
        "file_redirect",
        "heredoc_body",
        "heredoc_end",
        "command_substitution",
        "process_substitution",
        "subshell",
        "compound_statement",
        "if_statement",
        "while_statement",
        "for_statement",
        "c_style_for_statement",
        "case_statement",
        "case_item",
        "function_definition",
        "simple_expansion",
        "expansion",
        "arithmetic_expansion",
        "comment",
        "test_command",
        "variable_assignment",
        "negated_command",
        "ERROR",
    }
)


def skeleton(source: bytes) -> list[str]:
    """The command structure of a script (commands, redirections, substitutions, expansions),
    ignoring what the words say: filling a placeholder must leave it unchanged.

    The inside of a `...` substitution and of a heredoc body is left out:
    tree-sitter does not model the backslashes the shell strips there, so an
    escaped value would look like a substitution. A heredoc a value ends early
    still shows: the lines after it become commands.
    """
    found: list[str] = []
    stack = [parse(source)]
    while stack:
        node = stack.pop()
        if node.type in _SKELETON or node.is_missing:
            found.append(node.type)
        if not _is_backquote(node) and node.type != "heredoc_body":
            stack.extend(reversed(node.children))
    return found
