"""Reading a runbook file into the model, reporting every problem as ``FILE:LINE:COL``.

``load_runbook`` is the only entry point: it reads the file, converts it
through ``runbook.v1.document`` and then checks what spans records: unique ids,
non-decreasing offsets, references to targets and steps, the files it names. All problems are collected; ``ValidationFailed`` carries them sorted.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runbook import model, templating
from runbook.durations import format_offset
from runbook.errors import Diagnostic, InputError, ValidationFailed
from runbook.resolve import format_path
from runbook.schema.records import INVALID, Field, Record
from runbook.schema.yaml_tree import Mark, YMap, YNode, YSeq, parse_yaml, read_yaml_file
from runbook.v1 import document
from runbook.v1.scalars import RunbookContext
from runbook.v1.targets import TARGETS
from runbook.waves import WaveProblem, split_into_waves


def parse_var_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``--var name=value`` options as a mapping; a malformed one is an input error."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not templating.VAR_NAME.match(name):
            raise InputError(
                f"--var {pair!r}: expected name=value with a name of letters, digits and '_'"
            )
        if any(ord(c) < 32 and c != "\t" for c in value):
            raise InputError(f"--var {name}: value contains control characters")
        result[name] = value
    return result


def load_runbook(
    path: Path | str,
    var_overrides: Mapping[str, str] | None = None,
    targets_file: Path | str | None = None,
) -> model.Runbook:
    """Load and validate a runbook; raises ``ValidationFailed`` listing every problem."""
    path = Path(path)
    data, display = read_yaml_file(path)
    overrides = dict(var_overrides or {})
    tree, diagnostics = parse_yaml(data, display)
    if tree is None:
        raise ValidationFailed(diagnostics)
    if not isinstance(tree, YMap):
        diagnostics.append(
            Diagnostic(
                display,
                tree.mark.line,
                tree.mark.column,
                "a runbook is a mapping (version, name, steps, ...)",
            )
        )
        raise ValidationFailed(diagnostics)
    ctx = RunbookContext(display, diagnostics, names=frozenset(overrides))
    values = document.RUNBOOK.convert(tree, "", ctx)
    if values is INVALID:
        raise ValidationFailed(ctx.diagnostics)
    targets = dict(values["targets"] or {})
    if targets_file is not None:
        targets = load_targets_file(Path(targets_file))
    var_values, var_patterns, var_problems = _vars(values["vars"] or {}, overrides, tree, display)
    runbook = model.Runbook(
        name=values["name"],
        source=path.resolve(),
        content=data,
        steps=values["steps"],
        version=values["version"],
        t0=values["t0"],
        gate=(path.parent / values["gate"]).resolve() if values["gate"] else None,
        vars=var_values,
        var_patterns=var_patterns,
        secrets=tuple(values["secrets"] or ()),
        targets=targets,
        ssh=values["ssh"] or model.SshSettings(),
        prometheus_url=(values["prometheus"] or {}).get("url"),
        scrape_interval=(values["prometheus"] or {}).get("scrape_interval"),
        notify=tuple(values["notify"] or ()),
        guards=tuple(values["guards"] or ()),
        rollback=tuple(values["rollback"] or ()),
        roll_forward=tuple(values["roll_forward"] or ()),
        checkpoints=values["checkpoints"],
    )
    problems = [*var_problems, *_cross_check(runbook, tree, display)]
    if ctx.diagnostics or problems:
        raise ValidationFailed([*ctx.diagnostics, *problems])
    problems = _trial_resolve(runbook, tree, display, path.parent)
    if problems:
        raise ValidationFailed(problems)
    return dataclasses.replace(runbook, warnings=_no_return_warnings(runbook, display))


def _vars(
    declared: Mapping[str, model.VarDecl], overrides: Mapping[str, str], tree: YMap, file: str
) -> tuple[dict[str, str], dict[str, str], list[Diagnostic]]:
    """Values (defaults, then ``--var``) and patterns; a missing value or a mismatch is a problem."""
    values: dict[str, str] = {}
    patterns: dict[str, str] = {}
    problems: list[Diagnostic] = []
    vars_node = tree.items.get("vars")
    for name, decl in declared.items():
        mark = _mark_at(tree, ("vars", name))
        if decl.pattern is not None:
            patterns[name] = decl.pattern
        value = overrides.get(name, decl.default)
        if value is None:
            key_mark = vars_node.key_marks[name] if isinstance(vars_node, YMap) else mark
            problems.append(
                Diagnostic(
                    file,
                    key_mark.line,
                    key_mark.column,
                    f"vars.{name}: has no default; pass --var {name}=...",
                )
            )
            continue
        if decl.pattern is not None and name in overrides and not re.fullmatch(decl.pattern, value):
            pattern_mark = _mark_at(tree, ("vars", name, "pattern"))
            problems.append(
                Diagnostic(
                    file,
                    pattern_mark.line,
                    pattern_mark.column,
                    f"vars.{name}: --var value {value!r} does not match the pattern /{decl.pattern}/",
                )
            )
        values[name] = value
    for name, value in overrides.items():
        values.setdefault(name, value)
    return values, patterns, problems


def _trial_resolve(
    runbook: model.Runbook, tree: YMap, file: str, base_dir: Path
) -> list[Diagnostic]:
    """Fill every field now, with stand-ins for T0 and the launch id, and check the named files:
    what cannot be filled or read is reported at its field, before any launch starts."""
    from runbook.resolve import ResolveFailed, resolve, stand_in_values
    from runbook.v1.named_files import check_named_files

    try:
        resolved = resolve(runbook, stand_in_values(runbook))
    except ResolveFailed as failed:
        return [
            _diagnostic_at(tree, file, p.path, format_path(p.path), p.message)
            for p in failed.problems
        ]
    return check_named_files(resolved, tree, file, base_dir)


def _diagnostic_at(tree: YMap, file: str, path: tuple, shown: str, message: str) -> Diagnostic:
    mark = _mark_at(tree, path)
    return Diagnostic(file, mark.line, mark.column, f"{shown}: {message}")


def _mark_at(tree: YNode, path: tuple) -> Mark:
    """Where the field at ``path`` (keys and list indexes) starts, or the nearest enclosing node."""
    node = tree
    for part in path:
        if isinstance(part, int) and isinstance(node, YSeq) and part < len(node.items):
            node = node.items[part]
        elif isinstance(part, int) and isinstance(node, YMap) and part == 0:
            continue  # a single criterion written without a list
        elif isinstance(part, str) and isinstance(node, YMap) and part in node.items:
            node = node.items[part]
        else:
            break
    return node.mark


def load_targets_file(path: Path) -> dict[str, model.Target]:
    """A ``--targets`` file: a mapping with ``targets:`` that replaces the runbook's."""
    data, display = read_yaml_file(path)
    tree, diagnostics = parse_yaml(data, display)
    if tree is None:
        raise ValidationFailed(diagnostics)
    ctx = RunbookContext(display, diagnostics)
    record = Record("targets file", {"targets": Field(TARGETS, required=True)})
    values = record.convert(tree, "", ctx)
    if values is INVALID or ctx.diagnostics:
        raise ValidationFailed(ctx.diagnostics)
    return dict(values["targets"])


