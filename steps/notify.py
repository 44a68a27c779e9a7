"""Milestone messages to Slack and generic webhooks, sent in the background.

A dead or slow channel must never delay or fail a launch: each message is
queued to a worker thread that retries a few times with backoff (tenacity),
then gives up and reports the failure through a callback.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runbook.model import NotifyChannel
from runbook.templating import expand_secrets
from steps.deadline import Deadline
from steps.http import HttpSession, RequestFailed, short

SEND_TIMEOUT_SECONDS = 5.0
ATTEMPTS = 3


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    error: str | None = None


def payload_for(channel: NotifyChannel, message: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """Slack gets Block Kit (a section and a context line, ``text`` as the fallback); a webhook
    gets the event as data: ``time`` (ISO 8601), ``launch``, ``name``, ``milestone``, ``step``,
    ``t_offset``, ``phase``, ``message`` and, for guard milestones, ``guard`` (id, value,
    threshold, query; ``baseline`` and ``limit`` for a threshold relative to the baseline)."""
    if channel.kind == "slack":
        return _slack_blocks(message, event)
    return {**event, "message": message}


def _slack_blocks(message: str, event: Mapping[str, Any]) -> dict[str, Any]:
    context = " · ".join(
        str(part)
        for part in (
            event.get("name"),
            event.get("launch"),
            event.get("t_offset"),
            event.get("phase"),
            event.get("time"),
        )
        if part
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(message)}}
    ]
    guard = event.get("guard")
    if guard:
        facts = f"*{guard.get('id')}*: {guard.get('value')} (threshold {guard.get('threshold')})"
        if guard.get("baseline") is not None and guard.get("limit") is not None:
            facts += f", baseline {guard['baseline']:.4g} makes it {guard.get('limit'):.4g}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(facts)}})
    if context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(context)}]}
        )
    return {"text": message, "blocks": blocks}


def _slack_escape(text: str) -> str:
    """Slack's three control characters in mrkdwn; nothing from a launch can become a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Notifier:
    """Posts to every channel; ``send`` returns at once."""

    def __init__(
        self,
        channels: Sequence[NotifyChannel],
        environ: Mapping[str, str],
        on_delivery: Callable[[Delivery], None] | None = None,
    ) -> None:
        self._channels = list(channels)
        self._environ = environ
        self._on_delivery = on_delivery
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def send(self, message: str, event: Mapping[str, Any]) -> None:
        if not self._channels:
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._drain, name="notify", daemon=True)
            self._worker.start()
        self._queue.put((message, dict(event)))

    def close(self, timeout: float = 5.0) -> None:
        """Give queued messages a bounded chance to go out before the process ends."""
        if self._worker is None:
            return
        self._queue.put(None)
        self._worker.join(timeout)

    def _drain(self) -> None:
        session = HttpSession()
        try:
            while (item := self._queue.get()) is not None:
                message, event = item
                for channel in self._channels:
                    if not channel.wants(str(event.get("milestone"))):
                        continue
                    delivery = self._deliver(session, channel, message, event)
                    if self._on_delivery is not None:
                        self._on_delivery(delivery)
        finally:
            session.close()

    def _deliver(
        self, session: HttpSession, channel: NotifyChannel, message: str, event: dict[str, Any]
    ) -> Delivery:
        from tenacity import Retrying, stop_after_attempt, wait_exponential

        label = channel.kind
        try:
            url = expand_secrets(channel.url, self._environ)
        except KeyError as exc:
            return Delivery(label, False, f"secret {exc.args[0]} is not set")
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(ATTEMPTS), wait=wait_exponential(0.2, max=2), reraise=True
            ):
                with attempt:
                    answer = session.post_json(
                        url,
                        payload_for(channel, message, event),
                        deadline=Deadline.after(SEND_TIMEOUT_SECONDS),
                    )
                    if answer.status_code >= 400:
                        raise RequestFailed(f"HTTP {answer.status_code}")
        except Exception as exc:  # any failure of a channel is reported, never raised
            # Whole, not cut to length: the recorder masks the URL's secret first, then cuts.
            return Delivery(label, False, f"{type(exc).__name__}: {short(exc)}")
        return Delivery(label, True)
