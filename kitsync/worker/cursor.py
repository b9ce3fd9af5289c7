"""Where the poller keeps its cursor: Redis, or a file in the single-process mode."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis

from kitsync.redis_keys import RedisKeys

log = logging.getLogger(__name__)


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
            text = self._path.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            log.error(
                "the poller's cursor file %s holds %r, not a time: the poller starts again at "
                "Kitsu's newest event; what Kitsu changed since the last cursor is left to the "
                "full reconcile (`kitsync run` makes one at start)",
                self._path,
                text[:40],
            )
            return None

    async def set(self, value: datetime) -> None:
        # Written, flushed to disk, then renamed: neither a crash nor a power cut leaves a
        # half-written or empty cursor.
        temporary = self._path.with_suffix(".tmp")
        with temporary.open("w") as file:
            file.write(value.isoformat())
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self._path)