def _cross_check(runbook: model.Runbook, tree: YMap, file: str) -> list[Diagnostic]:
    problems: list[Diagnostic] = []

    def error(mark: Mark, message: str) -> None:
        problems.append(Diagnostic(file, mark.line, mark.column, message))

    _unique_ids(runbook.steps, "steps", error)
    _unique_ids(runbook.rollback, "rollback", error)
    _unique_ids(runbook.roll_forward, "roll_forward", error)
    _unique_ids(runbook.guards, "guards", error)
    _offsets_in_order(runbook.steps, error)
    known_targets = set(runbook.targets) | {model.LOCAL}
    for section, actions in (("steps", runbook.steps), ("rollback", runbook.rollback)):
        for index, action in enumerate(actions):
            _targets_exist(action, f"{section}[{index}]", known_targets, error)
    for index, step in enumerate(runbook.steps):
        if step.on in known_targets:
            _step_waves(runbook, step, f"steps[{index}]", error)
    for name, target in runbook.targets.items():
        _target_checks(runbook, target, f"targets.{name}", known_targets, error)
    if runbook.checkpoints is not None:
        checks = runbook.checkpoints.check
        _criteria_targets_exist(
            [(f"checkpoints.check[{i}]", c) for i, c in enumerate(checks)], known_targets, error
        )
    for section, sequence in (
        ("rollback", runbook.rollback),
        ("roll_forward", runbook.roll_forward),
    ):
        for index, step in enumerate(sequence):
            _started_conditions(runbook, step, f"{section}[{index}]", file, error)
    _after_steps_exist(runbook, error)
    if runbook.prometheus_url is None:
        _needs_prometheus(runbook, tree, error)
    for index, name in enumerate(runbook.secrets):
        if name in runbook.secrets[:index]:
            error(
                tree.items["secrets"].items[index].mark,
                f"secrets[{index}]: '{name}' is listed twice",
            )
    return problems


