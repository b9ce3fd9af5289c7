"""Per-key work queue with "dirty + processing" semantics, plus event-id dedupe.

``KeyQueue`` is the contract (``kitsync.worker.keyqueue.backend``); ``RedisKeyQueue`` shares it
between workers, ``StubKeyQueue`` keeps it in process. The caller's loop for one key::

    for key in await queue.add(keys):          # schedule one task per returned key
        schedule(key)
    # in the task:
    match await queue.claim(key, owner, lease_seconds):
        case Claim.BUSY: retry the task later
        case Claim.NOT_QUEUED | Claim.NOT_DUE: drop it (a duplicate delivery)
        case Claim.GRANTED:
            reconcile(key)   # calling queue.extend(...) while it runs long
            if await queue.done(key, owner): schedule(key)
            # on error: if await queue.fail(key, owner, error, retry_in=...): schedule(key)
"""

from kitsync.worker.keyqueue.backend import (
    Claim,
    DeadLetter,
    KeyQueue,
    KeyQueueError,
    KeyQueueUnavailable,
    Processing,
    QueueStats,
)
from kitsync.worker.keyqueue.backends import RedisKeyQueue, StubKeyQueue

__all__ = [
    "Claim",
    "DeadLetter",
    "KeyQueue",
    "KeyQueueError",
    "KeyQueueUnavailable",
    "Processing",
    "QueueStats",
    "RedisKeyQueue",
    "StubKeyQueue",
]
