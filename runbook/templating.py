"""``{{ name }}`` placeholders and ``${NAME}`` secret references.

Placeholders are checked when the runbook is loaded (an unknown name is a
validation error) and filled once by ``runbook.resolve`` before anything runs;
only the names that exist while running (``host``, ``rollback.reason``,
``rollback.trigger``) are left for then. Shell commands are filled by
``runbook.shell.template``, which quotes each value for the place it sits in;
``{{ name | raw }}`` inserts it verbatim for authors who mean it.
``{{ "{{" }}`` writes a literal ``{{`` (for ``docker inspect -f`` style
templates). ``${NAME}`` (a secret) is expanded in the runbook's own text only,
never inside a value.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from runbook.values import value

BUILTINS = frozenset(
    {"t0", "launch.id", "launch.name", "step.id", "host", "rollback.reason", "rollback.trigger"}
)
ROLLBACK_ONLY = frozenset({"rollback.reason", "rollback.trigger"})

_TOKEN = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:\|\s*(raw)\s*)?$")
_LITERAL = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)')\s*$""")
_SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TemplateError(ValueError):
    """A malformed placeholder; ``offset`` is where in the string it starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@value
class Placeholder:
    """One ``{{ ... }}`` in a string: a name to fill, or a quoted literal."""

    start: int
    end: int
    name: str | None
    literal: str | None = None
    raw: bool = False


def parse_template(text: str) -> list[Placeholder]:
    """Every placeholder in ``text``; raises ``TemplateError`` on a malformed one."""
    found: list[Placeholder] = []
    position = 0
    for match in _TOKEN.finditer(text):
        _reject_unclosed(text, position, match.start())
        position = match.end()
        inner = match.group(1)
        literal = _LITERAL.match(inner)
        if literal:
            value = literal.group(1) if literal.group(1) is not None else literal.group(2)
            found.append(Placeholder(match.start(), match.end(), None, literal=value))
            continue
        named = _NAME.match(inner)
        if not named:
            raise TemplateError(
                f"invalid placeholder '{{{{{inner}}}}}' (use {{{{ name }}}}, {{{{ name | raw }}}} "
                'or {{ "{{" }} for a literal)',
                match.start(),
            )
        found.append(
            Placeholder(match.start(), match.end(), named.group(1), raw=bool(named.group(2)))
        )
    _reject_unclosed(text, position, len(text))
    return found


def _reject_unclosed(text: str, start: int, end: int) -> None:
    index = text.find("{{", start, end)
    if index >= 0:
        raise TemplateError("unclosed '{{' (close it with '}}')", index)


def template_names(text: str) -> set[str]:
    """The names a string's placeholders refer to."""
    return {p.name for p in parse_template(text) if p.name is not None}


def render(text: str, values: Mapping[str, str], environ: Mapping[str, str] | None = None) -> str:
    """Fill placeholders from ``values`` as plain text (shell commands: ``runbook.shell.template``).

    With ``environ``, ``${NAME}`` is expanded in the runbook's own text only,
    never inside a filled value: a value is data, not a template. A name the
    environment lacks stays ``${NAME}`` (only a dry run gets that far: a real
    run checks every listed secret first). A placeholder name missing from
    ``values`` raises ``KeyError``: the loader has already proved every name
    exists, so this means a built-in is used out of its scope.
    """
    pieces: list[str] = []
    position = 0
    for placeholder in parse_template(text):
        pieces.append(_expand(text[position : placeholder.start], environ))
        if placeholder.literal is not None:
            pieces.append(placeholder.literal)
        else:
            pieces.append(values[placeholder.name])
        position = placeholder.end
    pieces.append(_expand(text[position:], environ))
    return "".join(pieces)


def _expand(literal: str, environ: Mapping[str, str] | None) -> str:
    if environ is None:
        return literal
    return _SECRET_REF.sub(lambda m: environ.get(m.group(1), m.group(0)), literal)


def fill_template(
    text: str,
    values: Mapping[str, str],
    keep: Collection[str] = (),
    *,
    secret_refs: bool = False,
) -> str:
    """``text`` with every placeholder filled except those named in ``keep``, still a template.

    Filled values are escaped (see ``escape``), so rendering the result later
    with the kept names gives the final text and no value is ever read as a
    placeholder or a secret reference.
    """
    pieces: list[str] = []
    position = 0
    for placeholder in parse_template(text):
        pieces.append(text[position : placeholder.start])
        position = placeholder.end
        if placeholder.name is None or placeholder.name in keep:
            pieces.append(text[placeholder.start : placeholder.end])
        else:
            pieces.append(escape(values[placeholder.name], secret_refs=secret_refs))
    pieces.append(text[position:])
    return "".join(pieces)


def escape(text: str, *, secret_refs: bool = False) -> str:
    """``text`` written so that rendering it again gives ``text`` back, literally.

    Every ``{`` becomes ``{{ "{" }}`` (no value can open a placeholder) and, for
    fields that expand ``${NAME}``, every ``$`` becomes ``{{ "$" }}`` (no value
    can name a secret).
    """
    text = text.replace("{", '{{ "{" }}')
    return text.replace("$", '{{ "$" }}') if secret_refs else text


def secret_refs(text: str) -> list[tuple[str, int]]:
    """``${NAME}`` references in ``text`` with their offsets."""
    return [(m.group(1), m.start()) for m in _SECRET_REF.finditer(text)]


def expand_secrets(text: str, environ: Mapping[str, str]) -> str:
    """``${NAME}`` replaced with the environment's value in a resolved field (see ``render``)."""
    return render(text, {}, environ)
