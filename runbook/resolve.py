"""The one resolve pass: the loaded runbook and its values in, the launch as it will run out.

Every string field is rendered here, once, before anything runs; ``plan``,
dry runs, drills and the run all read the result. Three kinds of field:

- text (names, ``expect``, file paths): final text; ``stdout_matches`` takes
  values as literal text (``re.escape``).
- templates the run fills once more (commands, checks, notify, queries, env,
  URLs): only the names known while running stay as placeholders (``host``,
  ``rollback.reason``, ``rollback.trigger``); filled values are escaped so they
  can never open a placeholder or name a secret, and rendering the field with
  no values gives the final text.
- shell commands: filled by ``runbook.shell.template`` (quoted for where each
  value sits, proven harmless where a shell parses it again); ``host`` is
  proven here too for every host of the target.

Problems are collected with the field's path, e.g. ``("steps", 0, "run")``, so
the loader can point at the field's line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from runbook import model
from runbook.errors import InputError
from runbook.templating import ROLLBACK_ONLY, TemplateError, fill_template, render
from runbook.values import value

FieldPath = tuple[str | int, ...]
RUNTIME_NAMES = frozenset({"host", *ROLLBACK_ONLY})
STAND_IN_T0 = "2000-01-01T00:00:00.000Z"
STAND_IN_LAUNCH_ID = "20000101-000000-validate-0000"


@value
class Problem:
    path: FieldPath
    message: str


class ResolveFailed(InputError):
    """Fields that cannot be filled; ``problems`` name each field by its path in the runbook."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{format_path(p.path)}: {p.message}" for p in problems))

    def lines(self) -> list[str]:
        return self.message.splitlines()


