"""Engine-level errors, part of the tree rooted at ``runbook.errors.LaunchctlError``."""

from __future__ import annotations

from runbook.errors import EXIT_PAUSED, InputError, LaunchctlError


class JournalBusy(InputError):
    """Another live process drives this journal (exit 2)."""


class JournalUnreadable(InputError):
    """A journal directory without a readable ``journal.jsonl`` (exit 2)."""


class JournalWriteFailed(LaunchctlError):
    """The journal cannot be written (disk full, read-only): the launch pauses rather than go on unrecorded."""

    exit_code = EXIT_PAUSED


class RunbookChanged(InputError):
    """``resume`` against a runbook whose steps were added, removed or reordered."""
