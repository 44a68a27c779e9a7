"""When the journal reaches the disk: every event is written before launchctl goes on; an event
it acts on is also synced before it goes on; a record of something already over is synced with
the next such event, or within ``SYNC_AFTER_SECONDS``, and always by ``close``."""

from __future__ import annotations

import os
import threading
import time

import pytest

from launchctl.errors import JournalWriteFailed
from launchctl.journal import writer as writer_module
from launchctl.journal.catalogue import EVENTS
from launchctl.journal.writer import SYNC_AFTER_SECONDS, JournalWriter


@pytest.fixture
def syncs(monkeypatch):
    """Every fsync of the journal's descriptor, with the journal's length at that moment."""
    seen: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(writer_module.os, "fsync", fsync)
    return seen


def test_an_event_acted_on_is_on_disk_before_append_returns(tmp_path, syncs):
    journal = JournalWriter(tmp_path)
    journal.open()
    journal.append({"event": "step_started", "step": "deploy"})
    assert syncs == [journal.path.stat().st_size]  # synced, the whole line with it
    journal.close()


def test_a_record_after_the_fact_is_written_at_once_and_synced_soon(tmp_path, syncs):
    journal = JournalWriter(tmp_path)
    journal.open()
    journal.append({"event": "command_finished", "host": "localhost"}, after_the_fact=True)
    assert journal.path.read_text().count("\n") == 1  # a kill -9 now loses nothing
    assert syncs == []
    deadline = time.monotonic() + SYNC_AFTER_SECONDS + 2
    while not syncs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert syncs == [journal.path.stat().st_size]
    journal.close()


def test_the_next_event_acted_on_syncs_the_records_before_it(tmp_path, syncs):
    journal = JournalWriter(tmp_path)
    journal.open()
    journal.append({"event": "command_finished"}, after_the_fact=True)
    journal.append({"event": "step_finished"}, after_the_fact=True)
    journal.append({"event": "step_started", "step": "next"})
    assert syncs[0] == journal.path.stat().st_size  # all three lines, with one fsync
    time.sleep(SYNC_AFTER_SECONDS * 2)
    assert len(syncs) == 1  # nothing left for the flusher
    journal.close()


def test_close_syncs_and_leaves_no_thread(tmp_path, syncs):
    journal = JournalWriter(tmp_path)
    journal.open()
    journal.append({"event": "guard_sample"}, after_the_fact=True)
    journal.close()
    assert syncs and syncs[-1] == journal.path.stat().st_size
    assert not [t for t in threading.enumerate() if t.name == "journal-sync"]


def test_only_records_of_what_is_over_may_wait_for_the_disk():
    """A start, a request, an answer or a decision is acted on: never after the fact."""
    late = sorted(name for name, kind in EVENTS.items() if kind.after_the_fact)
    assert late == [
        "check_result",
        "command_finished",
        "guard_sample",
        "host_finished",
        "notification",
        "notification_failed",
        "step_finished",
        "wave_finished",
    ]


def test_a_disk_error_the_flusher_meets_pauses_the_launch_at_the_next_event(tmp_path, monkeypatch):
    """Linux reports a failed writeback to one fsync of the file only: once the flusher's fsync
    has seen EIO, the next event's own fsync succeeds although the records before it never
    reached the disk. The flusher must hand the error on, not drop it."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if threading.current_thread().name == "journal-sync":
            raise OSError(5, "Input/output error")
        real(fd)  # the error is consumed: what follows syncs cleanly

    monkeypatch.setattr(writer_module.os, "fsync", fsync)
    journal = JournalWriter(tmp_path)
    journal.open()
    journal.append({"event": "command_finished"}, after_the_fact=True)
    time.sleep(SYNC_AFTER_SECONDS * 3)  # the flusher has tried, and failed
    with pytest.raises(JournalWriteFailed, match="Input/output error"):
        journal.append({"event": "step_started", "step": "next"})
    journal.close()
