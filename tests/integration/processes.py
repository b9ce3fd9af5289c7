"""Helpers for tests that drive real kitsync processes: wait for a state, fire signed events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from kitsync.receiver import SIGNATURE_HEADER, sign_body


async def until(
    check: Callable[[], Awaitable[bool]],
    logs: Path,
    seconds: float = 90.0,
    *,
    explain: Callable[[], str] = lambda: "",
) -> None:
    """Wait for ``check``; on time-out fail with ``explain()`` and the end of every ``*.log``
    under ``logs``."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            tails = [f"--- {log.name}\n{log.read_text()[-4000:]}" for log in logs.glob("*.log")]
            raise AssertionError(
                f"timed out waiting for kitsync after {seconds:.0f} s: {explain()}\n"
                + "\n".join(tails)
            )
        await asyncio.sleep(0.3)


async def post_events(url: str, secret: str, events: list[dict[str, Any]]) -> httpx.Response:
    """POST a signed batch to a receiver at ``url``, as the Zou plugin does."""
    body = json.dumps({"events": events}).encode()
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{url}/kitsu/events",
            content=body,
            headers={SIGNATURE_HEADER: sign_body(secret, body), "content-type": "application/json"},
        )
