"""A budget shared by every kitsync process through Redis: each step is one Lua script.

Scripts are the ``.lua`` files in ``lua/``, each with ``lua/_lib.lua`` prepended, registered
once (redis-py sends them again if a restarted Redis lost its script cache). Keys, per server
(``ayon``, ``kitsu``): ``kitsync.redis_keys`` (a ZSET of slots, a pause-until).

A slot is a lease (the key queue's idea): its holder renews it every third of the lease while the
request runs, and a slot whose holder died is reclaimed by the next ``acquire`` once its lease ran
out. dramatiq's concurrent limiter keeps a bare counter instead, which a killed holder leaves one
too high until the whole key expires (never, while traffic keeps refreshing it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kitsync.budget._budget import BudgetUsage, SlotBudget
from kitsync.errors import TransientError
from kitsync.redis_errors import redis_unavailable
from kitsync.redis_keys import RedisKeys

log = logging.getLogger(__name__)


class _Unreachable(TransientError):
    """Redis cannot serve the budget now (``kitsync.redis_errors``): waited out inside, and
    transient to a caller of ``usage``. The message is Redis's."""


_SCRIPTS = ("acquire", "release", "renew", "pause", "usage")
_OUTAGE_RETRY = 0.5  # seconds between two tries while Redis cannot be reached


def _source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBudget(SlotBudget):
    """``redis``: a shared ``redis.asyncio.Redis`` (not closed here). ``prefix``: the settings'
    ``redis_prefix``. Every process sharing a budget must be given the same ``limit``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        server: str,
        limit: int,
        *,
        prefix: str,
        lease_seconds: float,
        wait_seconds: float,
    ) -> None:
        super().__init__(server, limit, wait_seconds=wait_seconds)
        if not lease_seconds >= 1:
            raise ValueError(f"lease_seconds must be at least 1, got {lease_seconds}")
        self._lease = lease_seconds
        self._keys = RedisKeys(prefix).budget(server)
        lib = _source("_lib.lua")
        self._scripts = {
            name: redis.register_script(lib + "\n" + _source(f"{name}.lua")) for name in _SCRIPTS
        }
        self._outage: str | None = None

    async def _try_acquire(self, token: str) -> float | None:
        try:
            reply = await self._run("acquire", token, self._limit, self._lease)
        except _Unreachable as error:
            if self._outage is None:
                log.warning("%s budget: Redis unreachable, waiting for it: %s", self._server, error)
            self._outage = str(error)
            return _OUTAGE_RETRY
        if self._outage is not None:
            log.info("%s budget: Redis is back", self._server)
            self._outage = None
        state = _text(reply[0])
        if state == "granted":
            return None
        return float(_text(reply[1])) if state == "paused" else 0.0

    async def _release(self, token: str) -> None:
        try:
            await self._run("release", token)
        except _Unreachable as error:
            # Its lease gives the slot back.
            log.warning("%s budget: could not release a slot (%s)", self._server, error)

    @asynccontextmanager
    async def _renewed(self, token: str) -> AsyncIterator[None]:
        renewer = asyncio.create_task(self._renew_every(token))
        try:
            yield
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer

    def _holding(self, token: str) -> AbstractAsyncContextManager[object]:
        return self._renewed(token)

    async def _renew_every(self, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                if not await self._run("renew", token, self._lease):
                    log.warning("%s budget: a slot held too long was reclaimed", self._server)
                    return
            except _Unreachable:
                continue  # the next renewal may get through; the request goes on either way

    async def _pause(self, seconds: float) -> None:
        try:
            await self._run("pause", seconds)
        except _Unreachable as error:
            # The pause is then not shared; the request still waits for Redis to come back.
            log.warning("%s budget: could not share a pause (%s)", self._server, error)

    async def usage(self) -> BudgetUsage:
        held, paused_for = await self._run("usage")
        return BudgetUsage(self._server, self._limit, int(held), float(_text(paused_for)))

    def _unavailable_note(self) -> str:
        return f" (Redis unreachable: {self._outage})" if self._outage else ""

    async def _run(self, name: str, *args: str | float) -> Any:
        try:
            return await self._scripts[name](keys=self._keys, args=list(args))
        except RedisError as error:
            if redis_unavailable(error):  # waited out like a taken slot
                raise _Unreachable(f"{type(error).__name__}: {error}") from error
            raise
