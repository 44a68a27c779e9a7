"""Secret masking: the one place secret values become ``***``, before anything is cut or shown.

What is masked is decided by construction: the event catalogue says which
fields are free text (output, messages, reasons, errors, commands, questions,
tails) and only those are masked; ids, keys, paths, timestamps, sequence
numbers and offsets never are, so a secret equal to a step id or to the
current year cannot rename a step or break a time stamp.

A secret is masked in every spelling it may take on its way out: as given,
without a trailing newline, each line of a multi-line value (a PEM key printed
in part), with ``\\r\\n`` or escaped ``\\n`` line ends, lower-cased (a host name
in a URL), percent-encoded (a password in URL userinfo), and — for a secret
that is a URL — as an HTTP client writes it back once normalized (host case,
default port dropped, percent-encoding). Command output is masked as a stream
(``OutputMask``), before it is split into lines or truncated, so a secret that
straddles two chunks, two lines or the 4,096th character is still caught.

A value shorter than ``MIN_SECRET_LENGTH`` cannot be masked without hiding
ordinary text (every ``1`` or ``ab`` in the output), so it is refused before
anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from launchctl.journal.catalogue import ENVELOPE, EventType
from launchctl.journal.fields import mask_anything
from runbook.errors import InputError

MASK = "***"
MIN_SECRET_LENGTH = 4


class SecretTooShort(InputError):
    """A secret's value is too short to mask safely (exit 2, before anything runs)."""


def refuse_short_secrets(secrets: Mapping[str, str]) -> None:
    """Raise ``SecretTooShort`` naming the first secret whose value is too short to mask."""
    for name, value in secrets.items():
        if value and len(value.strip()) < MIN_SECRET_LENGTH:
            raise SecretTooShort(
                f"secret {name} is {len(value.strip())} character(s) long; launchctl masks secrets "
                f"of at least {MIN_SECRET_LENGTH} (a shorter one would hide ordinary text such as "
                "every matching digit in the output, or leak); nothing was run"
            )


def masker_for(names: Collection[str], environ: Mapping[str, str]) -> SecretMasker:
    """The launch's masker for the secrets the runbook lists; refuses a value too short to mask."""
    secrets = {name: environ[name] for name in names if environ.get(name)}
    refuse_short_secrets(secrets)
    from steps.http import client_spellings

    return SecretMasker(secrets.values(), url_forms=client_spellings)


def spellings(value: str, url_forms: Callable[[str], Iterable[str]] | None = None) -> set[str]:
    """Every form ``value`` may take in text launchctl writes, each long enough to mask."""
    forms = {value, value.strip(), value.rstrip("\r\n")}
    if "\n" in value.strip():
        body = value.strip()
        forms |= {body.replace("\n", "\r\n"), body.replace("\n", "\\n")}
        forms |= {line.strip() for line in body.splitlines()}
    for form in list(forms):
        forms |= {form.lower(), quote(form, safe=""), quote(form, safe="/"), quote_plus(form)}
        forms |= {quote(form, safe="!$&'()*+,;=:@/")}
        if url_forms is not None and "://" in form:
            forms |= set(url_forms(form))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class SecretMasker:
    """Masks secret values in text, in events (free-text fields only) and in streams."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        url_forms: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        forms: set[str] = set()
        for value in secrets:
            if value and len(value.strip()) >= MIN_SECRET_LENGTH:
                forms |= spellings(value, url_forms)
        ordered = sorted(forms, key=len, reverse=True)
        self.forms = tuple(ordered)
        self.longest = len(ordered[0]) if ordered else 0
        self._first = frozenset(form[0] for form in ordered)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def data(self, value: Any) -> Any:
        """Every string inside nested dicts and lists masked: for data leaving launchctl whole
        (a notification's payload), where no field is an id the journal must keep."""
        if self._pattern is None:
            return value
        return mask_anything(value, self.text)

    def event(self, kind: EventType | None, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` with its free-text fields masked; an undeclared field counts as free text."""
        if self._pattern is None:
            return record
        masked: dict[str, Any] = {}
        for name, value in record.items():
            spec = kind.spec(name) if kind is not None else ENVELOPE.get(name)
            if spec is None:
                masked[name] = mask_anything(value, self.text)
            else:
                masked[name] = spec.kind.mask(value, self.text)
        return masked

    def stream(self) -> OutputMask:
        """A masker for one command's output, fed in arbitrary chunks."""
        return OutputMask(self)

    def split_safe(self, text: str) -> tuple[str, str]:
        """Mask what is certain now; hold back the tail that may be the start of a secret."""
        if self._pattern is None:
            return text, ""
        hold = len(text)
        for position in range(max(0, len(text) - self.longest + 1), len(text)):
            if text[position] in self._first and self._starts_a_secret(text[position:]):
                hold = position
                break
        cut = hold
        for match in self._pattern.finditer(text):
            if match.start() >= hold:
                break
            cut = max(cut, match.end())
        return self._pattern.sub(MASK, text[:cut]), text[cut:]

    def _starts_a_secret(self, tail: str) -> bool:
        return any(len(form) > len(tail) and form.startswith(tail) for form in self.forms)


class OutputMask:
    """Streaming masking for one command's output: ``feed`` returns the text that is safe to
    show now and holds back at most a secret's length until more text, or ``flush``, decides."""

    def __init__(self, masker: SecretMasker) -> None:
        self._masker = masker
        self._held = ""

    def feed(self, text: str) -> str:
        safe, self._held = self._masker.split_safe(self._held + text)
        return safe

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._masker.text(held)
