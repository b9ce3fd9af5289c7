"""The way into the worker: events from the webhook receiver and the poller become ``ingest``
tasks. An event id is marked taken (for ``TAKEN_SECONDS``) only once its ingest is published,
and ``ingest`` marks it seen for a week once its keys are queued: later copies, from the other
path or an overlapping poll, are dropped. A submit that fails part-way leaves what it did not hand
on unmarked, so the sender's retry brings it in (at worst twice: ingests are idempotent)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from celery import Celery

from kitsync.metrics import DUPLICATES, EVENTS
from kitsync.schemas import KitsuEvent
from kitsync.sink import SinkUnavailable, SubmitResult
from kitsync.worker import names
from kitsync.worker.failures import is_transient
from kitsync.worker.keyqueue import KeyQueue

log = logging.getLogger("kitsync.sink")

# How long an event id counts as taken in before its ingest marks it seen for good: longer than
# an ingest may wait in the broker behind a backlog, and than the poller's overlap.
TAKEN_SECONDS = 3600
# Events per ingest task: a storm of 20,000 read in one poll becomes 40 ingests, each retried
# (if it must be) alone.
INGEST_BATCH = 500


class CelerySink:
    def __init__(self, app: Celery, queue: KeyQueue) -> None:
        self._app = app
        self._queue = queue

    async def submit(self, events: Sequence[KitsuEvent], *, source: str) -> SubmitResult:
        try:
            fresh = set(await self._queue.unseen([event.id for event in events]))
            new = []
            for event in events:
                if event.id in fresh:  # each id once, even when a request repeats it
                    new.append(event)
                    fresh.discard(event.id)
            for start in range(0, len(new), INGEST_BATCH):
                batch = new[start : start + INGEST_BATCH]
                payload = [event.model_dump(mode="json") for event in batch]
                # Celery's publish is blocking I/O: keep it off the event loop.
                await asyncio.to_thread(self._app.send_task, names.INGEST, args=(payload, source))
                # Marked only once handed on: marking first lost events when Redis went down
                # between the two (the mark stayed, the sender's retry was dropped). Two submits
                # racing here both hand an event on: its second ingest only re-runs settled keys.
                await self._queue.keep_seen(
                    [event.id for event in batch], TAKEN_SECONDS, only_new=True
                )
        except Exception as error:
            if is_transient(error):
                raise SinkUnavailable(f"cannot queue events: {type(error).__name__}") from None
            raise
        EVENTS.labels(source).inc(len(new))
        DUPLICATES.labels(source).inc(len(events) - len(new))
        return SubmitResult(accepted=len(new), duplicates=len(events) - len(new))

    async def healthy(self) -> bool:
        try:
            await self._queue.stats()
        except Exception:  # down is an answer here, not an error
            return False
        return True