def _started_conditions(
    runbook: model.Runbook, step: model.RollbackStep, path: str, file: str, error
) -> None:
    """``if_started``/``if_not_started`` name launch steps; a rollback cannot undo an irreversible one."""
    step_ids = set(runbook.step_ids)
    for key in ("if_started", "if_not_started"):
        named = getattr(step, key)
        if named is not None and named not in step_ids:
            error(step.marks[key], f"{path}.{key}: no launch step with id '{named}'")
    if (
        step.if_started is None
        or step.if_started not in step_ids
        or not path.startswith("rollback")
    ):
        return
    undone = runbook.step(step.if_started)
    if undone.irreversible is not None:
        at = undone.marks["irreversible"]
        error(
            step.marks["if_started"],
            f"{path}.if_started: '{undone.id}' is irreversible ({undone.irreversible}; "
            f"{file}:{at.line}:{at.column}): a rollback cannot undo it; use if_not_started, "
            "or undo it in roll_forward",
        )


def _no_return_warnings(runbook: model.Runbook, file: str) -> tuple[str, ...]:
    """An irreversible step with nothing to do after it but wait for a person is allowed, but said."""
    if not runbook.irreversible_steps or runbook.roll_forward:
        return ()
    first = runbook.irreversible_steps[0]
    after = [s for s in runbook.steps if s.at >= first.at]
    asks = any(s.on_failure is model.OnFailure.ASK for s in after) or any(
        g.then is model.GuardAction.ASK for g in runbook.guards
    )
    if asks:
        return ()
    at = first.marks["irreversible"]
    return (
        f"{file}:{at.line}:{at.column}: steps.{first.id}.irreversible: past this point a failure "
        "or a rollback guard can neither roll back nor roll forward (no roll_forward:, no ask): "
        "the launch will wait for a person to decide",
    )


def _after_steps_exist(runbook: model.Runbook, error) -> None:
    """``after:`` names a launch step; a check's cannot come after its own step."""
    order = {step.id: index for index, step in enumerate(runbook.steps)}
    for index, guard in enumerate(runbook.guards):
        if guard.after is not None and guard.after not in order:
            error(
                guard.marks["after"],
                f"guards[{index}].after: no launch step with id '{guard.after}'",
            )
    for s_index, step in enumerate(runbook.steps):
        for check_path, criterion in _criteria(step, f"steps[{s_index}]"):
            after = getattr(criterion, "after", None)
            if after is None:
                continue
            where = f"{check_path}.after"
            if after not in order:
                error(criterion.marks["after"], f"{where}: no launch step with id '{after}'")
            elif order[after] > s_index:
                error(
                    criterion.marks["after"],
                    f"{where}: '{after}' runs after this check's own step '{step.id}'",
                )


def _unique_ids(records: Iterable[Any], section: str, error) -> None:
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        if record.id in seen:
            error(
                record.marks["id"],
                f"{section}[{index}].id: duplicate id '{record.id}' (also {section}[{seen[record.id]}])",
            )
        else:
            seen[record.id] = index


