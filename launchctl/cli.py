"""The command line: a thin click shell over ``launchctl.engine.assembly``.

Each command returns how it ended (an ``Outcome``, or the engine's exit code);
``run_cli`` turns that, or the error it raised, into the exit code through
``runbook.errors.exit_code_for``, and ``main`` is the one place that calls
``sys.exit``. Heavy libraries (fabric, httpx, rich) are imported only by the
commands that use them, so ``launchctl --help`` stays fast.
"""

from __future__ import annotations

import atexit
import gc
import math
import os
import sys
from pathlib import Path

import click

from launchctl import __version__
from runbook.errors import LaunchctlError, Outcome, exit_code_for, printable

RUN_OPTIONS_HELP = "T0 as ISO 8601, HH:MM (today, local time), now, or +90m"


def _echo_err(text: str) -> None:
    click.echo(text, err=True)


def _display(dry_run: bool = False, log_format: str = "auto"):
    """The live view on a terminal, plain timestamped lines otherwise, or JSON lines."""
    from launchctl.views.terminal import make_display

    return make_display(dry_run, log_format)


LOG_FORMAT_OPTION = click.option(
    "--log-format",
    type=click.Choice(["auto", "plain", "json"]),
    default="auto",
    show_default=True,
    help="auto: the live view on a terminal, plain lines otherwise; "
    "json: every event as one JSON line on stdout (for CI and log shippers).",
)


def _load(runbook_path: str, var: tuple[str, ...] = (), targets: str | None = None):
    """Load and validate; warnings (valid, but worth a second look) go to stderr."""
    from runbook.v1.loader import load_runbook, parse_var_overrides

    book = load_runbook(runbook_path, parse_var_overrides(var), targets)
    for warning in book.warnings:
        _echo_err(f"warning: {warning}")
    return book


VAR_OPTION = click.option(
    "--var", multiple=True, metavar="NAME=VALUE", help="Set or add a template variable."
)
TARGETS_OPTION = click.option(
    "--targets",
    "targets",
    type=click.Path(dir_okay=False),
    help="YAML file whose targets replace the runbook's.",
)


def runbook_inputs(command):
    """--var and --targets: what every command that reads a runbook accepts."""
    return VAR_OPTION(TARGETS_OPTION(command))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="launchctl")
def cli() -> None:
    """Launch-day runbook executor: runs a YAML timeline from T-60min to T+60min around go-live,
    checks every step, watches guards, and rolls back by itself when a threshold is crossed."""


@cli.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@runbook_inputs
def validate(runbook: str, var: tuple[str, ...], targets: str | None) -> None:
    """Check a runbook file; prints a summary or every problem as FILE:LINE:COL."""
    book = _load(runbook, var, targets)
    forward = f", {len(book.roll_forward)} roll-forward steps" if book.roll_forward else ""
    click.echo(
        f"ok: {len(book.steps)} steps, {len(book.guards)} guards, "
        f"{len(book.rollback)} rollback steps{forward}"
    )
    _print_guard_analysis(book, to_stdout=False)


def _print_guard_analysis(book, to_stdout: bool, scrape=None, source: str | None = None) -> None:
    """Each guard's worst-case time to detect; warnings on stderr (the exit code is unchanged)."""
    from launchctl.guard_analysis import ASSUMED, guard_analysis

    lines, warnings = guard_analysis(book, scrape, source or ASSUMED)
    for line in lines:
        click.echo(line, err=not to_stdout)
    for warning in warnings:
        _echo_err(warning)


@cli.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@click.option("--t0", help=RUN_OPTIONS_HELP)
@runbook_inputs
def plan(runbook: str, t0: str | None, var: tuple[str, ...], targets: str | None) -> None:
    """Print the timeline: offset, wall-clock time, step, target and what runs."""
    from launchctl.engine.assembly import plan_launch
    from launchctl.journal.catalogue import iso
    from launchctl.views.plan_text import plan_rows, render_plan

    start, events, book = plan_launch(_load(runbook, var, targets), t0, os.environ)
    click.echo(render_plan(book, plan_rows(events), iso(start)))
    _print_guard_analysis(book, to_stdout=True)


def _parse_speed(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value) or value <= 0 or value > 10_000:
        raise click.BadParameter(f"{value!r}: must be a number above 0 and at most 10000")
    return value


