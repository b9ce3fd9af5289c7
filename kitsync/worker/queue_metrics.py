"""Gauges of the shared state, read from the key queue at scrape time.

The queue's size and the poller's lag are facts about Redis, not about one process: kept as
per-process gauges they said whatever the process last saw (the receiver, which never polls,
said a lag of 0 s while the poller was 395 s behind). Read at scrape time they say the same on
the receiver's ``/metrics`` and on every worker's metrics port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis.asyncio as aioredis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kitsync.config import Settings, reveal
from kitsync.redis_keys import RedisKeys
from kitsync.worker.clock import redis_now
from kitsync.worker.keyqueue import KeyQueue, KeyQueueError, RedisKeyQueue

LastPoll = Callable[[], Awaitable[float | None]]
"""When the last poll finished (Unix seconds), or None if none has yet."""
QueueState = tuple[dict[str, int], float | None]
StateReader = Callable[[], Coroutine[Any, Any, QueueState]]


class QueueStateCollector(Collector):
    """``kitsync_keys{state}`` and ``kitsync_poller_lag_seconds``, from ``read``: a coroutine
    function run on the scrape thread (with clients of its own) that returns the key counts by
    state and when the last poll finished."""

    def __init__(self, read: StateReader) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # A thread of its own: the scrape may come from inside a running loop (the receiver's).
        with ThreadPoolExecutor(1) as pool:
            reading = pool.submit(lambda: asyncio.run(self._read()))
        try:
            counts, last_poll = reading.result()
        except (KeyQueueError, OSError):
            return  # Redis down: no value is better than a stale one
        keys = GaugeMetricFamily("kitsync_keys", "Keys of the key queue by state", labels=["state"])
        for state, count in counts.items():
            keys.add_metric([state], count)
        yield keys
        if last_poll is not None:
            yield GaugeMetricFamily(
                "kitsync_poller_lag_seconds",
                "Seconds since the catch-up poller last finished reading Kitsu's event log",
                value=max(0.0, time.time() - last_poll),
            )


def redis_queue_state(
    settings: Settings,
) -> StateReader:
    """The reader for a deployment with Redis: a client per scrape, closed afterwards."""
    keys = RedisKeys(settings.redis_prefix)

    async def read() -> QueueState:
        redis = aioredis.Redis.from_url(reveal(settings.redis_url) or "")

        async def last_poll() -> float | None:
            raw = await redis.get(keys.poll_last)
            # As seconds before this machine's now, whatever its clock says.
            return None if not raw else time.time() - (await redis_now(redis) - float(raw))

        try:
            return await queue_state(RedisKeyQueue(redis, prefix=keys.key_queue), last_poll)
        finally:
            await redis.aclose()

    return read


async def queue_state(queue: KeyQueue, last_poll: LastPoll) -> QueueState:
    stats = await queue.stats()
    counts = {
        "queued": stats.queued,
        "processing": len(stats.processing),
        "dirty": stats.dirty,
        "retrying": stats.retrying,
        "dead": stats.dead,
    }
    return counts, await last_poll()
