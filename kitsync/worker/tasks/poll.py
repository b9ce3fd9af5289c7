"""``kitsync.poll()``: the catch-up poller (beat), one at a time across the farm.

Reads Kitsu's event log from the cursor into the same sink the webhook uses
(``kitsync.poller``), then refreshes the queue gauges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from kitsync.poller import PollOutcome, poll_once
from kitsync.reconcile import SyncContext
from kitsync.schemas import KitsuEvent
from kitsync.worker import names
from kitsync.worker.clock import redis_now
from kitsync.worker.leases import RedisLease
from kitsync.worker.runtime import Runtime
from kitsync.worker.sink import CelerySink

log = logging.getLogger("kitsync.worker")

NAME = names.POLL
OPTIONS: dict[str, Any] = {}


def run(runtime: Runtime) -> dict[str, Any]:
    context = runtime.context()  # made (on the loop) before the loop runs _poll
    return runtime.run(_poll(runtime, context))


async def _poll(runtime: Runtime, context: SyncContext) -> dict[str, Any]:
    sink = CelerySink(runtime.app, runtime.queue())

    async def submit(events: Sequence[KitsuEvent]) -> int:
        return (await sink.submit(events, source="poller")).accepted

    async def poll() -> PollOutcome:
        return await poll_once(
            context.kitsu,
            runtime.cursor(),
            submit,
            overlap=timedelta(seconds=runtime.settings.poll_overlap),
        )

    if runtime.single_process:
        outcome = await poll()  # one process, one beat: nothing to race with
    else:
        redis = runtime.redis()
        lease = RedisLease(
            redis, runtime.keys.poll_lock, runtime.owner, runtime.settings.lease_seconds
        )
        if not await lease.acquire():
            return {"outcome": "another poll is running"}
        # Polls that waited behind a backlog arrive together: the first one reads for all.
        last = await redis.get(runtime.keys.poll_last)
        if last and await redis_now(redis) - float(last) < runtime.settings.poll_interval / 2:
            await lease.release()
            return {"outcome": "polled moments ago"}
        outcome = await lease.run(poll())
        await redis.set(runtime.keys.poll_last, str(await redis_now(redis)))
    runtime.last_poll = time.time()
    log.info("poll: %s", outcome.describe())
    return {"read": outcome.read, "new": outcome.new, "cursor": outcome.cursor.isoformat()}
