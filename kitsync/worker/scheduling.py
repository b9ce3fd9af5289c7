"""How the worker sends work to itself: one ``kitsync.reconcile`` task per key.

Keys travel as :class:`~kitsync.core.routing.Key` values up to here; a Celery message and the
key queue (Redis) are the edges where they become strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from kitsync.core.routing import Key
from kitsync.worker import names
from kitsync.worker.runtime import Runtime


def schedule(
    runtime: Runtime,
    keys: Iterable[Key],
    countdown: float | None = None,
    since: Mapping[Key, datetime] | None = None,
) -> None:
    """One reconcile task per key; ``since``: when the Kitsu event behind it happened."""
    for key in keys:
        when = (since or {}).get(key)
        kwargs = {"since": when.isoformat()} if when else {}
        runtime.app.send_task(names.RECONCILE, args=(str(key),), kwargs=kwargs, countdown=countdown)


def enqueue(runtime: Runtime, keys: Iterable[Key]) -> list[Key]:
    """Put keys in the key queue; return those that need a task now (the others are queued or
    running already, and collapse into that run)."""
    wanted = list(keys)
    added = set(runtime.run(runtime.queue().add([str(key) for key in wanted])))
    return [key for key in wanted if str(key) in added]


def trigger(runtime: Runtime, keys: Iterable[Key]) -> None:
    """Keys found to need a reconcile while another ran: queued like an event's."""
    schedule(runtime, enqueue(runtime, keys))
