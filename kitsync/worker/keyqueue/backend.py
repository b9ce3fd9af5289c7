"""The key queue contract: "dirty + processing" work-queue semantics (Kubernetes client-go).

A key (``"<project>/shot/<id>"``) is in at most one state:

- QUEUED: one reconcile task for it is scheduled and not yet started;
- PROCESSING: one owner holds it under a lease (a worker that dies lets the lease expire);
  while processing it may also be DIRTY (a trigger arrived during the run);
- absent: nothing pending.

Triggers for a QUEUED key collapse into the scheduled run; a trigger for a PROCESSING key makes
it run exactly once more after the current run. Dead letters and the per-key attempts counter
are kept beside that state. Every operation is one atomic step of the backend, so several
workers on several machines may share one queue.
"""

from __future__ import annotations

import enum
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from kitsync.errors import KitsyncError, TransientError


class KeyQueueError(KitsyncError):
    """Base of every error raised by a key queue backend."""


class KeyQueueUnavailable(KeyQueueError, TransientError):
    """The backend's store could not answer now (lost connection, timeout)."""


class Claim(enum.StrEnum):
    """Outcome of ``KeyQueue.claim``."""

    GRANTED = "granted"
    """Run the reconcile, then call ``done`` (or ``fail``)."""
    BUSY = "busy"
    """Another owner holds an unexpired lease: retry the task later."""
    NOT_DUE = "not_due"
    """Queued for a retry that is not due yet: its own task is scheduled for then, so this is
    a duplicate (a recovery or redelivery); drop it rather than spend an attempt early."""
    NOT_QUEUED = "not_queued"
    """Neither queued nor processing: a duplicate delivery of an old task, drop it."""


# A task scheduled for a retry's due time may start a little early (its worker's clock against
# the backend's): claims this close to the due time are granted.
EARLY_SLACK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: str
    error: str
    failed_at: float
    """Unix time (seconds) of the failure, by the backend's clock."""
    attempts: int


