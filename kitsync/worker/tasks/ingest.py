"""``kitsync.ingest(events, source)``: Kitsu events in, one queued key per thing they changed.

Routes the events to keys, queues each key once (keys already queued or running collapse into
that run) and only then marks the events processed: a failure before that retries the task with
the events still unseen, so none is lost, and a retry queues only keys not queued already. Then
it records each event in AYON (``kitsu.event``), best effort: the audit trail never fails or
repeats an ingest (a storm of 1,440 events once timed out on it and retried for half an hour).

Only transient failures (Redis, the broker) retry, ``MAX_ATTEMPTS`` times with backoff; a body
that does not parse fails at once (Flower shows it failed, with the error).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kitsync.ayon import AyonError
from kitsync.core.routing import Key, keys_for_event, route
from kitsync.reconcile import Recorded, record_kitsu_events
from kitsync.schemas import KitsuEvent
from kitsync.worker import names
from kitsync.worker.failures import (
    CELERY_BACKOFF,
    MAX_ATTEMPTS,
    REPUBLISH_POLICY,
    TRANSIENT_ERRORS,
)
from kitsync.worker.runtime import Runtime
from kitsync.worker.scheduling import enqueue, schedule

log = logging.getLogger("kitsync.worker")

NAME = names.INGEST
OPTIONS: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_kwargs": {"retry_policy": REPUBLISH_POLICY},
    **CELERY_BACKOFF,
    "max_retries": MAX_ATTEMPTS,
}

SEEN_TTL = 7 * 24 * 3600
DELETE_RECHECK = "delete-recheck"
DELETE_RECHECK_AFTER = 5.0


def run(runtime: Runtime, events: list[dict[str, Any]], source: str) -> dict[str, Any]:
    parsed = [KitsuEvent.model_validate(event) for event in events]
    routed = route(parsed)
    scheduled = enqueue(runtime, routed.keys)
    schedule(runtime, scheduled, since=_earliest_events(parsed))
    if source != DELETE_RECHECK:
        # Zou emits asset:delete before it deletes the row, so the first reconcile can still
        # find the asset: look at every delete once more a little later.
        deletes = [event for event in events if str(event.get("name", "")).endswith(":delete")]
        if deletes:
            runtime.app.send_task(
                NAME, args=(deletes, DELETE_RECHECK), countdown=DELETE_RECHECK_AFTER
            )
    # Only now: a failure above retries this task with the events still unseen.
    runtime.run(runtime.queue().keep_seen([event.id for event in parsed], SEEN_TTL))
    try:
        recorded = runtime.run(record_kitsu_events(runtime.context(), parsed))
    except AyonError as error:  # AYON down, or the pairing unreadable: the audit waits
        log.warning("%s Kitsu events not recorded in AYON's events: %s", len(parsed), error)
        recorded = Recorded(0, len(parsed))
    log.info(
        "ingest from %s: %s events -> %s keys, %s scheduled",
        source,
        len(parsed),
        len(routed.keys),
        len(scheduled),
    )
    return {
        "source": source,
        "events": len(parsed),
        "keys": len(routed.keys),
        "scheduled": len(scheduled),
        "recorded": recorded.new,
        "not recorded": recorded.failed,
        "ignored": dict(routed.ignored),
    }


def _earliest_events(events: Iterable[KitsuEvent]) -> dict[Key, datetime]:
    """For each key, when the oldest event that dirtied it happened (for the latency metric)."""
    earliest: dict[Key, datetime] = {}
    for event in events:
        for key in keys_for_event(event):
            if key not in earliest or event.created_at < earliest[key]:
                earliest[key] = event.created_at
    return earliest
