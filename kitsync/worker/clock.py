"""Redis's clock: the one clock every machine of the farm shares. Times compared across
processes (the last poll, due times, leases) are read from it, never from a machine's own."""

from __future__ import annotations

import redis.asyncio as aioredis


async def redis_now(redis: aioredis.Redis) -> float:
    """Redis's ``TIME`` in Unix seconds."""
    seconds, microseconds = await redis.time()
    return float(seconds) + float(microseconds) / 1_000_000
