"""Project locks shared by every worker, in Redis (see kitsync.reconcile.locks for why).

A lock lives ``LOCK_SECONDS`` and its holder renews it every third of that while it works, so
however long an anatomy change takes, a holder that dies, or that cannot reach Redis to release
the lock (a Redis restart), holds the other workers up for ``LOCK_SECONDS`` at most. (Found by
the fault tier: with a fixed 60 s lock, a release lost in a Redis restart stalled every anatomy
change of the project for a minute.) A lock not got within ``WAIT_SECONDS``, or found lost at its
release, is a transient error: the key runs again later, from fresh reads (it was dead-lettered).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from kitsync.errors import TransientError
from kitsync.redis_keys import RedisKeys

log = logging.getLogger("kitsync.worker")

LOCK_SECONDS = 10.0
# How long a worker waits for another's lock: longer than any anatomy read-modify-write.
WAIT_SECONDS = 60.0


class RedisLocks:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys

    def anatomy(self, project: str) -> AbstractAsyncContextManager[object]:
        name = self._keys.anatomy_lock(project)
        lock = self._redis.lock(name, timeout=LOCK_SECONDS, blocking_timeout=WAIT_SECONDS)
        return _renewed(lock, name)


class LockUnavailable(TransientError):
    """The lock was not ours: held elsewhere past the wait, or lost before its release (its
    holder stalled past its length). The key is retried later, and reads afresh."""


@asynccontextmanager
async def _renewed(lock: Lock, name: str) -> AsyncIterator[object]:
    try:
        async with lock:
            renewing = asyncio.ensure_future(_renew(lock))
            try:
                yield lock
            finally:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
    except LockError as error:  # not acquired within the wait, or released when not ours
        raise LockUnavailable(f"lock {name}: {error}") from error


async def _renew(lock: Lock) -> None:
    while True:
        await asyncio.sleep(LOCK_SECONDS / 3)
        try:
            await lock.reacquire()
        except RedisError as error:  # lost, or Redis unreachable: it expires by itself
            log.warning("could not renew the lock %s: %s", lock.name, error)
            return
