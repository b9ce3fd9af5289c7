"""One entry point for the worker: reconcile whatever a key names."""

from __future__ import annotations

from kitsync.core.routing import Key
from kitsync.tasks.casting import reconcile_casting
from kitsync.tasks.context import SyncContext
from kitsync.tasks.entity import reconcile_entity
from kitsync.tasks.result import ReconcileResult


async def reconcile_key(ctx: SyncContext, key: Key) -> ReconcileResult:
    if key.kind == "casting":
        return await reconcile_casting(ctx, key.project_id, key.kitsu_id)
    return await reconcile_entity(ctx, key.project_id, key.kind, key.kitsu_id)
