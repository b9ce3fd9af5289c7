"""One entry point for the worker: reconcile whatever a key names."""

from __future__ import annotations

from dataclasses import replace

from kitsync.ayon_to_kitsu import TwoWay, UnmappedStatus, push_task
from kitsync.core.routing import Key
from kitsync.reconcile.casting import reconcile_casting
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.entity import reconcile_entity
from kitsync.reconcile.result import ReconcileResult
from kitsync.reconcile.shared import (
    reconcile_anatomy_item,
    reconcile_everywhere,
    reconcile_person,
    reconcile_project_attrib,
)
from kitsync.schemas import ALL_PROJECTS


async def reconcile_key(ctx: SyncContext, key: Key) -> ReconcileResult:
    if key.project_id == ALL_PROJECTS:
        return await reconcile_everywhere(ctx, key)
    match key.kind:
        case "casting":
            return await reconcile_casting(ctx, key.project_id, key.kitsu_id)
        case "project":
            return await reconcile_project_attrib(ctx, key)
        case "task-type" | "task-status":
            return await reconcile_anatomy_item(ctx, key)
        case "person":
            return await reconcile_person(ctx, key)
        case "task" if ctx.two_way is not None:
            return await _task_both_ways(ctx, ctx.two_way, key)
        case kind:
            return await reconcile_entity(ctx, key.project_id, kind, key.kitsu_id)


async def _task_both_ways(ctx: SyncContext, two_way: TwoWay, key: Key) -> ReconcileResult:
    """AYON's changes to Kitsu first, then Kitsu to AYON, under the one key (one lease). The
    second half writes only the two-way fields Kitsu won: the others are in step or were just
    pushed, and AYON's value may have changed again since the push read it."""
    pushed = await push_task(
        two_way, ctx.kitsu, ctx.reader, ctx.writer, key.project_id, key.kitsu_id
    )
    if pushed.failure is not None:
        # Before the Kitsu -> AYON half: that would replace the AYON status Kitsu lacks.
        raise UnmappedStatus(pushed.failure)
    result = await reconcile_entity(
        ctx,
        key.project_id,
        "task",
        key.kitsu_id,
        keep_assignees=pushed.keep_assignees,
        hold=pushed.hold,
    )
    won = pushed.agree_when_written
    if won.status is not None or won.assignees is not None:  # in AYON now: the base
        await two_way.state.agree({str(key): won})
    if pushed.not_in_ayon and result.outcome == "changed":
        # Just created from Kitsu: both sides agree; this records it (the conflict rule's base).
        await push_task(two_way, ctx.kitsu, ctx.reader, ctx.writer, key.project_id, key.kitsu_id)
    if not pushed.changes:
        return result
    return replace(
        result,
        outcome="changed",
        changes={**pushed.changes, **result.changes},
        notes=(*pushed.notes, *result.notes),
    )
