"""Applying plans: anatomy additions under the project's lock, and again from fresh reads after
a 409."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from kitsync.ayon import AyonError, OperationFailed
from kitsync.core.plan import Plan
from kitsync.errors import TransientError
from kitsync.reconcile.context import SyncContext
from kitsync.schemas import AnatomyItem, LinkTypeItem

log = logging.getLogger("kitsync.reconcile")

P = TypeVar("P")
REPLANS = 5
RACE_PAUSE = 0.05  # seconds, times the attempt, at most: spreads workers that raced apart


class StillRacing(TransientError):
    """AYON changed under every one of a reconcile's plans (a bulk build: many workers creating
    the same parents): the key is retried later, as after a timeout, not dead-lettered."""


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
    again, a few times, not to fail; then :class:`StillRacing` (transient: retried later).
    """
    for attempt in range(1, REPLANS + 1):
        planned = await make_plan()
        if empty(planned):
            return planned
        try:
            await apply(planned)
        except AyonError as error:
            if not _raced(error):
                raise
            if attempt == REPLANS:
                raise StillRacing(
                    f"AYON changed under each of {REPLANS} plans, the last: {error.detail or error}"
                ) from error
            log.info("AYON changed under us (%s); planning again", error.detail or error)
            await asyncio.sleep(random.uniform(0, RACE_PAUSE * attempt))  # noqa: S311 (jitter)
        else:
            return planned
    raise AssertionError("unreachable")


def _raced(error: AyonError) -> bool:
    return error.status == 409 or (isinstance(error, OperationFailed) and error.status == 404)


async def apply_plan(ctx: SyncContext, project: str, plan: Plan) -> None:
    """Anatomy additions first, then the operations."""
    if plan.anatomy_changes:
        await add_to_anatomy(
            ctx,
            project,
            folder_types=plan.folder_types,
            task_types=plan.task_types,
            statuses=plan.statuses,
        )
    if plan.operations:
        await ctx.writer.operations(project, plan.operations)


async def add_to_anatomy(
    ctx: SyncContext,
    project: str,
    *,
    folder_types: Iterable[AnatomyItem] = (),
    task_types: Iterable[AnatomyItem] = (),
    statuses: Iterable[AnatomyItem] = (),
    link_types: Iterable[LinkTypeItem] = (),
    update_existing: bool = False,
) -> bool:
    """Add the items the project's anatomy lacks (``update_existing``: and bring the fields of
    those it has to the given ones); True if it sent a change. The writer reads the lists fresh
    and sends them whole, under the project's lock, so that a concurrent change by another
    worker is never dropped."""
    async with ctx.locks.anatomy(project):
        return await ctx.writer.add_anatomy_items(
            project,
            folder_types=folder_types,
            task_types=task_types,
            statuses=statuses,
            link_types=link_types,
            update_existing=update_existing,
        )