@dataclass(frozen=True, slots=True)
class Processing:
    key: str
    owner: str
    age: float
    """Seconds since the owner claimed the key."""
    expires_in: float
    """Seconds left on the lease; negative once it expired (its worker probably died)."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    queued: int
    processing: tuple[Processing, ...]
    dirty: int
    dead: int
    retrying: int = 0  # of the queued keys, those waiting to be tried again after a failure


class KeyQueue(ABC):
    """Per-key work queue shared by every worker. Backends implement the ``_``-prefixed steps;
    the public methods validate arguments and skip empty batches here, once for all backends."""

    async def add(self, keys: Iterable[str]) -> list[str]:
        """Trigger ``keys``; return those the caller must schedule one reconcile task for.

        A PROCESSING key is marked dirty (it runs once more after the current run), a QUEUED
        key collapses into its scheduled run, any other key becomes QUEUED and is returned.
        Atomic for the whole batch.
        """
        batch = _unique(keys)
        return await self._add(batch) if batch else []

    async def claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        """Start processing ``key`` as ``owner`` with a lease; clears the dirty mark.

        GRANTED from QUEUED (once due, within ``EARLY_SLACK_SECONDS``), from an expired lease
        (its worker died) and to the owner that already holds it (a redelivered task); each
        GRANTED counts one attempt.
        """
        _check_owner(owner)
        _check_seconds("lease_seconds", lease_seconds, allow_zero=False)
        return await self._claim(key, owner, lease_seconds)

    async def extend(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Heartbeat: renew ``owner``'s lease to ``lease_seconds`` from now; False if lost."""
        _check_owner(owner)
        _check_seconds("lease_seconds", lease_seconds, allow_zero=False)
        return await self._extend(key, owner, lease_seconds)

    async def done(self, key: str, owner: str) -> bool:
        """Finish a successful run: resets attempts and clears the key's dead letter.

        True when a trigger arrived during the run: the key is QUEUED again and the caller
        schedules one more task. False when it is forgotten, or when ``owner`` no longer holds
        it (its lease expired and was taken over), in which case nothing changes.
        """
        _check_owner(owner)
        return await self._done(key, owner)

    async def fail(self, key: str, owner: str, error: str, *, retry_in: float | None) -> bool:
        """Release ``key`` after a failed run.

        ``retry_in`` seconds: the key is QUEUED again (due then), the attempts count is kept,
        and the result is True: the caller schedules one task with that countdown.
        ``retry_in=None``: the key becomes a dead letter (with its attempts, which restart at
        zero); returns True only if a trigger arrived during the run, in which case the key is
        also QUEUED and the caller schedules one task now.
        False when ``owner`` no longer holds the key: nothing changes.
        """
        _check_owner(owner)
        if retry_in is not None:
            _check_seconds("retry_in", retry_in, allow_zero=True)
        return await self._fail(key, owner, error, retry_in)

    @abstractmethod
    async def due_in(self, key: str) -> float | None:
        """Seconds until a QUEUED key is due, on the queue's own clock (Redis's): negative when
        due already; None when the key is not QUEUED. Lets a task that arrived early (its
        sender's clock ahead of Redis's) wait the rest instead of being dropped."""

    @abstractmethod
    async def attempts(self, key: str) -> int:
        """Claims granted since the key last finished with ``done`` (or became a dead letter)."""

    @abstractmethod
    async def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest failure first."""

    async def replay(self, keys: Iterable[str] | None = None) -> list[str]:
        """Move dead letters (all, or those among ``keys``) back as if triggered by ``add``;
        return the keys to schedule one task for. Keys that are not dead letters are ignored."""
        return await self._replay(None if keys is None else _unique(keys))

    async def drop(self, keys: Iterable[str] | None = None) -> list[str]:
        """Forget dead letters (all, or those among ``keys``); return the keys dropped."""
        return await self._drop(None if keys is None else _unique(keys))

    async def recover(self, older_than_seconds: float) -> list[str]:
        """Keys whose task looks lost; the caller schedules one task for each.

        A QUEUED key due more than ``older_than_seconds`` ago (its task was never sent, or was
        lost) is returned and counts as due now, so the next call does not return it again
        before that much time passes. A PROCESSING key whose lease expired more than
        ``older_than_seconds`` ago (its worker died and its task is gone) becomes QUEUED and is
        returned. Use a value longer than the broker's redelivery delay (visibility timeout).
        """
        _check_seconds("older_than_seconds", older_than_seconds, allow_zero=True)
        return await self._recover(older_than_seconds)

    @abstractmethod
    async def stats(self) -> QueueStats:
        """Counts of queued, dirty and dead keys, and every processing key with its owner."""

    async def keep_seen(
        self, ids: Iterable[str], ttl_seconds: int, *, only_new: bool = False
    ) -> None:
        """Mark the ids seen (Kitsu event ids) for ``ttl_seconds`` from now, whether they were or
        not; with ``only_new``, leave the marks already there as they are."""
        if ttl_seconds < 1:
            raise ValueError(f"ttl_seconds must be at least 1, got {ttl_seconds}")
        batch = _unique(ids)
        if batch:
            await self._keep_seen(batch, ttl_seconds, only_new)

    async def unseen(self, ids: Iterable[str]) -> list[str]:
        """The ids not marked seen, in order; marks nothing."""
        batch = _unique(ids)
        return await self._unseen(batch) if batch else []

    @abstractmethod
    async def close(self) -> None:
        """Release what the backend opened itself."""

    @abstractmethod
    async def _add(self, keys: list[str]) -> list[str]: ...

    @abstractmethod
    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim: ...

    @abstractmethod
    async def _extend(self, key: str, owner: str, lease_seconds: float) -> bool: ...

    @abstractmethod
    async def _done(self, key: str, owner: str) -> bool: ...

    @abstractmethod
    async def _fail(self, key: str, owner: str, error: str, retry_in: float | None) -> bool: ...

    @abstractmethod
    async def _replay(self, keys: list[str] | None) -> list[str]: ...

    @abstractmethod
    async def _drop(self, keys: list[str] | None) -> list[str]: ...

    @abstractmethod
    async def _recover(self, older_than_seconds: float) -> list[str]: ...

    @abstractmethod
    async def _unseen(self, ids: list[str]) -> list[str]: ...

    @abstractmethod
    async def _keep_seen(self, ids: list[str], ttl_seconds: int, only_new: bool) -> None: ...


def _unique(items: Iterable[str]) -> list[str]:
    if isinstance(items, str):
        # A bare string is an iterable of characters: surely a caller's mistake.
        raise TypeError("expected an iterable of keys, got a single str")
    return list(dict.fromkeys(items))


def _check_owner(owner: str) -> None:
    if not owner:
        raise ValueError("owner must be a non-empty string")


def _check_seconds(name: str, value: float, *, allow_zero: bool) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value}")
