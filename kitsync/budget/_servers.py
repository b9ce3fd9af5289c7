"""The budgets of the servers kitsync talks to, built from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis

from kitsync.budget._budget import Budget, BudgetUsage, LocalBudget
from kitsync.budget._redis import RedisBudget
from kitsync.config import Settings, reveal


@dataclass(frozen=True)
class Budgets:
    """One budget per server; each gateway's shared HTTP client sends within its own."""

    ayon: Budget
    kitsu: Budget

    async def usage(self) -> list[BudgetUsage]:
        return [await self.ayon.usage(), await self.kitsu.usage()]


def _limits(settings: Settings) -> dict[str, int]:
    return {"ayon": settings.ayon_max_requests, "kitsu": settings.kitsu_max_requests}


def local_budgets(settings: Settings) -> Budgets:
    """Budgets of one process: ``kitsync run`` without Redis."""
    wait = settings.budget_wait_seconds
    return Budgets(
        **{
            server: LocalBudget(server, limit, wait_seconds=wait)
            for server, limit in _limits(settings).items()
        }
    )


def redis_budgets(settings: Settings, redis: aioredis.Redis) -> Budgets:
    """Budgets shared by every kitsync process using this Redis and ``redis_prefix``."""
    return Budgets(
        **{
            server: RedisBudget(
                redis,
                server,
                limit,
                prefix=settings.redis_prefix,
                lease_seconds=settings.budget_lease_seconds,
                wait_seconds=settings.budget_wait_seconds,
            )
            for server, limit in _limits(settings).items()
        }
    )


@asynccontextmanager
async def open_budgets(
    settings: Settings, redis: aioredis.Redis | None = None
) -> AsyncIterator[Budgets]:
    """The cluster's budgets in the queue's Redis when there is one (on ``redis``, or on a
    client of their own, closed on exit); else budgets of this process alone."""
    if settings.redis_url is None:
        yield local_budgets(settings)
        return
    if redis is not None:
        yield redis_budgets(settings, redis)
        return
    own = aioredis.Redis.from_url(reveal(settings.redis_url) or "")
    try:
        yield redis_budgets(settings, own)
    finally:
        await own.aclose()