def format_path(path: FieldPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def template_values(runbook: model.Runbook, *, t0: str, launch_id: str) -> dict[str, str]:
    """The values every template of a launch may use: vars (``--var`` included) and built-ins.

    ``t0`` is the launch's T0 in the journal's format. The one place these are
    built: the engine, ``launch``, ``preflight`` and ``validate`` all call it.
    """
    name = launch_name(runbook, t0)
    return {**runbook.vars, "t0": t0, "launch.id": launch_id, "launch.name": name}


def launch_name(runbook: model.Runbook, t0: str) -> str:
    """The runbook's name rendered (vars and ``t0``): what the launch id is made from."""
    return render(runbook.name, {**runbook.vars, "t0": t0})


def stand_in_values(runbook: model.Runbook) -> dict[str, str]:
    """Values for checking a runbook when no launch exists yet (``validate``, ``preflight``)."""
    return template_values(runbook, t0=STAND_IN_T0, launch_id=STAND_IN_LAUNCH_ID)


def resolve(runbook: model.Runbook, values: Mapping[str, str]) -> model.Runbook:
    """The launch as it will run; raises ``ResolveFailed`` listing every field that cannot be filled."""
    resolver = _Resolver(runbook, values)
    resolved = resolver.runbook()
    if resolver.problems:
        raise ResolveFailed(resolver.problems)
    return resolved


@dataclass
class _Resolver:
    source: model.Runbook
    values: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)

    def runbook(self) -> model.Runbook:
        book = self.source
        ssh = book.ssh
        return replace(
            book,
            name=self.text(book.name, ("name",)),
            gate=Path(self.text(str(book.gate), ("gate",))) if book.gate else None,
            targets={name: self.target(t, ("targets", name)) for name, t in book.targets.items()},
            ssh=replace(
                ssh,
                config=self.text(ssh.config, ("ssh", "config")),
                known_hosts=self.text(ssh.known_hosts, ("ssh", "known_hosts")),
            ),
            prometheus_url=self.template(
                book.prometheus_url, ("prometheus", "url"), secret_refs=True
            ),
            notify=tuple(
                replace(c, url=self.template(c.url, ("notify", i, c.kind), secret_refs=True))
                for i, c in enumerate(book.notify)
            ),
            steps=tuple(self.action(s, ("steps", i)) for i, s in enumerate(book.steps)),
            rollback=tuple(self.action(s, ("rollback", i)) for i, s in enumerate(book.rollback)),
            roll_forward=tuple(
                self.action(s, ("roll_forward", i)) for i, s in enumerate(book.roll_forward)
            ),
            guards=tuple(self.guard(g, ("guards", i)) for i, g in enumerate(book.guards)),
            checkpoints=self.checkpoints(book.checkpoints),
        )

    def checkpoints(self, checkpoints: model.Checkpoints | None) -> model.Checkpoints | None:
        if checkpoints is None:
            return None
        path = ("checkpoints", "check")
        return replace(
            checkpoints,
            check=tuple(self.criterion(c, (*path, i)) for i, c in enumerate(checkpoints.check)),
        )

    def action(self, action: model.Action, path: FieldPath) -> model.Action:
        values = {**self.values, "step.id": action.id}
        scoped = _Resolver(self.source, values, self.problems)
        changes: dict[str, object] = {
            "name": scoped.text(action.name, (*path, "name")),
            "run": scoped.shell(action.run, (*path, "run"), action.on),
            "env": {
                key: scoped.template(text, (*path, "env", key), secret_refs=True)
                for key, text in action.env.items()
            },
            "expect": replace(
                action.expect,
                stdout_contains=scoped.text(
                    action.expect.stdout_contains, (*path, "expect", "stdout_contains")
                ),
                stdout_matches=scoped.regex(
                    action.expect.stdout_matches, (*path, "expect", "stdout_matches")
                ),
            ),
            "check": tuple(
                scoped.criterion(c, (*path, "check", i)) for i, c in enumerate(action.check)
            ),
            "notify": scoped.template(action.notify, (*path, "notify")),
        }
        if isinstance(action, model.Step) and action.irreversible is not None:
            changes["irreversible"] = scoped.template(action.irreversible, (*path, "irreversible"))
        if isinstance(action, model.Step) and action.confirm is not None:
            question = scoped.template(action.confirm.question, (*path, "confirm", "question"))
            changes["confirm"] = replace(action.confirm, question=question)
        if isinstance(action, model.Step) and action.between_waves is not None:
            changes["between_waves"] = scoped.between_waves(action.between_waves, path)
        return replace(action, **changes)

    def target(self, target: model.Target, path: FieldPath) -> model.Target:
        between = target.between_waves
        return replace(
            target,
            user=self.text(target.user, (*path, "user")),
            between_waves=self.between_waves(between, path) if between is not None else None,
        )

    def between_waves(self, between: model.BetweenWaves, path: FieldPath) -> model.BetweenWaves:
        return replace(
            between,
            check=tuple(
                self.criterion(c, (*path, "between_waves", "check", i))
                for i, c in enumerate(between.check)
            ),
        )

    def criterion(self, criterion: model.Criterion, path: FieldPath) -> model.Criterion:
        if isinstance(criterion, model.HttpCriterion):
            return replace(
                criterion,
                url=self.template(criterion.url, (*path, "http")),
                body_contains=self.template(criterion.body_contains, (*path, "body_contains")),
            )
        if isinstance(criterion, model.PrometheusCriterion):
            return replace(criterion, query=self.template(criterion.query, (*path, "prometheus")))
        return replace(
            criterion, command=self.shell(criterion.command, (*path, "command"), criterion.on)
        )

    def guard(self, guard: model.Guard, path: FieldPath) -> model.Guard:
        return replace(
            guard,
            name=self.text(guard.name, (*path, "name")),
            query=self.template(guard.query, (*path, "prometheus")),
        )

    # -- the three kinds of field ----------------------------------------------------------

    def text(self, text: str | None, path: FieldPath) -> str | None:
        return self._fill(text, path, lambda t: render(t, self.values))

    def regex(self, text: str | None, path: FieldPath) -> str | None:
        escaped = {name: re.escape(value) for name, value in self.values.items()}
        pattern = self._fill(text, path, lambda t: render(t, escaped))
        if pattern is not None and pattern != text:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.problems.append(
                    Problem(path, f"invalid regular expression once filled: {exc}")
                )
        return pattern

    def template(
        self, text: str | None, path: FieldPath, *, secret_refs: bool = False
    ) -> str | None:
        return self._fill(
            text,
            path,
            lambda t: fill_template(t, self.values, RUNTIME_NAMES, secret_refs=secret_refs),
        )

    def shell(self, text: str | None, path: FieldPath, on: str | None) -> str | None:
        from runbook.shell.template import fill_shell_template

        problems_before = len(self.problems)
        filled = self._fill(
            text,
            path,
            lambda t: fill_shell_template(t, self.values, self.source.var_patterns, RUNTIME_NAMES),
        )
        if filled is not None and "{{" in filled and len(self.problems) == problems_before:
            self._prove_hosts(filled, path, on)
        return filled

    def _prove_hosts(self, template: str, path: FieldPath, on: str | None) -> None:
        """Render the command for every host it will run on: a host name must be proven too."""
        from runbook.shell.template import render_shell_command

        target = self.source.targets.get(on or model.LOCAL)
        hosts = target.hosts if target is not None and target.hosts else ("localhost",)
        stand_ins = dict.fromkeys(ROLLBACK_ONLY, "rollback")
        for host in hosts:
            try:
                render_shell_command(template, {**stand_ins, "host": host})
            except TemplateError as exc:
                self.problems.append(Problem(path, f"with host {host!r}: {exc}"))
                return

    def _fill(self, text: str | None, path: FieldPath, fill: Callable[[str], str]) -> str | None:
        if text is None:
            return None
        try:
            return fill(text)
        except TemplateError as exc:
            self.problems.append(Problem(path, str(exc)))
        except KeyError as exc:
            self.problems.append(Problem(path, f"'{{{{ {exc.args[0]} }}}}' is not available here"))
        return text
