"""The questions a launch has open, who may answer each, and the journal of every answer.

The loop owns the waiting; this module owns the bookkeeping of questions: the
stack whose newest question is on the terminal, the answers that need no one
(``--yes``, a dry run, the headless rules), answers from the terminal, a second
terminal or a deadline, and withdrawing what a course change made moot.
Holding questions (the Ctrl-C menu, a guard's ``ask``) act on their answer;
the others are waited for by the walk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from launchctl.engine.inbox import Approval
from launchctl.engine.prompts import Answer, HeadlessRules, Question, TerminalPrompter
from launchctl.journal.recorder import Recorder


@dataclass
class OpenQuestion:
    question: Question
    on_answer: Callable[[Answer], None] | None  # holding questions act on their answer here
    answer: Answer | None = None


class OpenQuestions:
    def __init__(
        self,
        recorder: Recorder,
        rules: HeadlessRules,
        prompter: TerminalPrompter | None,
        simulated: bool,
        user: str,
    ) -> None:
        self.recorder = recorder
        self.rules = rules
        self.prompter = prompter
        self.simulated = simulated
        self.user = user
        self.open: list[OpenQuestion] = []
        self.shown: Question | None = None

    # -- what the loop asks ---------------------------------------------------------------------

    @property
    def holding(self) -> bool:
        return any(entry.question.holds for entry in self.open)

    @property
    def reading_terminal(self) -> bool:
        return self.prompter is not None and self.shown is not None

    def next_expiry(self) -> float | None:
        expiries = [e.question.expires for e in self.open if e.question.expires is not None]
        return min(expiries) if expiries else None

    def has(self, kind: str) -> bool:
        return any(entry.question.kind == kind for entry in self.open)

    def show_again(self) -> None:
        if self.shown is not None and self.prompter is not None:
            self.prompter.show(self.shown)

    # -- opening --------------------------------------------------------------------------------

    def automatic(self, question: Question) -> Answer | None:
        """The answer nobody needs to type: ``--yes``, a dry run, or the headless rules."""
        decided = self.rules.answer(question)
        if decided is not None and decided[1] == "--yes":
            return Answer(decided[0], self.user, "--yes")
        if self.prompter is not None and not self.simulated:
            return None
        if decided is None:
            if not self.simulated:
                return None  # waits for a second terminal (or the question's timeout)
            decided = (question.default or question.choices[-1], "rules")
        return Answer(decided[0], f"{self.user} (headless rules)", decided[1])

    def open_flow(self, question: Question) -> OpenQuestion:
        """A question the walk waits for; its answer lands on the returned entry."""
        entry = OpenQuestion(question, None)
        self._push(entry)
        return entry

    def open_holding(self, question: Question, act: Callable[[Answer], None]) -> None:
        """A question that holds the timeline until answered, then ``act``s on the answer."""
        automatic = self.automatic(question)
        if automatic is not None:
            self.journal_answer(question, automatic)
            act(automatic)
            return
        self._push(OpenQuestion(question, act))

    def _push(self, entry: OpenQuestion) -> None:
        self.open.append(entry)
        question = entry.question
        if question.remote:
            self.recorder.emit(
                "awaiting_answer",
                kind=question.kind,
                step=question.step,
                question=question.text,
                timeout_s=question.timeout,
                on_timeout=question.on_timeout if question.timeout else None,
            )
        self._show_top()

    def _show_top(self) -> None:
        if self.prompter is None:
            return
        top = next((e.question for e in reversed(self.open) if e.answer is None), None)
        if top is not None and top is not self.shown:
            self.shown = top
            self.prompter.show(top)

    # -- answering ------------------------------------------------------------------------------

    def read_terminal(self) -> None:
        """stdin is readable: take the line typed for the question on screen, if it is whole."""
        entry = next((e for e in self.open if e.question is self.shown), None)
        if entry is None or self.prompter is None:
            return
        try:
            value = self.prompter.read(entry.question)
        except EOFError:
            self._terminal_gone()
            return
        if value is not None:
            self._close_on_screen(entry.question, None)
            self._answer(entry, Answer(value, self.user, "terminal"))

    def take_approval(self, approval: Approval) -> None:
        """``launchctl approve`` named a step: answer that step's remote question, or say why not."""
        for entry in self.open:
            if entry.question.remote and entry.question.step == approval.step:
                value = "yes" if approval.answer == "yes" else "reject"
                self._close_on_screen(
                    entry.question, f"answered from another terminal by {approval.by}"
                )
                self._answer(entry, Answer(value, approval.by, "second-terminal"))
                return
        self.recorder.emit(
            "approval_ignored",
            step=approval.step,
            by=approval.by,
            reason=f"no confirmation of step '{approval.step}' is waiting",
        )

    def expire(self) -> None:
        """Questions past their deadline get their ``on_timeout`` answer."""
        now = time.monotonic()
        for entry in list(self.open):
            expires = entry.question.expires
            if entry.answer is None and expires is not None and now >= expires:
                on_timeout = entry.question.on_timeout or "pause"
                self._close_on_screen(entry.question, f"no answer in time: {on_timeout}")
                self._answer(entry, Answer(on_timeout, "nobody", "timeout"))

    def apply_answers(self) -> None:
        """Close answered questions; holding ones act on their answer (which may raise)."""
        for entry in list(self.open):
            if entry.answer is None or entry.on_answer is None:
                continue
            self.open.remove(entry)
            entry.on_answer(entry.answer)
        self.open = [e for e in self.open if e.answer is None or e.on_answer is not None]
        self._show_top()

    def withdraw(self, entry: OpenQuestion, why: str) -> None:
        if entry in self.open:
            self.open.remove(entry)
        self._close_on_screen(entry.question, why)
        if entry.answer is None:
            self.recorder.emit(
                "question_withdrawn", kind=entry.question.kind, step=entry.question.step, reason=why
            )

    def withdraw_all(self, why: str) -> None:
        for entry in list(self.open):
            self.withdraw(entry, why)

    def journal_answer(self, question: Question, answer: Answer) -> None:
        if question.kind in ("confirm", "caution"):
            self.recorder.emit(
                "confirm_answered",
                step=question.step,
                question=question.text,
                answer=answer.value,
                by=answer.by,
                how=answer.how,
            )
            return
        self.recorder.emit(
            "operator_decision",
            kind=question.kind,
            question=question.text.split("\n")[0],
            answer=answer.value,
            step=question.step,
            user=answer.by,
            how=answer.how,
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _answer(self, entry: OpenQuestion, answer: Answer) -> None:
        entry.answer = answer
        self.journal_answer(entry.question, answer)

    def _close_on_screen(self, question: Question, why: str | None) -> None:
        if self.prompter is not None and self.shown is question:
            self.prompter.close(question, why)
            self.shown = None

    def _terminal_gone(self) -> None:
        """The terminal closed under an open question: nobody will type; the rules answer."""
        self.prompter = None
        self.shown = None
        for entry in self.open:
            if entry.answer is None:
                decided = self.rules.answer(entry.question)
                if decided is not None:
                    self._answer(
                        entry, Answer(decided[0], f"{self.user} (headless rules)", "rules")
                    )
