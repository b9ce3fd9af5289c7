"""Helpers for tests that drive real kitsync processes: their environment and settings, the
receiver in front of them, waiting for a state, firing signed events."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from celery import Celery

from kitsync.config import Settings, load_settings
from kitsync.receiver import SIGNATURE_HEADER, create_app, sign_body
from kitsync.worker.runtime import redis_key_queue
from kitsync.worker.sink import CelerySink
from tests.fakes.ayon import SERVICE_KEY
from tests.fakes.kitsu import BOT_TOKEN
from tests.fakes.serve import serve


def worker_env(
    *,
    kitsu_url: str,
    ayon_url: str,
    pg_dsn: str | None,
    redis_url: str,
    prefix: str,
    webhook_secret: str,
    kitsu_login: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """This machine's environment with the settings of a kitsync process against the fake AYON
    (its service key) and a Kitsu (the fake's bot token, unless ``kitsu_login`` gives others).
    Without ``pg_dsn`` the process reads AYON through its API."""
    login = {"KITSU_BOT_TOKEN": BOT_TOKEN} if kitsu_login is None else dict(kitsu_login)
    machine = {k: v for k, v in os.environ.items() if k != "AYON_DB_DSN"}
    return (
        machine
        | {"KITSU_URL": kitsu_url}
        | login
        | {
            "AYON_URL": ayon_url,
            "AYON_API_KEY": SERVICE_KEY,
            "KITSYNC_REDIS_URL": redis_url,
            "KITSYNC_REDIS_PREFIX": prefix,
            "KITSYNC_WEBHOOK_SECRET": webhook_secret,
        }
        | ({"AYON_DB_DSN": pg_dsn} if pg_dsn else {})
    )


def worker_settings(env: Mapping[str, str]) -> Settings:
    """The settings a worker started with ``env`` reads."""
    return load_settings(
        ["kitsu", "ayon", "redis"],
        **{k: v for k, v in env.items() if k.startswith(("KITSU_", "AYON_", "KITSYNC_"))},
    )


@contextmanager
def served_receiver(
    celery: Celery, settings: Settings, secret: str, *, port: int | None = None
) -> Iterator[str]:
    """kitsync's receiver sending to ``celery``, served until the block exits; its URL. It runs
    on a thread and event loop of its own, so it gets a Redis client of its own."""
    app = create_app(CelerySink(celery, redis_key_queue(settings)), secret=secret)
    with serve(app, port=port) as url:
        yield url


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
