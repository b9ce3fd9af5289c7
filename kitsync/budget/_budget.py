"""The budget contract, the waiting every backend shares, and the in-process backend."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Protocol

import httpx

from kitsync.errors import TransientError
from kitsync.metrics import BUDGET_IN_USE, BUDGET_LIMIT, BUDGET_PAUSES, BUDGET_WAIT

log = logging.getLogger(__name__)

# A waiter polls the shared store (another process may free a slot) from this often to at most
# this seldom; a slot freed in its own process is handed to it at once.
_FIRST_POLL = 0.005
_LAST_POLL = 0.1
# Holder tokens are unique per process, whatever the number of budget objects in it.
_TOKENS = itertools.count()
# Requests in a row one slot may serve in a process before it goes back to the shared store.
_HANDOVERS = 4


class BudgetTimeout(TransientError, httpx.TransportError):
    """No slot came free within the budget's wait: the servers are saturated for that long.
    Transient, so the work is retried later like any other overload. Raised from under an
    ``httpx`` client (``BudgetTransport``), so it is also a transport error: each gateway turns
    it into its own "server unavailable" error, as it does a connection that failed."""


@dataclass(frozen=True, slots=True)
class BudgetUsage:
    server: str
    limit: int
    in_use: int
    """Slots held now by every process together."""
    paused_for: float
    """Seconds left of a pause the server asked for (``Retry-After``); 0 when none."""


class Budget(Protocol):
    """At most ``limit`` requests to one server at once, across every process that shares it."""

    @property
    def server(self) -> str: ...

    @property
    def limit(self) -> int: ...

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Hold one slot for the body of the ``async with``; waits (up to the budget's wait,
        then :class:`BudgetTimeout`) while all are taken or the server asked for a pause."""
        ...

    async def pause(self, seconds: float) -> None:
        """Hand out no slot, to anyone, for ``seconds`` (a ``Retry-After``; longer pauses stand)."""
        ...

    async def usage(self) -> BudgetUsage: ...


