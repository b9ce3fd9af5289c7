"""The per-process async runtime of a Celery worker.

Celery task bodies are synchronous; kitsync's clients are async and bound to one event loop. Each
worker process (prefork child, or the solo pool's one process) gets one loop on first use, and on
it one SyncContext (Kitsu client, AYON pool and HTTP client) and one key queue, shared by every
task that process runs. They are made after the fork, never inherited from the parent.

With a Redis URL, the key queue, the project locks and the poller's cursor live in Redis, shared
by every worker. Without one (``kitsync run`` on one machine) they live in this one process and
the cursor in a file under ``KITSYNC_STATE_DIR``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import redis.asyncio as aioredis
from celery import Celery

from kitsync.config import Settings, reveal
from kitsync.poller import CursorStore
from kitsync.reconcile import LocalLocks, ProjectLocks, SyncContext, open_context
from kitsync.redis_keys import RedisKeys
from kitsync.worker.cursor import FileCursor, RedisCursor
from kitsync.worker.keyqueue import KeyQueue, RedisKeyQueue, StubKeyQueue
from kitsync.worker.locks import RedisLocks

T = TypeVar("T")


class Runtime:
    """What a task needs besides its arguments: settings, the Celery app to send follow-up
    tasks with, this process's loop, clients and key queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = RedisKeys(settings.redis_prefix)
        self._app: Celery | None = None
        # When this process last finished a poll (Unix seconds): the lag metric of `kitsync run`.
        self.last_poll: float | None = None
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack: AsyncExitStack | None = None
        self._redis: aioredis.Redis | None = None
        self._context: SyncContext | None = None
        self._queue: KeyQueue | None = None
        # One process owns everything: the key queue is made once, shared with the receiver.
        self._local_queue = StubKeyQueue() if self.single_process else None

    @property
    def single_process(self) -> bool:
        return self.settings.redis_url is None

    @property
    def app(self) -> Celery:
        if self._app is None:
            raise RuntimeError("the runtime is not bound to a Celery app (create_celery binds it)")
        return self._app

    def bind(self, app: Celery) -> None:
        self._app = app

    @property
    def owner(self) -> str:
        """Who holds a lease taken by this process (host and pid: unique across the farm)."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine to completion on this process's loop.

        Interrupted from outside the loop (Celery's soft time limit raises in the middle of it,
        a KeyboardInterrupt), the coroutine is cancelled and awaited before the interruption goes
        on: left pending, it would go on writing during the process's next task.
        """
        loop = self._ensure_loop()
        running = loop.create_task(work)
        try:
            return loop.run_until_complete(running)
        except BaseException:
            if not running.done():
                running.cancel()
                loop.run_until_complete(asyncio.gather(running, return_exceptions=True))
            raise

    def context(self) -> SyncContext:
        if self._context is None:
            self._context = self.run(self._open_context())
        return self._context

    def redis(self) -> aioredis.Redis:
        """This process's Redis client (key queue, locks, poller cursor); Redis mode only."""
        self._ensure_loop()
        if self._redis is None:
            self._redis = aioredis.Redis.from_url(reveal(self.settings.redis_url) or "")
        return self._redis

    def queue(self) -> KeyQueue:
        if self._local_queue is not None:
            return self._local_queue
        if self._queue is None:
            self._queue = RedisKeyQueue(self.redis(), prefix=self.keys.key_queue)
        return self._queue

    def cursor(self) -> CursorStore:
        if self.single_process:
            self.settings.state_dir.mkdir(parents=True, exist_ok=True)
            return FileCursor(self.settings.state_dir / "poll-cursor")
        return RedisCursor(self.redis(), self.keys)

    def close(self) -> None:
        if self._loop is None or self._pid != os.getpid():
            return
        if self._stack is not None:
            self.run(self._stack.aclose())
        if self._redis is not None:
            self.run(self._redis.aclose())
        self._loop.close()
        self._loop = self._stack = self._context = self._queue = self._redis = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._pid != os.getpid():
            # A forked child: the parent's loop and clients are not ours to use.
            self._pid = os.getpid()
            self._loop = asyncio.new_event_loop()
            self._stack = self._context = self._queue = self._redis = None
        assert self._loop is not None
        return self._loop

    async def _open_context(self) -> SyncContext:
        self._stack = AsyncExitStack()
        locks: ProjectLocks = (
            LocalLocks() if self.single_process else RedisLocks(self.redis(), self.keys)
        )
        return await self._stack.enter_async_context(open_context(self.settings, locks))


def redis_key_queue(settings: Settings) -> RedisKeyQueue:
    """A key queue on Redis with a client of its own (for a process outside the worker runtime,
    or a thread with its own event loop, such as the receiver's)."""
    return RedisKeyQueue(
        reveal(settings.redis_url) or "", prefix=RedisKeys(settings.redis_prefix).key_queue
    )
