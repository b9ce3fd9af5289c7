"""The AYON -> Kitsu direction (``KITSYNC_AYON_TO_KITSU``): task status and assignees changed in
AYON reach Kitsu, loop-free.

- ``events``: AYON's task events, read through AYON's enroll queue, become task keys.
- ``task``: the AYON -> Kitsu half of a task key's reconcile (run before the Kitsu -> AYON half,
  under the same key and lease).
- ``rules``: pure: own-write guard, status mapping, assignee views, the conflict rule.
- ``state``: the per-task base of the conflict rule and the last drain, in Redis or memory.

Names are imported on first use: ``kitsync status`` needs only ``state`` and should not pay for
the AYON gateway's models that ``events`` and ``task`` bring (see bench/cli_start.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitsync.ayon_to_kitsu.events import DrainOutcome, drain_ayon_events
    from kitsync.ayon_to_kitsu.state import (
        RedisSyncState,
        SqliteSyncState,
        SyncState,
        describe_direction,
    )
    from kitsync.ayon_to_kitsu.task import PushResult, TwoWay, UnmappedStatus, push_task

_WHERE = {
    "DrainOutcome": "events",
    "drain_ayon_events": "events",
    "RedisSyncState": "state",
    "SqliteSyncState": "state",
    "SyncState": "state",
    "describe_direction": "state",
    "PushResult": "task",
    "TwoWay": "task",
    "UnmappedStatus": "task",
    "push_task": "task",
}

__all__ = [
    "DrainOutcome",
    "PushResult",
    "RedisSyncState",
    "SqliteSyncState",
    "SyncState",
    "TwoWay",
    "UnmappedStatus",
    "describe_direction",
    "drain_ayon_events",
    "push_task",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups find it directly
    return value