class SlotBudget(ABC):
    """What every backend shares: waiting, waking, metrics. Backends implement the ``_`` steps;
    each is one atomic step of their store."""

    def __init__(self, server: str, limit: int, *, wait_seconds: float) -> None:
        if limit < 1:
            raise ValueError(f"the {server} budget must allow at least 1 request, got {limit}")
        if not wait_seconds > 0:
            raise ValueError(f"wait_seconds must be > 0, got {wait_seconds}")
        self._server = server
        self._limit = limit
        self._wait_seconds = wait_seconds
        self._turn = asyncio.Lock()
        self._waiting: asyncio.Future[str] | None = None  # the first waiter's, while it waits
        self._handovers: dict[str, int] = {}
        self._paused_here_until = 0.0
        BUDGET_LIMIT.labels(server).set(limit)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._server!r}, limit={self._limit})"

    @property
    def server(self) -> str:
        return self._server

    @property
    def limit(self) -> int:
        return self._limit

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        token = await self._wait_for()
        BUDGET_IN_USE.labels(self._server).inc()
        try:
            async with self._holding(token):
                yield
        finally:
            BUDGET_IN_USE.labels(self._server).dec()
            if not self._hand_over(token):
                await self._release(token)

    async def pause(self, seconds: float) -> None:
        # A longer pause than a waiter would wait anyway only turns work into timeouts.
        seconds = min(seconds, self._wait_seconds)
        if seconds <= 0:
            return
        BUDGET_PAUSES.labels(self._server).inc()
        log.warning("%s asked kitsync to slow down: no requests for %.1f s", self._server, seconds)
        self._paused_here_until = max(self._paused_here_until, time.monotonic() + seconds)
        await self._pause(seconds)

    async def _wait_for(self) -> str:
        """The token of a slot now held: a new one, or one handed over in this process."""
        started = time.monotonic()
        deadline = started + self._wait_seconds
        # Unique across the cluster; pid read now: a forked child must not reuse its parent's.
        token = f"{socket.gethostname()}:{os.getpid()}:{next(_TOKENS)}"
        if self._turn.locked() or await self._try_acquire(token) is not None:
            # This process's waiters line up here, so only the first one asks the shared store
            # (which every process polls): the others wait their turn without a request.
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._turn.acquire()
            except TimeoutError:
                raise self._timeout() from None
            try:
                token = await self._poll(token, deadline)
            finally:
                self._turn.release()
        BUDGET_WAIT.labels(self._server).inc(time.monotonic() - started)
        return token

    async def _poll(self, token: str, deadline: float) -> str:
        poll = _FIRST_POLL
        while True:
            paused_for = await self._try_acquire(token)
            if paused_for is None:
                return token
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout()
            if paused_for > 0:
                # Spread the restart a little: every waiter of the cluster wakes at the same end.
                await asyncio.sleep(min(left, paused_for + random.uniform(0, _LAST_POLL)))  # noqa: S311
                continue
            handed = await self._handed_over(within=min(left, random.uniform(poll / 2, poll)))  # noqa: S311
            if handed is not None:
                return handed
            poll = min(poll * 2, _LAST_POLL)

    def _timeout(self) -> BudgetTimeout:
        return BudgetTimeout(
            f"{self._server}: no request slot of {self._limit} free within "
            f"{self._wait_seconds:g} s{self._unavailable_note()}"
        )

    async def _handed_over(self, *, within: float) -> str | None:
        """The token of a slot a request of this process handed over, if one ends ``within``
        seconds."""
        waiting: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting = waiting
        try:
            # Not wait_for: on 3.11 it swallows a cancel that comes with the hand-over (the
            # request then goes out though cancelled), on 3.12 it drops the token (a slot held
            # until its lease runs out).
            await asyncio.wait({waiting}, timeout=within)
        except asyncio.CancelledError:
            if waiting.done():  # handed over as the request was cancelled: give the slot back
                token = waiting.result()
                self._handovers.pop(token, None)
                await asyncio.shield(self._release(token))
            raise
        finally:
            self._waiting = None
        return waiting.result() if waiting.done() else None

    def _hand_over(self, token: str) -> bool:
        """Give the slot of ``token`` straight to this process's waiting request, if there is
        one: no round trip to the shared store between two requests. A slot goes on like this
        at most ``_HANDOVERS`` times, then back to the store, where other processes poll."""
        handovers = self._handovers.pop(token, 0)
        waiting = self._waiting
        if (
            waiting is None
            or waiting.done()
            or handovers >= _HANDOVERS
            or time.monotonic() < self._paused_here_until
        ):
            return False
        waiting.set_result(token)
        self._handovers[token] = handovers + 1
        return True

    def _holding(self, token: str) -> AbstractAsyncContextManager[object]:
        """Kept open while ``token`` holds its slot (a backend with leases renews them here)."""
        return nullcontext()

    def _unavailable_note(self) -> str:
        return ""

    @abstractmethod
    async def _try_acquire(self, token: str) -> float | None:
        """Take a slot for ``token``: None when granted, else 0 (all taken) or the seconds left
        of a pause."""

    @abstractmethod
    async def _release(self, token: str) -> None: ...

    @abstractmethod
    async def _pause(self, seconds: float) -> None: ...

    @abstractmethod
    async def usage(self) -> BudgetUsage: ...


class LocalBudget(SlotBudget):
    """A budget for one process (``kitsync run`` without Redis): nothing outlives it, so no
    leases."""

    def __init__(self, server: str, limit: int, *, wait_seconds: float) -> None:
        super().__init__(server, limit, wait_seconds=wait_seconds)
        self._holders: set[str] = set()
        self._paused_until = 0.0

    async def _try_acquire(self, token: str) -> float | None:
        paused_for = self._paused_until - time.monotonic()
        if paused_for > 0:
            return paused_for
        if len(self._holders) >= self._limit:
            return 0.0
        self._holders.add(token)
        return None

    async def _release(self, token: str) -> None:
        self._holders.discard(token)

    async def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def usage(self) -> BudgetUsage:
        paused_for = max(0.0, self._paused_until - time.monotonic())
        return BudgetUsage(self._server, self._limit, len(self._holders), paused_for)
