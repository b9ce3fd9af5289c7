"""Retry policy: which failures are worth another try, and when.

Transient failures (timeouts, 5xx, 503, lost connections: ``TransientError`` from the gateways,
and Redis / socket errors) are retried with exponential backoff and full jitter, so a fleet of
workers does not hammer a recovering AYON in step. Anything else, and a transient failure that
outlasts ``MAX_ATTEMPTS``, goes to the dead-letter list for a person to look at.
"""

from __future__ import annotations

import random
from typing import Any

import redis.exceptions
from kombu.exceptions import OperationalError

from kitsync.errors import TransientError

MAX_ATTEMPTS = 8
BASE_DELAY = 2.0
MAX_DELAY = 600.0

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
