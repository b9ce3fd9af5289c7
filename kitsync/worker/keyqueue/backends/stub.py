"""In-process key queue: the single-process mode and tests. Same semantics as the Redis backend.

State lives in plain dicts guarded by a lock; no operation awaits while holding it, so each one
is atomic for coroutines of one loop and for threads alike. ``clock`` (Unix seconds) is
injectable so lease and TTL tests need no sleeping.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

from kitsync.worker.keyqueue.backend import (
    EARLY_SLACK_SECONDS,
    Claim,
    DeadLetter,
    KeyQueue,
    Processing,
    QueueStats,
)


class StubKeyQueue(KeyQueue):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._queued: dict[str, float] = {}  # key -> due at
        self._owner: dict[str, str] = {}  # key -> owner, for PROCESSING keys
        self._lease: dict[str, float] = {}  # key -> lease expiry
        self._since: dict[str, float] = {}  # key -> claimed at
        self._dirty: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._dead: dict[str, DeadLetter] = {}
        self._seen: dict[str, float] = {}  # event id -> expiry
        self._seen_expiries: list[tuple[float, str]] = []  # heap, to forget expired ids cheaply

    async def _add(self, keys: list[str]) -> list[str]:
        with self._lock:
            now = self._clock()
            return [key for key in keys if self._enqueue(key, now)]

    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        with self._lock:
            now = self._clock()
            holder = self._owner.get(key)
            if holder is not None:
                if holder != owner and self._lease[key] > now:
                    return Claim.BUSY
            elif key not in self._queued:
                return Claim.NOT_QUEUED
            elif self._queued[key] > now + EARLY_SLACK_SECONDS:
                return Claim.NOT_DUE
            else:
                del self._queued[key]
            self._owner[key] = owner
            self._lease[key] = now + lease_seconds
            self._since[key] = now
            self._dirty.discard(key)
            self._attempts[key] = self._attempts.get(key, 0) + 1
            return Claim.GRANTED

    async def _extend(self, key: str, owner: str, lease_seconds: float) -> bool:
        with self._lock:
            if self._owner.get(key) != owner:
                return False
            self._lease[key] = self._clock() + lease_seconds
            return True

    async def _done(self, key: str, owner: str) -> bool:
        with self._lock:
            if self._owner.get(key) != owner:
                return False
            self._release(key)
            self._attempts.pop(key, None)
            self._dead.pop(key, None)
            return self._requeue_if_dirty(key, self._clock())

    async def _fail(self, key: str, owner: str, error: str, retry_in: float | None) -> bool:
        with self._lock:
            if self._owner.get(key) != owner:
                return False
            now = self._clock()
            self._release(key)
            if retry_in is not None:
                self._dirty.discard(key)  # the retry is the one more run
                self._queued[key] = now + retry_in
                return True
            attempts = self._attempts.pop(key, 0)
            self._dead[key] = DeadLetter(key, error, now, attempts)
            return self._requeue_if_dirty(key, now)

    async def due_in(self, key: str) -> float | None:
        with self._lock:
            due = self._queued.get(key)
            return None if due is None else due - self._clock()

    async def attempts(self, key: str) -> int:
        with self._lock:
            return self._attempts.get(key, 0)

    async def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            return sorted(self._dead.values(), key=lambda letter: (letter.failed_at, letter.key))

    async def _replay(self, keys: list[str] | None) -> list[str]:
        with self._lock:
            now = self._clock()
            return [key for key in self._take_dead(keys) if self._enqueue(key, now)]

    async def _drop(self, keys: list[str] | None) -> list[str]:
        with self._lock:
            return self._take_dead(keys)

    async def _recover(self, older_than_seconds: float) -> list[str]:
        with self._lock:
            now = self._clock()
            cutoff = now - older_than_seconds
            lost = [key for key, due in self._queued.items() if due <= cutoff]
            lost += [key for key, expiry in self._lease.items() if expiry <= cutoff]
            for key in lost:
                if key in self._owner:
                    self._release(key)
                    self._dirty.discard(key)
                self._queued[key] = now
            return lost

    async def stats(self) -> QueueStats:
        with self._lock:
            now = self._clock()
            processing = tuple(
                Processing(key, owner, now - self._since[key], self._lease[key] - now)
                for key, owner in sorted(self._owner.items())
            )
            retrying = sum(key in self._queued for key in self._attempts)
            return QueueStats(
                len(self._queued), processing, len(self._dirty), len(self._dead), retrying
            )

    async def _keep_seen(self, ids: list[str], ttl_seconds: int, only_new: bool) -> None:
        with self._lock:
            now = self._clock()
            for seen_id in self._unmarked(ids, now) if only_new else ids:
                self._seen[seen_id] = now + ttl_seconds
                heapq.heappush(self._seen_expiries, (now + ttl_seconds, seen_id))

    async def _unseen(self, ids: list[str]) -> list[str]:
        with self._lock:
            return self._unmarked(ids, self._clock())

    def _unmarked(self, ids: list[str], now: float) -> list[str]:
        while self._seen_expiries and self._seen_expiries[0][0] <= now:
            expiry, seen_id = heapq.heappop(self._seen_expiries)
            if self._seen.get(seen_id) == expiry:
                del self._seen[seen_id]
        return [seen_id for seen_id in ids if seen_id not in self._seen]

    async def close(self) -> None:
        """Nothing to release."""

    def _enqueue(self, key: str, now: float) -> bool:
        if key in self._owner:
            self._dirty.add(key)
            return False
        if key in self._queued:
            return False
        self._queued[key] = now
        return True

    def _release(self, key: str) -> None:
        del self._owner[key], self._lease[key], self._since[key]

    def _requeue_if_dirty(self, key: str, now: float) -> bool:
        if key not in self._dirty:
            return False
        self._dirty.discard(key)
        self._queued[key] = now
        return True

    def _take_dead(self, keys: list[str] | None) -> list[str]:
        chosen = list(self._dead) if keys is None else [key for key in keys if key in self._dead]
        for key in chosen:
            del self._dead[key]
        return chosen
