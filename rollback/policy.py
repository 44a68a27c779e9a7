"""What a failure leads to: the runbook's ``on_failure`` read against who is at the keyboard."""

from __future__ import annotations

from enum import StrEnum

from runbook.model import OnFailure


class Decision(StrEnum):
    ROLLBACK = "rollback"
    RETRY = "retry"
    CONTINUE = "continue"
    PAUSE = "pause"
    ASK = "ask"


def decide_on_failure(on_failure: OnFailure, interactive: bool) -> Decision:
    """``ask`` needs a person; with nobody to ask (no terminal, or ``--yes``) it means rollback."""
    if on_failure is OnFailure.CONTINUE:
        return Decision.CONTINUE
    if on_failure is OnFailure.ASK and interactive:
        return Decision.ASK
    return Decision.ROLLBACK
