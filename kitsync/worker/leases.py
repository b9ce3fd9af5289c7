"""Leases: one holder at a time, renewed by a heartbeat while the work runs, free again by
themselves when the holder dies.

A lease short enough that a dead worker's work is taken over quickly must not expire under a
live worker's slow run: it is renewed every third of its length. If a renewal finds the lease
gone (this worker stalled longer than the lease and another took over), the work is cancelled,
so the same thing is never done by two workers at once for longer than one renewal period.

Two kinds: a key's lease lives in the key queue (``queue.extend``); a :class:`RedisLease` guards
whole-project work (a full reconcile, the poll) that a redelivered or duplicated task must not
run twice at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import redis.asyncio as aioredis

from kitsync.errors import KitsyncError
from kitsync.worker.keyqueue import KeyQueue

T = TypeVar("T")

# Compare-and-renew / compare-and-delete: only the holder may touch its lease.
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then"
    " return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class LeaseLost(KitsyncError):
    """Another worker took over: this run was cancelled."""


async def while_renewed(
    renew: Callable[[], Awaitable[bool]],
    seconds: float,
    work: Coroutine[Any, Any, T],
    lost: str,
) -> T:
    """Run ``work`` while calling ``renew`` every third of ``seconds``; raise LeaseLost(``lost``)
    and cancel the work when a renewal says the lease is gone."""
    running = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({running}, timeout=seconds / 3)
            if done:
                return running.result()
            if not await renew():
                raise LeaseLost(lost)
    finally:
        if not running.done():
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def while_holding(
    queue: KeyQueue, key: str, owner: str, lease_seconds: float, work: Coroutine[Any, Any, T]
) -> T:
    """Run ``work`` while renewing ``owner``'s lease on ``key``; raise LeaseLost if it goes."""
    return await while_renewed(
        lambda: queue.extend(key, owner, lease_seconds),
        lease_seconds,
        work,
        f"lease on {key} was taken over while {owner} reconciled it",
    )


class RedisLease:
    """A named lease in Redis (``SET NX PX``), held by ``owner`` for ``seconds`` at a time."""

    def __init__(self, redis: aioredis.Redis, name: str, owner: str, seconds: float) -> None:
        self._redis = redis
        self.name = name
        self._owner = owner
        self.seconds = seconds

    async def acquire(self) -> bool:
        return bool(
            await self._redis.set(self.name, self._owner, nx=True, px=int(self.seconds * 1000))
        )

    async def renew(self) -> bool:
        renewed = await self._redis.eval(
            _RENEW, 1, self.name, self._owner, int(self.seconds * 1000)
        )
        return bool(renewed)

    async def release(self) -> None:
        await self._redis.eval(_RELEASE, 1, self.name, self._owner)

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` under this lease (already acquired), renewed; released afterwards."""
        try:
            return await while_renewed(
                self.renew,
                self.seconds,
                work,
                f"lease {self.name} was lost while {self._owner} held it",
            )
        finally:
            await self.release()
