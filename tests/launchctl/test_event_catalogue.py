"""One catalogue of events: every name emitted anywhere is declared with the fields it is emitted
with, every consumer (replay, plain console, live view) handles or deliberately ignores every
declared event, and the recorder and reader hold events to the declaration."""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import pytest

from launchctl.journal import fields as kinds
from launchctl.journal.catalogue import EVENTS, well_formed
from launchctl.journal.dispatch import EventTable, UnknownEvent
from launchctl.journal.masking import SecretMasker
from launchctl.journal.reader import read_journal
from launchctl.journal.recorder import Recorder, UndeclaredEvent
from launchctl.journal.replay import FOLDS, replay
from launchctl.journal.writer import JournalWriter
from launchctl.views.plain import FORMATS, PlainConsole
from launchctl.views.report import render_json, render_markdown
from launchctl.views.report_html import render_html
from launchctl.views.view_model import HANDLERS, ViewModel
from rollback.run import Remedy
from steps.clock import ScaledClock, SimulatedClock

REPO = Path(__file__).resolve().parents[2]
CONSUMERS = {"replay": FOLDS, "plain console": FORMATS, "live view": HANDLERS}


def _spelling(part: ast.expr) -> str:
    """What a placeholder in an event name's f-string can be: a ``Remedy``, nothing else."""
    source = ast.unparse(part.value) if isinstance(part, ast.FormattedValue) else ""
    assert source in ("remedy", "remedy.value"), f"an event name spelled with {{{source}}}"
    return "(" + "|".join(re.escape(r.value) for r in Remedy) + ")"


