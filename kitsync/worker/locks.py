"""Project locks shared by every worker, in Redis (see kitsync.tasks.locks for why)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import redis.asyncio as aioredis

# Longer than any anatomy read-modify-write; a holder that dies frees the lock after this.
LOCK_SECONDS = 60.0


class RedisLocks:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def anatomy(self, project: str) -> AbstractAsyncContextManager[object]:
        return self._redis.lock(
            f"{self._prefix}lock:anatomy:{project}",
            timeout=LOCK_SECONDS,
            blocking_timeout=LOCK_SECONDS,
        )
