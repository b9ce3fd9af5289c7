"""Key queue in Redis: each operation is one Lua script, so one atomic round trip.

Scripts are ``.lua`` files beside this module; the queue scripts share ``_lib.lua`` (prepended).
They are registered once per backend (``register_script``: sent with ``SCRIPT LOAD`` semantics on
first use and re-sent by redis-py if the server lost its script cache). Lease times come from
the Redis server clock, so workers on machines with skewed clocks agree.

Key layout: ``kitsync.redis_keys`` (every key under ``prefix``, default
``kitsync:keyqueue:``). Every script names the keys it touches in KEYS.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from importlib import resources
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kitsync.redis_errors import redis_unavailable
from kitsync.redis_keys import KeyQueueKeys
from kitsync.worker.keyqueue.backend import (
    EARLY_SLACK_SECONDS,
    Claim,
    DeadLetter,
    KeyQueue,
    KeyQueueError,
    KeyQueueUnavailable,
    Processing,
    QueueStats,
)

DEFAULT_PREFIX = "kitsync:keyqueue:"
_QUEUE_SCRIPTS = ("add", "claim", "extend", "done", "fail", "replay", "drop", "recover", "stats")
_ALL = "*"  # take_dead() argument: every dead letter
_T = TypeVar("_T")


def _source(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _text(value: bytes | str) -> str:
    # The client may or may not decode responses; ours does, a caller's may not.
    return value.decode() if isinstance(value, bytes) else value


class RedisKeyQueue(KeyQueue):
    """``redis``: a ``redis.asyncio.Redis`` (shared, not closed by ``close``) or a URL (a client
    is opened for it and closed by ``close``)."""

    def __init__(self, redis: aioredis.Redis | str, *, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix:
            raise ValueError("prefix must be non-empty: the queue's keys must be recognisable")
        self._owns_client = isinstance(redis, str)
        self._redis = (
            aioredis.Redis.from_url(redis, decode_responses=True)
            if isinstance(redis, str)
            else redis
        )
        self._prefix = prefix
        self._names = KeyQueueKeys(prefix)
        self._keys = self._names.structures
        lib = _source("_lib.lua")
        self._scripts = {
            name: self._redis.register_script(lib + "\n" + _source(f"{name}.lua"))
            for name in _QUEUE_SCRIPTS
        }
        self._due_in_script = self._redis.register_script(lib + "\n" + _source("due_in.lua"))

    @property
    def prefix(self) -> str:
        return self._prefix

    async def _add(self, keys: list[str]) -> list[str]:
        return _texts(await self._run("add", keys))

    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        return Claim(
            _text(await self._run("claim", [key, owner, lease_seconds, EARLY_SLACK_SECONDS]))
        )

    async def _extend(self, key: str, owner: str, lease_seconds: float) -> bool:
        return bool(await self._run("extend", [key, owner, lease_seconds]))

    async def _done(self, key: str, owner: str) -> bool:
        return bool(await self._run("done", [key, owner]))

    async def _fail(self, key: str, owner: str, error: str, retry_in: float | None) -> bool:
        return bool(
            await self._run("fail", [key, owner, error, "" if retry_in is None else retry_in])
        )

    async def due_in(self, key: str) -> float | None:
        left = await self._guard(self._due_in_script(keys=self._keys, args=[key]))
        return None if left is None else float(left)

    async def attempts(self, key: str) -> int:
        count = await self._guard(self._redis.hget(self._names.attempts, key))
        return int(count or 0)

    async def dead_letters(self) -> list[DeadLetter]:
        raw = await self._guard(self._redis.hgetall(self._names.dead))
        letters = []
        for key, blob in raw.items():
            record = json.loads(blob)
            letters.append(
                DeadLetter(
                    _text(key), record["error"], float(record["failed_at"]), int(record["attempts"])
                )
            )
        return sorted(letters, key=lambda letter: (letter.failed_at, letter.key))

    async def _replay(self, keys: list[str] | None) -> list[str]:
        return _texts(await self._run("replay", _selection(keys)))

    async def _drop(self, keys: list[str] | None) -> list[str]:
        return _texts(await self._run("drop", _selection(keys)))

    async def _recover(self, older_than_seconds: float) -> list[str]:
        return _texts(await self._run("recover", [older_than_seconds]))

    async def stats(self) -> QueueStats:
        reply = await self._run("stats", [])
        queued, dirty, dead, retrying = (int(count) for count in reply[:4])
        rows = reply[4:]
        processing = tuple(
            Processing(_text(rows[i]), _text(rows[i + 1]), float(rows[i + 2]), float(rows[i + 3]))
            for i in range(0, len(rows), 4)
        )
        by_key = tuple(sorted(processing, key=lambda p: p.key))
        return QueueStats(queued, by_key, dirty, dead, retrying)

    async def _keep_seen(self, ids: list[str], ttl_seconds: int, only_new: bool) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for seen_id in ids:
                pipe.set(self._names.seen(seen_id), "1", ex=ttl_seconds, nx=only_new)
            await self._guard(pipe.execute())

    async def _unseen(self, ids: list[str]) -> list[str]:
        markers = await self._guard(self._redis.mget([self._names.seen(i) for i in ids]))
        return [seen_id for seen_id, marker in zip(ids, markers, strict=True) if marker is None]

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()

    async def _run(self, name: str, args: Sequence[str | float]) -> Any:
        return await self._guard(self._scripts[name](keys=self._keys, args=list(args)))

    @staticmethod
    async def _guard(call: Awaitable[_T]) -> _T:
        try:
            return await call
        except RedisError as exc:
            if redis_unavailable(exc):
                raise KeyQueueUnavailable(f"key queue: Redis unavailable ({exc})") from exc
            raise KeyQueueError(f"key queue: Redis refused the operation ({exc})") from exc


def _selection(keys: list[str] | None) -> list[str]:
    return [_ALL] if keys is None else ["", *keys]


def _texts(values: list[bytes | str]) -> list[str]:
    return [_text(value) for value in values]