def _parse_mode(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        mode = int(value, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise click.BadParameter(f"{value!r}: give permissions in octal, e.g. 0600 or 0640")
    return mode


def output_options(command):
    """``-o FILE`` and ``--mode``: a record holds command output and launch details, so the file
    is private (0600) unless ``--mode`` says otherwise."""
    command = click.option(
        "--mode",
        "file_mode",
        callback=_parse_mode,
        metavar="OCTAL",
        help="Permissions of the -o file, e.g. 0640 (default 0600).",
    )(command)
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write to this file (mode 0600: it holds command output and launch details).",
    )(command)


def _write_output(output: Path, text: str, file_mode: int | None) -> None:
    from launchctl.views.report import write_private

    write_private(output, text, 0o600 if file_mode is None else file_mode)
    click.echo(f"wrote {output}", err=True)


def run_options(command):
    """The options ``run`` and ``drill`` share."""
    options = [
        click.argument("runbook", type=click.Path(dir_okay=False)),
        click.option("--t0", help=RUN_OPTIONS_HELP),
        click.option(
            "--dry-run", is_flag=True, help="Touch nothing; walk the timeline on a simulated clock."
        ),
        click.option(
            "--no-wait", is_flag=True, help="Run steps back to back instead of at their T-offsets."
        ),
        click.option(
            "--speed",
            type=float,
            default=1.0,
            callback=_parse_speed,
            help="Run the schedule N times faster.",
        ),
        TARGETS_OPTION,
        VAR_OPTION,
        click.option(
            "--yes", is_flag=True, help="Answer yes to confirmations; 'ask' failures roll back."
        ),
        click.option(
            "--journal",
            type=click.Path(file_okay=False, path_type=Path),
            help="Journal directory (default .launchctl/<id>).",
        ),
        click.option(
            "--override-gate",
            metavar="REASON",
            help="Start despite a NO-GO gate; recorded in journal and report.",
        ),
        click.option(
            "--late-ok",
            is_flag=True,
            help="Start even though T0 is so far past that steps are already late.",
        ),
        LOG_FORMAT_OPTION,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_setup(runbook: str, var: tuple[str, ...], targets: str | None, **given):
    """The runbook and the one ``RunOptions`` from ``run``/``drill``'s options (``--log-format``
    is the display's, not the launch's)."""
    from launchctl.engine.assembly import RunOptions
    from runbook.v1.loader import parse_var_overrides

    book = _load(runbook, var, targets)
    options = RunOptions(var_overrides=parse_var_overrides(var), targets_file=targets, **given)
    return book, options


@cli.command()
@run_options
def run(runbook, var, targets, log_format, **given) -> int:
    """Run the launch."""
    from launchctl.engine.assembly import start_launch

    book, options = _run_setup(runbook, var, targets, **given)
    display = _display(options.dry_run, log_format)
    return start_launch(book, options, os.environ, _echo_err, display=display)


@cli.command()
@run_options
@click.option(
    "--fail-at", metavar="STEP", help="Inject a failure at this step (the step is not run)."
)
@click.option(
    "--breach", metavar="GUARD", help="Force this guard into breach when its window opens."
)
@click.option(
    "--at",
    "at",
    metavar="OFFSET",
    help="With --breach: force it at this launch time (e.g. T+5m, after go-live) instead.",
)
@click.option(
    "--wave",
    type=click.IntRange(min=1),
    metavar="N",
    help="With --fail-at: the step's waves before N run; the failure is injected in wave N.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Run the launch for real up to the fault, and the rollback for real.",
)
def drill(
    runbook, var, targets, fail_at, breach, at, wave, live, log_format, **given
) -> Outcome | int:
    """Rollback drill: inject a failure, run the rollback, time it. Exit 0 when the rollback completed."""
    from launchctl.engine.assembly import start_launch
    from launchctl.engine.drill import DrillSpec
    from launchctl.journal.reader import read_journal
    from launchctl.views.drill_text import render_summary, summarize

    spec = DrillSpec(fail_at=fail_at, breach=breach, live=live, at=at, wave=wave)
    given["dry_run"] = given["dry_run"] or not live
    book, options = _run_setup(runbook, var, targets, drill=spec, **given)
    spec.check(book)
    journal_dirs: list[Path] = []

    def echo(text: str) -> None:
        if text.startswith("journal: "):
            journal_dirs.append(Path(text.removeprefix("journal: ")))
        _echo_err(text)

    display = _display(options.dry_run, log_format)
    code = start_launch(book, options, os.environ, echo, display=display)
    summary = summarize(read_journal(journal_dirs[0]).events)
    # With --log-format json stdout carries only JSON lines; the summary is for a person.
    click.echo(render_summary(summary, options.dry_run), err=log_format == "json")
    if summary["rollback_status"] == "complete":
        return Outcome.DRILL_ROLLBACK_COMPLETE
    return Outcome.ROLLBACK_INCOMPLETE if summary["rollback_status"] == "incomplete" else code


@cli.command()
@click.argument("journal_dir", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Re-run the step that was in flight without asking.")
@click.option("--force", is_flag=True, help="Resume even though the runbook's steps changed.")
@LOG_FORMAT_OPTION
def resume(journal_dir: Path, yes: bool, force: bool, log_format: str) -> int:
    """Go on with an interrupted launch."""
    from launchctl.engine.assembly import resume_launch

    display = _display(log_format=log_format)
    return resume_launch(
        journal_dir, yes=yes, force=force, environ=os.environ, echo=_echo_err, display=display
    )


@cli.command()
@click.argument("journal_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def status(journal_dir: Path, fmt: str) -> None:
    """Where a launch stands, from its journal."""
    import json

    from launchctl.views.status_text import render_status, status_data

    data = status_data(journal_dir)
    click.echo(json.dumps(data, indent=2, default=str) if fmt == "json" else render_status(data))


@cli.command()
@click.argument("journal_dir", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json", "html"]), default="markdown"
)
@output_options
def report(journal_dir: Path, fmt: str, output: Path | None, file_mode: int | None) -> None:
    """The launch record."""
    from launchctl.journal.reader import read_journal
    from launchctl.journal.replay import replay
    from launchctl.views.report import render_json, render_markdown

    read = read_journal(journal_dir)
    state = replay(read.events, read.torn_lines)
    if fmt == "html":
        from launchctl.views.report_html import render_html

        text = render_html(state)
    else:
        text = render_json(state) if fmt == "json" else render_markdown(state)
    if output is None:
        click.echo(text, nl=False)
        return
    _write_output(output, text, file_mode)


@cli.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@runbook_inputs
def preflight(runbook: str, var: tuple[str, ...], targets: str | None) -> Outcome:
    """Prove the launch can run, touching nothing: secrets, queries, HTTP hosts, SSH hosts."""
    import dataclasses

    from launchctl.journal.masking import masker_for
    from launchctl.preflight import render_table, run_preflight

    book = _load(runbook, var, targets)
    masker = masker_for(book.secrets, os.environ)  # what a probe's error quotes is masked too
    probes = [  # masked before the table is laid out, so its columns line up
        dataclasses.replace(
            probe, subject=masker.text(probe.subject), detail=masker.text(probe.detail)
        )
        for probe in run_preflight(book, os.environ)
    ]
    click.echo(render_table(probes))
    if book.guards:  # on stderr: stdout stays the table
        from launchctl.guard_analysis import real_scrape_interval

        scrape, source = real_scrape_interval(book, os.environ)
        source = masker.text(source if scrape else f"unknown: {source}")  # it may quote the URL
        _print_guard_analysis(book, False, scrape, source)
    return Outcome.PREFLIGHT_PASSED if all(p.ok for p in probes) else Outcome.PREFLIGHT_PROBLEM


@cli.command()
@click.argument("checklist", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--runbook",
    "runbook_path",
    type=click.Path(dir_okay=False),
    help="Also list this runbook's irreversible steps with the risks they carry.",
)
def gate(checklist: str, fmt: str, runbook_path: str | None) -> Outcome:
    """Go/no-go decision from a readiness checklist: exit 0 GO, 1 GO WITH CAUTION, 4 NO-GO."""
    from launchctl.views.gate_text import (
        gate_outcome,
        render_gate_json,
        render_gate_text,
        render_no_return,
    )
    from runbook.checklist import evaluate_gate, load_checklist

    result = evaluate_gate(load_checklist(checklist))
    steps = []
    if runbook_path is not None:
        steps = [(s.id, s.irreversible) for s in _load(runbook_path).irreversible_steps]
    if fmt == "json":
        import json

        data = json.loads(render_gate_json(result))
        data["irreversible_steps"] = [{"step": s, "reason": r} for s, r in steps]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        no_return = render_no_return(steps, result)
        click.echo(render_gate_text(result) + ("\n\n" + "\n".join(no_return) if no_return else ""))
    return gate_outcome(result)


@cli.command()
@click.argument("journal_dir", type=click.Path(path_type=Path))
@click.option(
    "--reason", required=True, help="Why; recorded and filled into {{ rollback.reason }}."
)
@click.option(
    "--force-past-no-return",
    is_flag=True,
    help="Roll back even though an irreversible step has started (recorded with your name).",
)
@LOG_FORMAT_OPTION
def rollback(
    journal_dir: Path, reason: str, force_past_no_return: bool, log_format: str
) -> Outcome | int:
    """Roll a launch back now: asks the live driver, or runs the rollback sequence when none is live."""
    import getpass

    from launchctl.engine.assembly import rollback_here
    from launchctl.engine.second_terminal import request_rollback, rollback_exit_code

    def run_here(directory: Path, why: str, forced_by: str | None) -> Outcome | int:
        return rollback_exit_code(
            rollback_here(
                directory,
                why,
                environ=os.environ,
                echo=_echo_err,
                display=_display(log_format=log_format),
                forced_by=forced_by,
            )
        )

    return request_rollback(
        journal_dir,
        reason,
        _echo_err,
        run_here,
        by=f"{getpass.getuser()}@{os.uname().nodename}",
        force_past_no_return=force_past_no_return,
    )


@cli.command()
@click.argument("journal_dir", type=click.Path(path_type=Path))
@click.option("--by", "by", required=True, metavar="NAME", help="Who answers; journaled.")
@click.option("--reject", is_flag=True, help="Answer no: the launch does not go on with the step.")
def approve(journal_dir: Path, by: str, reject: bool) -> Outcome:
    """Answer the confirmation a live launch is waiting for, from a second terminal."""
    from launchctl.engine.second_terminal import request_approval

    return request_approval(journal_dir, by, reject, _echo_err)


def _parse_now(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    from launchctl.engine.schedule import parse_t0
    from steps.clock import utcnow

    try:
        return parse_t0(value, utcnow())
    except LaunchctlError as error:
        raise click.BadParameter(error.message.replace("--t0 ", "", 1)) from None


NOW_OPTION = click.option(
    "--now",
    hidden=True,
    callback=_parse_now,
    help="Judge as if it were this moment (ISO 8601): for tests and what-if, against history.",
)


def _checkpoints(journal_dir: Path, once: bool, now) -> int:
    from launchctl.watch.command import WatchOptions, run_checkpoints

    def roll_back(directory: Path, start) -> int:
        """A person chose the rollback while watching: the launch is undone (exit 1 when done)."""
        from launchctl.engine.assembly import rollback_here

        return rollback_here(directory, start.reason, environ=os.environ, echo=_echo_err)

    return run_checkpoints(
        journal_dir, WatchOptions(once=once, now=now), os.environ, _echo_err, roll_back
    )


@cli.command()
@click.argument("journal_dir", type=click.Path(path_type=Path))
@NOW_OPTION
def watch(journal_dir: Path, now) -> int:
    """Run the launch's post-launch checkpoints as they come due, in the foreground, until the last
    one; resumable (what the journal holds is not run again). Exit 0 when the last one passed."""
    return _checkpoints(journal_dir, once=False, now=now)


@cli.command()
@click.argument("journal_dir", type=click.Path(path_type=Path))
@NOW_OPTION
def checkpoint(journal_dir: Path, now) -> int:
    """Run the checkpoints due now, once, and exit: for a systemd timer or cron. Exit 0 when they
    passed (nothing due: when the newest recorded one passed), 1 when one failed."""
    return _checkpoints(journal_dir, once=True, now=now)


@cli.command()
@click.argument("runbook", type=click.Path(dir_okay=False))
@click.option("--t0", help="The past go-live to judge: " + RUN_OPTIONS_HELP)
@runbook_inputs
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="GUARD.FIELD=VALUE",
    help="What-if: judge with this guard setting, e.g. error-rate.for=30s (repeatable).",
)
@click.option(
    "--sweep", metavar="GUARD.breach=LO:HI:STEP", help="Also tabulate each threshold's verdict."
)
@click.option(
    "--series",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Saved query_range answers to replay offline (JSON, by guard id or query).",
)
@click.option(
    "--journal",
    type=click.Path(path_type=Path),
    help="Replay a past launch's own recorded guard samples.",
)
@click.option(
    "--save-series",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write what Prometheus answered, for --series later.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text")
@output_options
def replay(
    runbook, t0, var, targets, settings, sweep, series, journal, save_series, fmt, output, file_mode
) -> int:
    """When would this launch have rolled back? Judge the guards and Prometheus checks against
    history as if go-live had been at T0; touches nothing. Exit 0 completed, 1 rollback or ask."""
    from launchctl.replay.command import replay_command

    text, code = replay_command(
        _load(runbook, var, targets),
        t0=t0,
        settings=settings,
        sweep=sweep,
        series=series,
        journal=journal,
        save_series=save_series,
        fmt=fmt,
        environ=os.environ,
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_output(output, text, file_mode)
    return code  # 0 would have completed, 1 would have rolled back or asked (exit_code_for)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown"]),
    default="json",
    help="json: the JSON Schema for editors; markdown: the format reference (docs/runbook-format.md).",
)
def schema(fmt: str) -> None:
    """Print the JSON Schema of the runbook format (for yaml-language-server and editors)."""
    if fmt == "markdown":
        from runbook.v1.reference import markdown

        click.echo(markdown(), nl=False)
        return
    import json

    from runbook.v1.document import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def run_cli(argv: list[str] | None = None) -> int:
    """Run one command; the one place its outcome or error becomes an exit code. Never raises."""
    try:
        ended = cli.main(args=argv, prog_name="launchctl", standalone_mode=False)
    except LaunchctlError as error:
        for line in error.lines():
            _echo_err(line)
        return error.exit_code
    except click.exceptions.Abort:
        _echo_err("aborted")
        return exit_code_for(Outcome.PAUSED)
    except click.UsageError as error:
        return _usage_error(error)
    except click.ClickException as error:
        _echo_err(f"launchctl: {printable(error.format_message())}")
        return exit_code_for(Outcome.BAD_INPUT)
    except KeyboardInterrupt:
        _echo_err("interrupted")
        return exit_code_for(Outcome.INTERRUPTED)
    except Exception as error:  # the last line of defence: one clear line, details on request
        return _internal_error(error)
    try:
        return exit_code_for(ended)
    except (ValueError, KeyError) as error:
        return _internal_error(error)


def _usage_error(error: click.UsageError) -> int:
    """A bad option or argument: one line naming the command and the problem, exit 2."""
    command = error.ctx.command_path if error.ctx is not None else "launchctl"
    hint = f" (see {command} --help)" if error.ctx is not None else ""
    _echo_err(f"{command}: {printable(error.format_message())}{hint}")
    return exit_code_for(Outcome.BAD_INPUT)


def _internal_error(error: BaseException) -> int:
    """A bug, not the user's doing. The journal (if any) is intact: every event was on disk before
    its action, so ``launchctl resume`` can go on once it is fixed. Its own exit code (70, as
    sysexits' EX_SOFTWARE), never 3, which tells an on-call engineer a rollback is incomplete."""
    import traceback

    _echo_err(f"launchctl: internal error: {type(error).__name__}: {printable(str(error))}")
    if os.environ.get("LAUNCHCTL_DEBUG"):
        _echo_err("".join(traceback.format_exception(error)).rstrip())
    else:
        _echo_err(
            "this is a bug in launchctl; run again with LAUNCHCTL_DEBUG=1 for the details to report"
        )
    return exit_code_for(Outcome.INTERNAL_ERROR)


def main(argv: list[str] | None = None) -> None:
    """The console script: the only ``sys.exit`` in launchctl."""
    atexit.register(_leave_objects_to_the_os)
    sys.exit(int(run_cli(argv)))


def _leave_objects_to_the_os() -> None:
    """The last exit handler (registered first): what is left goes with the process, unwalked.

    Otherwise the interpreter's shutdown walks every object the command made
    (modules, classes, the loaded runbook) to free it one by one: about a sixth
    of ``launchctl validate``. Frozen, they are left to the OS like the rest of
    the process's memory. Every other exit handler has run by then, and the
    interpreter still flushes the standard streams; launchctl closes its own
    files (the journal writes every event before going on) and never relies on a finalizer.
    """
    gc.freeze()


if __name__ == "__main__":
    main()
