"""Where the poller keeps its cursor: Redis, or a file in the single-process mode."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis

from kitsync.redis_keys import RedisKeys


class RedisCursor:
    """The second (naive UTC) the poller has read Kitsu's event log up to."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._key = keys.poll_cursor

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
