"""What happens when a task fails: which failures are worth another try, when, and when a key
goes to the dead-letter list instead.

Transient failures (timeouts, 5xx, 503, lost connections: ``TransientError`` from the gateways,
and Redis / socket errors) are retried with exponential backoff and full jitter, so a fleet of
workers does not hammer a recovering AYON in step. Anything else, and a transient failure that
outlasts ``MAX_ATTEMPTS``, goes to the dead-letter list for a person to look at
(``kitsync dlq list | replay | drop``), recorded in AYON as a failed ``kitsync.reconcile`` event.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import redis.exceptions
from kombu.exceptions import OperationalError

from kitsync.core.routing import Key
from kitsync.errors import TransientError
from kitsync.worker.audit import record_reconcile
from kitsync.worker.runtime import Runtime
from kitsync.worker.scheduling import schedule

log = logging.getLogger("kitsync.worker")

MAX_ATTEMPTS = 8
BASE_DELAY = 2.0
MAX_DELAY = 600.0

# Celery's own retries (ingest, full reconciles): exponential, capped, with jitter.
CELERY_BACKOFF: dict[str, Any] = {
    "retry_backoff": True,
    "retry_backoff_max": int(MAX_DELAY),
    "retry_jitter": True,
}

# Retrying a Celery task publishes a new message. With the broker (Redis) down that fails, and
# Celery then rejects the task for good: its message stays unacknowledged in Redis until the
# visibility timeout (an hour). For ``ingest`` that loses events the receiver took (found by the
# fault tier: an ingest started just before a Redis restart failed on its first key-queue call).
# Its retry waits for the broker instead, up to about five minutes: a restart takes seconds.
REPUBLISH_POLICY: dict[str, Any] = {
    "max_retries": 60,
    "interval_start": 0.5,
    "interval_step": 0.5,
    "interval_max": 5.0,
}


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OperationalError,  # kombu: the broker could not be reached
    OSError,
)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT_ERRORS)


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)  # jitter, not crypto


def reconcile_failed(runtime: Runtime, key: Key, owner: str, error: Exception) -> dict[str, Any]:
    """A key's reconcile raised: retry it later (transient, attempts left) or dead-letter it.

    Either way the key leaves PROCESSING; a trigger that came during the run schedules it again.
    """
    queue = runtime.queue()
    message = f"{type(error).__name__}: {error}"
    attempts = runtime.run(queue.attempts(str(key)))
    if is_transient(error) and attempts < MAX_ATTEMPTS:
        delay = backoff(attempts)
        if runtime.run(queue.fail(str(key), owner, message, retry_in=delay)):
            schedule(runtime, [key], countdown=delay)
        log.warning(
            "reconcile %s failed (attempt %s), retrying in %.0f s: %s",
            key,
            attempts,
            delay,
            message,
        )
        return {"key": str(key), "outcome": "retrying", "error": message}
    if runtime.run(queue.fail(str(key), owner, message, retry_in=None)):
        schedule(runtime, [key])
    record_reconcile(runtime, key, None, message)
    log.error(
        "reconcile %s failed for good after %s attempts, dead-lettered: %s",
        key,
        attempts,
        message,
    )
    return {"key": str(key), "outcome": "dead letter", "error": message}
