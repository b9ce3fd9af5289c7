"""Retry policy: which failures are worth another try, and when.

Transient failures (timeouts, 5xx, 503, lost connections: ``TransientError`` from the gateways,
and Redis / socket errors) are retried with exponential backoff and full jitter, so a fleet of
workers does not hammer a recovering AYON in step. Anything else, and a transient failure that
outlasts ``MAX_ATTEMPTS``, goes to the dead-letter list for a person to look at.
"""

from __future__ import annotations

import random

import redis.exceptions
from kombu.exceptions import OperationalError

from kitsync.errors import TransientError

MAX_ATTEMPTS = 8
BASE_DELAY = 2.0
MAX_DELAY = 600.0


_TRANSIENT = (
    TransientError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OperationalError,  # kombu: the broker could not be reached
    OSError,
)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, _TRANSIENT)


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)  # jitter, not crypto
