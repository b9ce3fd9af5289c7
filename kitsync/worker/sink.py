"""The way into the worker: events from the webhook receiver and the poller become ``ingest``
tasks. Events whose id was processed before are dropped here; ``ingest`` marks ids as processed
only after their keys are queued, so a failure in between can never lose an event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from celery import Celery

from kitsync.metrics import DUPLICATES, EVENTS
from kitsync.schemas import KitsuEvent
from kitsync.tasks.ingest import SinkUnavailable, SubmitResult
from kitsync.worker.keyqueue import KeyQueue
from kitsync.worker.retries import is_transient

log = logging.getLogger("kitsync.sink")


class CelerySink:
    def __init__(self, app: Celery, queue: KeyQueue) -> None:
        self._app = app
        self._queue = queue

    async def submit(self, events: Sequence[KitsuEvent], *, source: str) -> SubmitResult:
        try:
            fresh = set(await self._queue.unseen([event.id for event in events]))
            new = [event for event in events if event.id in fresh]
            if new:
                payload = [event.model_dump(mode="json") for event in new]
                # Celery's publish is blocking I/O: keep it off the event loop.
                await asyncio.to_thread(
                    self._app.send_task, "kitsync.ingest", args=(payload, source)
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
