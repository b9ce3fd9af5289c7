"""The key queue on the real Redis: the whole contract, then workers on separate connections
hammering few keys, with crashes, and a check that every key written lies under the prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from kitsync.worker.keyqueue import Claim, KeyQueue, RedisKeyQueue
from tests.unit.test_keyqueue import (
    EMPTY,
    Advance,
    KeyQueueContract,
    SameStore,
    Simulation,
    real_sleep,
)

pytestmark = pytest.mark.integration


class TestRealRedis(KeyQueueContract):
    @pytest.fixture
    async def opened(self) -> AsyncIterator[list[KeyQueue]]:
        """Every queue a test opens (each on its own connection pool, like separate workers)."""
        queues: list[KeyQueue] = []
        yield queues
        for queue in queues:
            await queue.close()

    @pytest.fixture
    def queue(self, redis_url: str, redis_prefix: str, opened: list[KeyQueue]) -> KeyQueue:
        opened.append(RedisKeyQueue(redis_url, prefix=redis_prefix))
        return opened[-1]

    @pytest.fixture
    def advance(self) -> Advance:
        return real_sleep

    @pytest.fixture
    def same_store(self, redis_url: str, redis_prefix: str, opened: list[KeyQueue]) -> SameStore:
        async def same() -> KeyQueue:
            opened.append(RedisKeyQueue(redis_url, prefix=redis_prefix))
            return opened[-1]

        return same


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_many_workers_hammering_few_keys_never_overlap(
    redis_url: str, redis_prefix: str, client: aioredis.Redis
) -> None:
    # 12 workers, each its own client (as on separate machines), 600 triggers over 5 keys;
    # some tasks are delivered twice, some runs crash without releasing the key (lease expiry +
    # redelivery), some fail and retry.
    queues: list[KeyQueue] = [RedisKeyQueue(redis_url, prefix=redis_prefix) for _ in range(12)]
    sim = Simulation(
        queues,
        [f"proj/shot/{i}" for i in range(5)],
        triggers=600,
        duplicate_rate=0.1,
        crash_rate=0.02,
        max_crashes=6,
        retry_rate=0.05,
        lease=0.5,
    )
    try:
        await sim.play(seed=2024, limit=60)
        sim.check()
        assert sim.crashes > 0
        assert sum(len(runs) for runs in sim.runs.values()) > len(sim.keys) * 10
        assert await queues[0].stats() == EMPTY
        assert await queues[0].dead_letters() == []
    finally:
        for queue in queues:
            await queue.close()


async def test_every_key_written_is_under_the_prefix(
    redis_url: str, redis_prefix: str, client: aioredis.Redis
) -> None:
    # Other sessions may share this Redis database, so look for this test's unique token:
    # any key the backend derived from a queue key, owner or event id must carry the prefix.
    token = uuid.uuid4().hex
    queue = RedisKeyQueue(redis_url, prefix=redis_prefix)
    try:
        keys = [f"{token}/shot/{i}" for i in range(3)]
        await queue.add(keys)
        await queue.claim(keys[0], f"owner-{token}", 30)
        await queue.add(keys[:1])
        await queue.claim(keys[1], f"owner-{token}", 30)
        await queue.fail(keys[1], f"owner-{token}", f"error-{token}", retry_in=None)
        await queue.replay()
        await queue.keep_seen([f"event-{token}"], 60)
        await queue.recover(0)
        await queue.stats()
    finally:
        await queue.close()
    everything = [key async for key in client.scan_iter(match="*", count=1000)]
    assert [key for key in everything if token in key and not key.startswith(redis_prefix)] == []
    ours = sorted(
        key.removeprefix(redis_prefix) for key in everything if key.startswith(redis_prefix)
    )
    assert ours == sorted(
        ["queued", "owner", "lease", "since", "dirty", "attempts", f"seen:event-{token}"]
    )


async def test_lease_expiry_uses_the_server_clock(
    redis_url: str, redis_prefix: str, client: aioredis.Redis
) -> None:
    queue = RedisKeyQueue(client, prefix=redis_prefix)
    await queue.add(["k"])
    await queue.claim("k", "w1", 30)
    server_now = float((await client.time())[0])
    expiry = await client.zscore(redis_prefix + "lease", "k")
    assert expiry is not None and 29 <= expiry - server_now <= 31
    await queue.close()  # shared client: left open
    assert await client.ping()


async def test_redelivered_task_after_a_worker_dies_is_taken_over(
    redis_url: str, redis_prefix: str
) -> None:
    first = RedisKeyQueue(redis_url, prefix=redis_prefix)
    second = RedisKeyQueue(redis_url, prefix=redis_prefix)
    try:
        assert await first.add(["k"]) == ["k"]
        assert await first.claim("k", "worker-a", 0.2) is Claim.GRANTED
        await first.close()  # worker-a is gone mid-run, holding the key
        assert await second.claim("k", "worker-b", 30) is Claim.BUSY
        await asyncio.sleep(0.3)
        assert await second.claim("k", "worker-b", 30) is Claim.GRANTED
        assert await second.done("k", "worker-b") is False
        assert await second.stats() == EMPTY
    finally:
        await second.close()
