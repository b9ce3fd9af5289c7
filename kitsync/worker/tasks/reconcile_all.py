"""``kitsync.reconcile_all()``: queue a full reconcile of every paired project (beat, every
``KITSYNC_FULL_SYNC_INTERVAL``, and ``kitsync run`` at its start)."""

from __future__ import annotations

from typing import Any

from kitsync.worker import names
from kitsync.worker.runtime import Runtime

NAME = names.RECONCILE_ALL
OPTIONS: dict[str, Any] = {}


def run(runtime: Runtime) -> dict[str, Any]:
    paired = runtime.run(runtime.context().reader.paired_projects())
    for project_id in sorted(paired):
        runtime.app.send_task(names.RECONCILE_PROJECT, args=(project_id,))
    return {"queued": sorted(paired.values())}
