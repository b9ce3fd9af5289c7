"""``kitsync.recover()``: re-send the task of keys whose task was lost (beat).

A task that died with its node (a reserved message Redis gives back only after the visibility
timeout) leaves its key queued with nothing to run it: the key queue, not the broker, is the
record of what must still run, so keys queued or held past ``KITSYNC_RECOVER_AFTER`` get a task.
"""

from __future__ import annotations

import logging
from typing import Any

from kitsync.core.routing import Key
from kitsync.worker import names
from kitsync.worker.runtime import Runtime
from kitsync.worker.scheduling import schedule

log = logging.getLogger("kitsync.worker")

NAME = names.RECOVER
OPTIONS: dict[str, Any] = {}


def run(runtime: Runtime) -> dict[str, Any]:
    keys = runtime.run(runtime.queue().recover(runtime.settings.recover_after))
    schedule(runtime, _parsed(keys))
    if keys:
        log.warning("re-scheduled %s keys whose task was lost", len(keys))
    return {"rescheduled": keys}


def _parsed(keys: list[str]) -> list[Key]:
    """The keys that parse: one that does not (queued by an older kitsync, which took ids with
    a "/") is reported, and does not keep the rest from being sent."""
    parsed: list[Key] = []
    for key in keys:
        try:
            parsed.append(Key.parse(key))
        except ValueError as error:
            log.error("%s: left queued, it cannot be reconciled; drop it from Redis", error)
    return parsed