def _literal_names(expr: ast.expr) -> list[str]:
    """The event names an expression can be: a literal, either side of ``a if c else b``, or
    each declared name an f-string such as ``f"{remedy}_started"`` can spell."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.IfExp):
        return _literal_names(expr.body) + _literal_names(expr.orelse)
    if isinstance(expr, ast.JoinedStr):
        pattern = "".join(
            re.escape(part.value) if isinstance(part, ast.Constant) else _spelling(part)
            for part in expr.values
        )
        spelled = [name for name in EVENTS if re.fullmatch(pattern, name)]
        return spelled or [f"<nothing declared matches f-string /{pattern}/>"]
    return []


def _emit_calls() -> list[tuple[str, int, str, list[str]]]:
    """(file, line, event name, field names) for every emit whose event name is a literal."""
    found = []
    for package in ("launchctl", "rollback", "steps"):
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name != "emit":
                    continue
                names = _literal_names(node.args[0])
                keys = [k.arg for k in node.keywords if k.arg is not None]
                if len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
                    keys += [k.value for k in node.args[1].keys if isinstance(k, ast.Constant)]
                where = str(path.relative_to(REPO))
                found += [(where, node.lineno, event, keys) for event in names]
    return found


EMITTED = _emit_calls()


def test_the_scan_finds_the_engines_events():
    names = {event for _, _, event, _ in EMITTED}
    assert len(names) >= 40
    assert {"guard_breach", "confirm_answered", "launch_held", "step_finished"} <= names


@pytest.mark.parametrize("where,line,event,keys", EMITTED, ids=lambda v: str(v))
def test_every_emitted_event_and_field_is_declared(where, line, event, keys):
    assert event in EVENTS, f"{where}:{line} emits {event!r}, which the catalogue does not declare"
    undeclared = [key for key in keys if EVENTS[event].spec(key) is None]
    assert not undeclared, f"{where}:{line} emits {event} with undeclared fields {undeclared}"


def test_every_declared_event_is_emitted_somewhere():
    emitted = {event for _, _, event, _ in EMITTED} | {"output"}
    assert set(EVENTS) - emitted == set()


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_every_view_handles_or_deliberately_ignores_every_event(consumer):
    table = CONSUMERS[consumer]
    assert table.missing() == set(), f"{consumer} neither handles nor ignores these events"


def test_a_handler_for_an_undeclared_event_fails_at_registration():
    table: EventTable = EventTable("test")
    with pytest.raises(UnknownEvent, match="not in the event catalogue"):
        table.on("guard_breached")(lambda *a: None)
    table.ignore("output")
    with pytest.raises(UnknownEvent, match="twice"):
        table.ignore("output")


# -- every declared event, with every field it may carry, reaches every view without a crash --

SAMPLES = {
    kinds.ID: "a-1",
    kinds.KEY: "> 0.5",
    kinds.TEXT: "some text",
    kinds.REASON: "a reason",
    kinds.TIME: "2026-12-01T14:00:00.000Z",
    kinds.INT: 2,
    kinds.NUMBER: 1.5,
    kinds.BOOL: True,
    kinds.VALUE: 0.25,
    kinds.IDS: ["a-1"],
    kinds.TEXTS: ["line"],
    kinds.KEY_MAP: {"release": "v1"},
}


def _sample(kind: kinds.Kind):
    if kind in SAMPLES:
        return SAMPLES[kind]
    if isinstance(kind, kinds.Record):
        return {name: _sample(member) for name, member in kind.members.items()}
    assert isinstance(kind, kinds.ListOf)
    return [_sample(kind.item)]


def _full(name: str, seq: int) -> dict:
    event = {"ts": "2026-12-01T14:00:00.000Z", "event": name, "seq": seq}
    event |= {field: _sample(spec.kind) for field, spec in EVENTS[name].fields.items()}
    return event


def _bare(name: str, seq: int) -> dict:
    event = {"ts": "2026-12-01T14:00:00.000Z", "event": name, "seq": seq}
    event |= {
        field: _sample(spec.kind) for field, spec in EVENTS[name].fields.items() if spec.required
    }
    return event


@pytest.mark.parametrize("shape", [_full, _bare], ids=["every-field", "required-only"])
@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_declared_event_reaches_every_view(name, shape):
    event = shape(name, 2)
    assert well_formed(event) or not EVENTS[name].journaled
    start = _full("launch_started", 1)
    PlainConsole(io.StringIO())(event)
    ViewModel().apply(start)
    model = ViewModel()
    model.apply(start)
    model.apply(event)
    if EVENTS[name].journaled:
        state = replay([start, event])
        render_markdown(state), render_json(state), render_html(state)


# -- the recorder holds emitters to the catalogue ----------------------------------------------


def _recorder(strict: bool, tmp_path: Path | None = None, secrets=()) -> Recorder:
    writer = None
    if tmp_path is not None:
        writer = JournalWriter(tmp_path, durable=False)
        writer.open()
    return Recorder(writer, SecretMasker(secrets), SimulatedClock(), strict=strict)


def test_strict_recorder_refuses_an_undeclared_event_field_or_type():
    recorder = _recorder(strict=True)
    with pytest.raises(UndeclaredEvent, match="not in the event catalogue"):
        recorder.emit("step_exploded", step="a")
    with pytest.raises(UndeclaredEvent, match="'colour' is not declared"):
        recorder.emit("step_finished", step="a", status="ok", colour="red")
    with pytest.raises(UndeclaredEvent, match="attempt='2' is not int"):
        recorder.emit("step_started", step="a", attempt="2")
    with pytest.raises(UndeclaredEvent, match="status is missing"):
        recorder.emit("step_finished", step="a")


def test_outside_tests_an_undeclared_field_is_recorded_masked_as_free_text(tmp_path):
    recorder = _recorder(strict=False, tmp_path=tmp_path, secrets=["hunter22"])
    recorder.emit("step_finished", step="hunter22-db", status="ok", note="pw hunter22")
    line = json.loads((tmp_path / "journal.jsonl").read_text())
    assert line["step"] == "hunter22-db" and line["note"] == "pw ***"


def test_the_recorder_stamps_sequences_and_journals_before_the_sinks_see_it(tmp_path):
    seen = []
    writer = JournalWriter(tmp_path, durable=False)
    writer.open()

    def sink(event):
        on_disk = (tmp_path / "journal.jsonl").read_text().splitlines()
        seen.append((event, json.loads(on_disk[-1])))

    recorder = Recorder(writer, SecretMasker(), ScaledClock(1.0), [sink], first_seq=41, strict=True)
    recorder.emit("step_started", step="a", attempt=1)
    event, on_disk = seen[0]
    assert event == on_disk and event["seq"] == 42 and "clock" not in event
    assert list(event)[:2] == ["ts", "event"]


def test_the_reader_skips_an_event_whose_declared_record_is_ill_typed(tmp_path):
    start = _full("launch_started", 1)
    broken = dict(_full("launch_started", 1), seq=2, event="step_started", step="a")
    broken["attempt"] = "two"
    nested = dict(start, seq=3)
    nested["plan"] = [{"step": 5}]
    lines = [start, broken, nested, _full("step_finished", 4)]
    (tmp_path / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    read = read_journal(tmp_path)
    assert [e["seq"] for e in read.events] == [1, 4] and read.torn_lines == 2
