"""The poller's cursor and its single-runner lock, in Redis."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis


class RedisCursor:
    """The second (naive UTC) the poller has read Kitsu's event log up to."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._key = f"{prefix}poll:cursor"

    async def get(self) -> datetime | None:
        raw = await self._redis.get(self._key)
        if not raw:
            return None
        return datetime.fromisoformat(raw if isinstance(raw, str) else raw.decode())

    async def set(self, value: datetime) -> None:
        await self._redis.set(self._key, value.isoformat())


class FileCursor:
    """The cursor in a file, for the single-process mode (no Redis)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    async def get(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self._path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    async def set(self, value: datetime) -> None:
        # Write then rename: a crash never leaves a half-written cursor.
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(value.isoformat())
        temporary.replace(self._path)


class PollLock:
    """At most one poll at a time, across every beat and worker; expires if its holder dies."""

    def __init__(self, redis: aioredis.Redis, prefix: str, owner: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._key = f"{prefix}poll:lock"
        self._owner = owner
        self._ttl = ttl_seconds

    async def acquire(self) -> bool:
        return bool(await self._redis.set(self._key, self._owner, nx=True, ex=self._ttl))

    async def release(self) -> None:
        # Only our own lock: compare-and-delete in one step.
        await self._redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
            " return 0",
            1,
            self._key,
            self._owner,
        )
