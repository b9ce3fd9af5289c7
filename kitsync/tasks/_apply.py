"""Applying plans: under the project's anatomy lock, and again from fresh reads after a 409."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kitsync.ayon import AyonError, OperationFailed
from kitsync.core.plan import Plan
from kitsync.tasks.context import SyncContext

log = logging.getLogger("kitsync.reconcile")

P = TypeVar("P")
REPLANS = 3


async def converge(
    make_plan: Callable[[], Awaitable[P]],
    apply: Callable[[P], Awaitable[None]],
    *,
    empty: Callable[[P], bool],
) -> P:
    """Plan from fresh reads and apply it; return the plan that was applied (or found empty).

    A 409 means another worker changed the same part of AYON between our read and our write
    (created the shared parent folder, took a name, added a link, replaced an anatomy list);
    a 404 on one operation, that it removed an entity the plan changes (a task whose folder a
    concurrent delete took along). Level-triggered, the answer is to read again and plan
    again, a few times, not to fail.
    """
    for attempt in range(1, REPLANS + 1):
        planned = await make_plan()
        if empty(planned):
            return planned
        try:
            await apply(planned)
        except AyonError as error:
            if not _raced(error) or attempt == REPLANS:
                raise
            log.info("AYON changed under us (%s); planning again", error.detail or error)
        else:
            return planned
    raise AssertionError("unreachable")


def _raced(error: AyonError) -> bool:
    return error.status == 409 or (isinstance(error, OperationFailed) and error.status == 404)


async def apply_plan(ctx: SyncContext, project: str, plan: Plan) -> None:
    """Anatomy additions first (the writer reads the lists fresh and sends them whole, under the
    project's lock so a concurrent addition is never dropped), then the operations."""
    if plan.anatomy_changes:
        async with ctx.locks.anatomy(project):
            await ctx.writer.add_anatomy_items(
                project,
                folder_types=plan.folder_types,
                task_types=plan.task_types,
                statuses=plan.statuses,
            )
    if plan.operations:
        await ctx.writer.operations(project, plan.operations)
