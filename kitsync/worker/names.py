"""kitsync's Celery vocabulary: the task names Flower shows and the queues they run on."""

from __future__ import annotations

INGEST = "kitsync.ingest"
RECONCILE = "kitsync.reconcile"
RECONCILE_PROJECT = "kitsync.reconcile_project"
RECONCILE_ALL = "kitsync.reconcile_all"
POLL = "kitsync.poll"
RECOVER = "kitsync.recover"
AYON_EVENTS = "kitsync.ayon_events"

EVENTS_QUEUE = "kitsync.events"
RECONCILE_QUEUE = "kitsync.reconcile"
# The poll on a queue of its own: behind a backlog of reconciles it is still taken next.
POLL_QUEUE = "kitsync.poll"
QUEUES = (POLL_QUEUE, EVENTS_QUEUE, RECONCILE_QUEUE)
ALL_QUEUES = ",".join(QUEUES)
