"""The Redis project lock: renewed while held, so it can be short; a holder that cannot release
it (Redis restarted under it) holds the others up for one short lock length only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import fakeredis
import pytest
import redis.asyncio as aioredis
import redis.exceptions as redis_errors

from kitsync.errors import TransientError
from kitsync.redis_keys import RedisKeys
from kitsync.worker import locks
from kitsync.worker.locks import LOCK_SECONDS, WAIT_SECONDS, LockUnavailable, RedisLocks

PROJECT = "p_locks"
SHORT = 0.3


@pytest.fixture
async def redis(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[aioredis.Redis]:
    monkeypatch.setattr(locks, "LOCK_SECONDS", SHORT)
    monkeypatch.setattr(locks, "WAIT_SECONDS", 5.0)
    client = fakeredis.FakeAsyncRedis()
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_lock_held_past_its_length_stays_held(redis: aioredis.Redis) -> None:
    mine = RedisLocks(redis, RedisKeys("t:"))
    async with mine.anatomy(PROJECT):
        await asyncio.sleep(SHORT * 4)
        assert await redis.exists(f"t:lock:anatomy:{PROJECT}")
        other = redis.lock(f"t:lock:anatomy:{PROJECT}", timeout=SHORT, blocking_timeout=0.05)
        assert not await other.acquire()
    assert not await redis.exists(f"t:lock:anatomy:{PROJECT}")


async def test_a_lock_its_holder_could_not_release_frees_itself_soon(
    redis: aioredis.Redis,
) -> None:
    async def unreachable() -> None:
        raise redis_errors.ConnectionError("Redis restarted under the holder")

    with pytest.raises(redis_errors.ConnectionError):
        async with RedisLocks(redis, RedisKeys("t:")).anatomy(PROJECT) as lock:
            await asyncio.sleep(SHORT * 2)  # renewed meanwhile
            lock.release = unreachable  # type: ignore[attr-defined]
    assert await redis.exists(f"t:lock:anatomy:{PROJECT}")  # left behind, not renewed
    started = time.monotonic()
    async with RedisLocks(redis, RedisKeys("t:")).anatomy(PROJECT):
        waited = time.monotonic() - started
    assert waited < SHORT + 0.2, f"waited {waited:.2f} s for a lock nobody renews"


def test_a_lost_lock_costs_seconds_and_a_waiter_outlasts_a_slow_holder() -> None:
    # A release lost in a Redis restart used to stall the project's anatomy for a minute.
    assert LOCK_SECONDS <= 10
    assert WAIT_SECONDS >= 6 * LOCK_SECONDS


async def test_a_lock_held_elsewhere_past_the_wait_is_a_transient_error(
    redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk build's anatomy changes queue behind each other: a key that waited too long is
    retried later, not dead-lettered."""
    monkeypatch.setattr(locks, "WAIT_SECONDS", 0.1)
    async with RedisLocks(redis, RedisKeys("t:")).anatomy(PROJECT):
        with pytest.raises(LockUnavailable, match=f"lock t:lock:anatomy:{PROJECT}") as caught:
            async with RedisLocks(redis, RedisKeys("t:")).anatomy(PROJECT):
                raise AssertionError("acquired a lock held elsewhere")
    assert isinstance(caught.value, TransientError)


async def test_a_lock_lost_before_its_release_is_a_transient_error(
    redis: aioredis.Redis,
) -> None:
    with pytest.raises(LockUnavailable, match="no longer owned"):
        async with RedisLocks(redis, RedisKeys("t:")).anatomy(PROJECT):
            await redis.delete(f"t:lock:anatomy:{PROJECT}")  # expired while its holder stalled