def _offsets_in_order(steps: Iterable[model.Step], error) -> None:
    previous: model.Step | None = None
    for index, step in enumerate(steps):
        if previous is not None and step.at < previous.at:
            error(
                step.marks["at"],
                f"steps[{index}].at: {format_offset(step.at)} is earlier than the previous step "
                f"'{previous.id}' at {format_offset(previous.at)} (steps must be in time order)",
            )
        previous = step


def _targets_exist(action: model.Action, path: str, known: set[str], error) -> None:
    if action.on not in known:
        error(
            action.marks["on"],
            f"{path}.on: unknown target '{action.on}' (known: {', '.join(sorted(known))})",
        )
    _criteria_targets_exist(_criteria(action, path), known, error)


def _criteria_targets_exist(
    criteria: Iterable[tuple[str, model.Criterion]], known: set[str], error
) -> None:
    for check_path, criterion in criteria:
        if criterion.on is not None and criterion.on not in known:
            error(criterion.marks["on"], f"{check_path}.on: unknown target '{criterion.on}'")


def _criteria(action: model.Action, path: str) -> list[tuple[str, model.Criterion]]:
    """An action's checks and, on a step, those between its waves, each with its path."""
    found = [(f"{path}.check[{i}]", c) for i, c in enumerate(action.check)]
    between = getattr(action, "between_waves", None)
    if between is not None:
        found += [(f"{path}.between_waves.check[{i}]", c) for i, c in enumerate(between.check)]
    return found


def _target_checks(
    runbook: model.Runbook, target: model.Target, path: str, known: set[str], error
) -> None:
    """The checks a target runs between its waves name known targets and a known Prometheus."""
    if target.between_waves is None:
        return
    for index, criterion in enumerate(target.between_waves.check):
        check_path = f"{path}.between_waves.check[{index}]"
        if criterion.on is not None and criterion.on not in known:
            error(criterion.marks["on"], f"{check_path}.on: unknown target '{criterion.on}'")
        if isinstance(criterion, model.PrometheusCriterion) and runbook.prometheus_url is None:
            error(
                criterion.marks["prometheus"],
                f"{check_path}.prometheus: needs 'prometheus: {{url: ...}}' at the top level",
            )


def _step_waves(runbook: model.Runbook, step: model.Step, path: str, error) -> None:
    """A step's own waves: only where a command fans out, and fitting its target's hosts."""
    target = runbook.target(step.on)
    if step.waves is not None and target.is_local:
        error(
            step.marks["waves"],
            f"{path}.waves: waves split an SSH target's hosts; this step runs once, on '{step.on}'",
        )
        return
    if step.between_waves is not None and step.waves is None and target.waves is None:
        error(
            step.marks["between_waves"],
            f"{path}.between_waves: only applies with 'waves' (on the step or its target)",
        )
    if step.waves is None:
        return
    try:
        split_into_waves(target.hosts, step.waves.sizes, f"target '{target.name}'")
    except WaveProblem as problem:
        error(step.waves.marks[problem.index], f"{path}.waves[{problem.index}]: {problem.message}")


def _needs_prometheus(runbook: model.Runbook, tree: YMap, error) -> None:
    for index, guard in enumerate(runbook.guards):
        error(
            guard.marks["prometheus"],
            f"guards[{index}].prometheus: needs 'prometheus: {{url: ...}}' at the top level",
        )
    checked = [
        pair
        for section, actions in (("steps", runbook.steps), ("rollback", runbook.rollback))
        for index, action in enumerate(actions)
        for pair in _criteria(action, f"{section}[{index}]")
    ]
    if runbook.checkpoints is not None:
        checked += [(f"checkpoints.check[{i}]", c) for i, c in enumerate(runbook.checkpoints.check)]
    for check_path, criterion in checked:
        if isinstance(criterion, model.PrometheusCriterion):
            error(
                criterion.marks["prometheus"],
                f"{check_path}.prometheus: needs 'prometheus: {{url: ...}}' at the top level",
            )
