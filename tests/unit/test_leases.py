"""The lease heartbeat: a slow reconcile keeps its key; one whose key was taken over stops."""

from __future__ import annotations

import asyncio

import fakeredis
import pytest

from kitsync.worker.keyqueue import Claim, StubKeyQueue
from kitsync.worker.leases import LeaseLost, RedisLease, while_holding

KEY = "p/shot/s1"


async def test_slow_work_keeps_its_lease_past_the_lease_length() -> None:
    queue = StubKeyQueue()
    await queue.add([KEY])
    assert await queue.claim(KEY, "w1", 0.3) is Claim.GRANTED

    async def slow() -> str:
        await asyncio.sleep(1.0)  # three lease lengths
        # Still ours: another owner is refused throughout.
        assert await queue.claim(KEY, "w2", 0.3) is Claim.BUSY
        return "done"

    assert await while_holding(queue, KEY, "w1", 0.3, slow()) == "done"


async def test_work_is_cancelled_when_the_lease_was_taken_over() -> None:
    queue = StubKeyQueue()
    await queue.add([KEY])
    assert await queue.claim(KEY, "w1", 0.3) is Claim.GRANTED
    cancelled = asyncio.Event()

    async def stalled() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cancelled.set()

    # Another worker takes the key over (as after this worker's lease had expired).
    await queue.fail(KEY, "w1", "simulated expiry", retry_in=0)
    assert await queue.claim(KEY, "w2", 60) is Claim.GRANTED
    with pytest.raises(LeaseLost, match="taken over"):
        await while_holding(queue, KEY, "w1", 0.3, stalled())
    assert cancelled.is_set()


async def test_errors_of_the_work_propagate() -> None:
    queue = StubKeyQueue()
    await queue.add([KEY])
    await queue.claim(KEY, "w1", 5)

    async def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await while_holding(queue, KEY, "w1", 5, broken())


async def test_a_redis_lease_has_one_holder_renews_and_comes_back_when_it_expires() -> None:
    """The lease of whole-project work (a full reconcile, the poll): a redelivered task finds it
    held; a holder that died frees it when it expires; only the holder renews or releases it."""
    redis = fakeredis.aioredis.FakeRedis()
    first = RedisLease(redis, "kitsync:lease:project:p", "w1", 0.3)
    second = RedisLease(redis, "kitsync:lease:project:p", "w2", 0.3)
    assert await first.acquire()
    assert not await second.acquire()
    assert not await second.renew()
    await second.release()  # not its lease: nothing happens
    assert await first.run(asyncio.sleep(0.6, "done")) == "done"  # renewed past its length
    assert await second.acquire()  # released by the run
    await asyncio.sleep(0.4)  # w2 died without releasing: it expires
    assert await first.acquire()
    await redis.aclose()
