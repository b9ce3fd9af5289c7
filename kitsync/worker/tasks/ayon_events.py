"""``kitsync.ayon_events()`` (beat, every ``KITSYNC_AYON_EVENTS_INTERVAL`` seconds while
``KITSYNC_AYON_TO_KITSU`` names a field): drain AYON's task events into the key queue.

Each AYON change becomes its task's key (``<project>/task/<kitsu id>``), the key the Kitsu side
uses too, so both directions of a task run one at a time under one lease; its reconcile (the
``kitsync.reconcile`` task) pushes AYON's change to Kitsu, then Kitsu's state to AYON. One drain
at a time across the farm (a renewed lease); AYON's enroll queue is the durable record of what is
still to read, so a drain that dies leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kitsync.ayon_to_kitsu import DrainOutcome, TwoWay, drain_ayon_events
from kitsync.core.routing import Key
from kitsync.reconcile import SyncContext
from kitsync.worker import names
from kitsync.worker.leases import RedisLease
from kitsync.worker.runtime import Runtime
from kitsync.worker.scheduling import schedule

NAME = names.AYON_EVENTS
OPTIONS: dict[str, Any] = {}


def run(runtime: Runtime) -> dict[str, Any]:
    context = runtime.context()
    if context.two_way is None:
        return {"outcome": "off (KITSYNC_AYON_TO_KITSU is empty)"}
    return runtime.run(_drain(runtime, context, context.two_way))


async def _drain(runtime: Runtime, context: SyncContext, two_way: TwoWay) -> dict[str, Any]:
    queue = runtime.queue()

    async def queue_keys(keys: Sequence[str]) -> None:
        # Queued before AYON's job is finished: a crash in between reads the event again.
        schedule(runtime, map(Key.parse, await queue.add(list(keys))))

    async def drain() -> DrainOutcome:
        return await drain_ayon_events(
            context.writer, context.reader, two_way.state, two_way.fields, queue_keys
        )

    if runtime.single_process:
        outcome = await drain()  # one process, one beat: nothing to race with
    else:
        lease = RedisLease(
            runtime.redis(),
            runtime.keys.two_way_lease,
            runtime.owner,
            runtime.settings.lease_seconds,
        )
        if not await lease.acquire():
            return {"outcome": "another drain is running"}
        outcome = await lease.run(drain())
    return {
        "jobs": outcome.jobs,
        "queued": outcome.queued,
        "ignored": outcome.ignored,
        "lag_seconds": outcome.lag_seconds,
    }
