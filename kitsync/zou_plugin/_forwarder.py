"""Forward Zou events to the kitsync receiver: sign, POST with a short timeout, never raise.

Standard library only: this module runs inside Zou's process and virtualenv.

What Zou 1.0.97 gives a handler (``zou/app/utils/events.py``, ``emit``): ``handle_event(data)``
with the event's ``data`` dict only, after Zou has added ``project_id`` (when the event has one)
and, once the event is stored, ``id`` (the ``ApiEvent`` id, the one ``/data/events/last`` shows).
The event name, ``created_at`` and ``user_id`` are not passed: each handler object knows its event
name, ``created_at`` is taken from the clock when the handler runs, ``user_id`` is sent as null.
Events Zou does not store (``persist=False``) have no id and are not forwarded.

Delivery is best effort. Events are queued to one background thread per process, which POSTs
them in batches; on any error they are logged and dropped, and kitsync's catch-up poller, which
reads Zou's stored event log, enqueues them later. When Zou runs handlers in its job queue
(``ENABLE_JOB_QUEUE``), each job already runs outside the request, in a forked process that exits
when the job ends, so the event is POSTed right away instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Kitsync-Signature"
EVENTS_PATH = "/kitsu/events"
DEFAULT_TIMEOUT = 2.0
# A batch stays far below the receiver's 1 MiB limit: forwarded events carry ids only.
MAX_BATCH = 100
# Events waiting while the receiver is slow; beyond this they are dropped (the poller has them).
MAX_PENDING = 10_000
_TRUE = ("y", "yes", "t", "true", "on", "1")


class NotConfigured(Exception):
    """A required environment variable of the plugin is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    """The plugin's settings, read from Zou's environment."""

    url: str
    secret: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls) -> Settings:
        url = os.environ.get("KITSYNC_RECEIVER_URL", "").strip().rstrip("/")
        secret = os.environ.get("KITSYNC_WEBHOOK_SECRET", "")
        if not url.startswith(("http://", "https://")):
            raise NotConfigured("KITSYNC_RECEIVER_URL: missing or not an http(s) URL")
        if not secret:
            raise NotConfigured("KITSYNC_WEBHOOK_SECRET: missing")
        raw_timeout = os.environ.get("KITSYNC_PLUGIN_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT
        except ValueError:
            raise NotConfigured("KITSYNC_PLUGIN_TIMEOUT: not a number of seconds") from None
        if not 0 < timeout <= 60:
            raise NotConfigured("KITSYNC_PLUGIN_TIMEOUT: must be in (0, 60] seconds")
        return cls(url=url, secret=secret, timeout=timeout)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Kitsync-Signature`` value the receiver expects for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def kitsu_event(name: str, data: object) -> dict[str, object]:
    """The event as ``/data/events/last`` shows it, from what Zou hands a handler.

    Raises ``ValueError`` when ``data`` is not a dict with an event id (Zou did not store it).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{name}: data is {type(data).__name__}, not a dict")
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError(f"{name}: no event id (event not stored by Zou)")
    project_id = data.get("project_id")
    return {
        "id": event_id,
        "name": name,
        "created_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat(),
        "project_id": project_id if isinstance(project_id, str) else None,
        "user_id": None,
        # Zou stores data without "id": keep it identical to the stored event.
        "data": {key: value for key, value in data.items() if key != "id"},
    }


def post(events: list[dict[str, object]], settings: Settings) -> None:
    """POST ``events`` (one event, or a batch) to the receiver; raises on any failure."""
    payload: object = events[0] if len(events) == 1 else {"events": events}
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s)
        settings.url + EVENTS_PATH,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "kitsync-zou-plugin",
            SIGNATURE_HEADER: sign(settings.secret, body),
        },
    )
    with urllib.request.urlopen(request, timeout=settings.timeout) as response:  # noqa: S310
        response.read()


def deliver(events: list[dict[str, object]]) -> None:
    """Send ``events`` now; log and drop them on any error."""
    try:
        post(events, Settings.from_env())
    except Exception as error:
        # Never into Zou: the catch-up poller reads the stored events later.
        logger.warning(
            "kitsync: %d event(s) not delivered, left to the poller: %s: %s",
            len(events),
            type(error).__name__,
            error,
        )


class _Sender:
    """A queue and one daemon thread per process that delivers queued events in batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[dict[str, object]] = queue.Queue(MAX_PENDING)
        self._thread: threading.Thread | None = None
        self._pid = 0

    def put(self, event: dict[str, object]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                # First event of this process (a forked Zou worker has no thread of its own).
                self._queue = queue.Queue(MAX_PENDING)
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="kitsync-forwarder", daemon=True
                )
                self._thread.start()
            pending = self._queue
        try:
            pending.put_nowait(event)
        except queue.Full:
            logger.warning(
                "kitsync: forwarding queue full, event %s left to the poller", event["id"]
            )

    @staticmethod
    def _run(pending: queue.Queue[dict[str, object]]) -> None:
        while True:
            batch = [pending.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            deliver(batch)


_sender = _Sender()


def _job_queue_enabled() -> bool:
    # Zou's own setting, read the way Zou reads it.
    return os.environ.get("ENABLE_JOB_QUEUE", "").strip().lower() in _TRUE


class ZouHandler:
    """The ``event_map`` value for one event name: Zou calls ``handle_event(data)``."""

    # Zou registers a handler under ``value.__name__.split(".")[-1]``.
    __name__ = "kitsync"

    def __init__(self, event_name: str) -> None:
        self.event_name = event_name

    def __repr__(self) -> str:
        return f"ZouHandler({self.event_name!r})"

    def handle_event(self, data: object) -> None:
        try:
            event = kitsu_event(self.event_name, data)
        except ValueError as error:
            logger.debug("kitsync: not forwarded: %s", error)
            return
        try:
            if _job_queue_enabled():
                deliver([event])
            else:
                _sender.put(event)
        except Exception:
            # Never into Zou: the catch-up poller reads the stored events later.
            logger.exception("kitsync: event %s not forwarded", event["id"])
