"""An httpx transport that sends every request of its client within a budget slot."""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime

import httpx

from kitsync.budget._budget import Budget

log = logging.getLogger(__name__)

# A 429 without Retry-After still means "too fast": the cluster holds back this long.
DEFAULT_TOO_MANY_PAUSE = 1.0
# Answers to wait out and send again before the caller gets the 429/503 as an error.
MAX_PAUSES = 5


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked kitsync to hold back, for a 429 or a 503; None otherwise.

    A 503 counts only with ``Retry-After`` (seconds or an HTTP date): without it, it is an
    ordinary failure, retried by the caller's backoff. A 429 always counts.
    """
    if response.status_code not in (429, 503):
        return None
    header = response.headers.get("retry-after", "").strip()
    if header:
        seconds = _seconds(header)
        if seconds is not None:
            return seconds
    return DEFAULT_TOO_MANY_PAUSE if response.status_code == 429 else None


def _seconds(header: str) -> float | None:
    if header.isdigit():
        return float(header)
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class BudgetTransport(httpx.AsyncBaseTransport):
    """Wraps the transport of one shared ``httpx.AsyncClient``: every request waits for a slot
    of ``budget`` (outside httpx's timeouts), holds it until its whole body is read, and a 429 /
    503 with ``Retry-After`` pauses the whole budget and is sent again after the pause, up to
    ``MAX_PAUSES`` times. AYON and Zou refuse such requests before doing anything, so sending
    one again is safe even for a POST."""

    def __init__(self, inner: httpx.AsyncBaseTransport, budget: Budget) -> None:
        self._inner = inner
        self._budget = budget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pauses = 0
        while True:
            async with self._budget.slot():
                response = await self._inner.handle_async_request(request)
                try:
                    # The server works until it has sent the body: the slot covers that too.
                    body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
                finally:
                    await response.aclose()
                delay = retry_after(response)
                if delay is None or pauses == MAX_PAUSES:
                    return httpx.Response(
                        response.status_code,
                        headers=response.headers,
                        stream=httpx.ByteStream(body),
                        extensions=response.extensions,
                    )
                pauses += 1
                log.info(
                    "%s %s -> %s, Retry-After %.1f s: pausing every kitsync process",
                    request.method,
                    request.url.path,
                    response.status_code,
                    delay,
                )
                # Before the slot is let go: it must not pass to another request meanwhile.
                await self._budget.pause(delay)

    async def aclose(self) -> None:
        await self._inner.aclose()


def budgeted_transport(
    budget: Budget | None,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    max_connections: int,
    connect_retries: int = 0,
) -> httpx.AsyncBaseTransport:
    """The transport of a gateway's shared client: ``transport`` (a test's), else a pooled
    HTTP one, sent within ``budget`` when there is one."""
    inner = transport or httpx.AsyncHTTPTransport(
        retries=connect_retries,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    )
    return inner if budget is None else BudgetTransport(inner, budget)
