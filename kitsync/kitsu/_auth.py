"""The bearer token one client shares between all its coroutines.

With email and password the token is obtained lazily and renewed at most once per rejected
token: many coroutines that see the same token rejected at the same time cause one login, not
one each. A bot token is fixed and never renewed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Login = Callable[[], Awaitable[str]]


class BearerToken:
    def __init__(self, *, login: Login | None, fixed: str | None) -> None:
        self._login = login
        self._token = fixed
        # Bound to the event loop on first contended use: one client per event loop.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"BearerToken(renewable={self.renewable}, ready={self._token is not None})"

    @property
    def renewable(self) -> bool:
        return self._login is not None

    @property
    def current(self) -> str | None:
        return self._token

    async def get(self) -> str:
        """The current token, logging in first if there is none yet."""
        if self._token is not None:
            return self._token
        return await self.renew(None)

    async def renew(self, rejected: str | None) -> str:
        """A token other than ``rejected``: logs in unless another coroutine already did."""
        async with self._lock:
            if self._token is not None and self._token != rejected:
                return self._token
            if self._login is None:
                raise RuntimeError("a fixed bot token cannot be renewed")
            self._token = await self._login()
            return self._token
