"""Which Redis errors mean "not now": Redis restarting, failing over (a read-only replica
answers), out of memory, unable to persist to disk (MISCONF refuses every write), or busy with a
script. Every part of kitsync that talks to Redis waits for these or retries them later; any
other Redis error is a refusal of the operation itself."""

from __future__ import annotations

from redis.exceptions import (
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

_UNAVAILABLE = (
    RedisConnectionError,  # with BusyLoadingError: still loading its data after a restart
    RedisTimeoutError,
    ReadOnlyError,
    OutOfMemoryError,
    TryAgainError,
    ClusterDownError,
)
# Replies redis-py has no class for.
_NOT_NOW_REPLIES = ("MISCONF ", "BUSY ", "NOREPLICAS ")


def redis_unavailable(error: BaseException) -> bool:
    """``error`` says Redis cannot do it now, and the same call may succeed later."""
    if isinstance(error, _UNAVAILABLE):
        return True
    return isinstance(error, ResponseError) and str(error).startswith(_NOT_NOW_REPLIES)
