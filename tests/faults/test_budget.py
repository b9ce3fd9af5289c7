"""Scenario 8: the cluster-wide AYON budget under kills and a Redis restart.

The workers run with an AYON budget of 2 requests and a 3 s slot lease. AYON stalls two writes,
so both slots are held when the fault comes:

- the whole worker is SIGKILLed: its two slots come back within one lease, by themselves, and a
  new worker finishes the work;
- Redis (with its append-only file, as docker-compose runs it) is stopped while the slots are
  held, and the stalled requests end while it is down (their release is lost); Redis comes back
  with the slots its file kept (unless their lease ran out meanwhile): they come back within one
  lease, and the workers finish the work without anyone's help.

In both, AYON ends equal to a full sync and the budget is never exceeded (sampled all along).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from kitsync.budget import RedisBudget
from tests.fakes.ayon import inject_delay
from tests.faults._bed import fault_bed
from tests.redis_server import private_redis

pytestmark = pytest.mark.faults

LIMIT = 2
LEASE = 3.0
STALL = 1.0
BUDGET_ENV = {
    "KITSYNC_AYON_MAX_REQUESTS": str(LIMIT),
    "KITSYNC_BUDGET_LEASE_SECONDS": str(LEASE),
}


class Watch:
    """Samples the AYON budget's slots in Redis every 20 ms (through outages)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._redis = aioredis.Redis.from_url(redis_url)
        self._prefix = prefix
        self.budget = RedisBudget(
            self._redis, "ayon", LIMIT, prefix=prefix, lease_seconds=LEASE, wait_seconds=60
        )
        self.in_use = 0
        self.peak = 0

    async def run(self) -> None:
        while True:
            with suppress(RedisConnectionError, OSError):
                self.in_use = (await self.budget.usage()).in_use
            self.peak = max(self.peak, self.in_use)
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self._redis.aclose()

    async def holders(self) -> list[bytes]:
        """The holder tokens of the slots in Redis, expired or not."""
        return list(await self._redis.zrange(f"{self._prefix}budget:ayon:slots", 0, -1))

    async def until(self, in_use: int, within: float, context: str) -> float:
        """Seconds until exactly ``in_use`` slots are held."""
        started = time.monotonic()
        while self.in_use != in_use:
            assert time.monotonic() - started < within, (
                f"{context}: {self.in_use} slots held after {within:.0f} s, expected {in_use}"
            )
            await asyncio.sleep(0.02)
        return time.monotonic() - started


@asynccontextmanager
async def watching(redis_url: str, prefix: str) -> AsyncIterator[Watch]:
    watch = Watch(redis_url, prefix)
    task = asyncio.create_task(watch.run())
    try:
        yield watch
    finally:
        task.cancel()
        await watch.close()


async def test_slots_of_a_killed_worker_come_back_within_one_lease(
    pg_dsn: str, redis_url: str, redis_prefix: str, reference_dsn: str, tmp_path: Path, seed: int
) -> None:
    async with (
        fault_bed(pg_dsn, redis_url, redis_prefix, tmp_path, reference_dsn, env=BUDGET_ENV) as bed,
        watching(redis_url, redis_prefix) as watch,
    ):
        worker = await bed.start_worker(concurrency=2)
        await bed.start_beat()  # its recovery re-sends the tasks that died with the worker
        production = bed.new_production(shots=12, seed=seed * 1000 + 81)
        project = await bed.pair(production)
        inject_delay(bed.ayon_app, 30.0, count=LIMIT, method="POST")  # both slots held
        answer = await bed.post(bed.events(production))
        assert answer.status_code == 202, answer.text
        await watch.until(LIMIT, within=60, context="stalled writes")

        bed.kill(worker)
        back = await watch.until(0, within=LEASE + 2, context="after the kill")
        print(f"slots of the killed worker came back after {back:.2f} s (lease {LEASE:g} s)")

        await bed.start_worker(concurrency=2)
        await bed.converged(production, project, seconds=90)
        assert watch.peak <= LIMIT, f"{watch.peak} slots held at once, budget {LIMIT}"


async def test_budgets_recover_after_a_redis_restart(
    pg_dsn: str, redis_prefix: str, reference_dsn: str, tmp_path: Path, seed: int
) -> None:
    with private_redis(tmp_path / "redis", persistent=True) as server:
        async with (
            fault_bed(
                pg_dsn, server.url, redis_prefix, tmp_path, reference_dsn, env=BUDGET_ENV
            ) as bed,
            watching(server.url, redis_prefix) as watch,
        ):
            for _ in range(2):
                await bed.start_worker(concurrency=2)
            await bed.start_beat()
            production = bed.new_production(shots=12, seed=seed * 1000 + 82)
            project = await bed.pair(production)
            inject_delay(bed.ayon_app, STALL, count=LIMIT, method="POST")
            answer = await bed.post(bed.events(production))
            assert answer.status_code == 202, answer.text
            await watch.until(LIMIT, within=60, context="stalled writes")

            # Down longer than the stall: the stalled requests end and cannot release; shorter
            # than a lease, so the AOF brings their slots back.
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(STALL + 0.5)
            await asyncio.to_thread(server.start)
            # What the AOF kept of the stalled requests' slots (none if their lease ran out).
            restored = await watch.holders()
            started = time.monotonic()
            while set(await watch.holders()) & set(restored):
                assert time.monotonic() - started < LEASE + 2, "restored slots never came back"
                await asyncio.sleep(0.02)
            back = time.monotonic() - started
            print(f"Redis restored {len(restored)} slots; free again after {back:.2f} s")

            await bed.converged(production, project, seconds=90)
            assert watch.peak <= LIMIT, f"{watch.peak} slots held at once, budget {LIMIT}"
            for process in bed.workers:
                assert process.process.returncode is None, f"{process.name} stopped"
