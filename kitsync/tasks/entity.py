"""``reconcile_entity``: make AYON match Kitsu's current state for one Kitsu entity or task.

Level-triggered: it reads Kitsu and AYON now, whatever event brought it here, and converges. The
reads are bounded: the entity, then only the ancestors AYON does not have yet (at most three
levels), one batched AYON query per kind of state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from typing import Literal, cast, get_args

from kitsync.core.desired import (
    ROOTS,
    FolderSpec,
    RootKind,
    TaskSpec,
    asset_type_spec,
    entity_spec,
    root_spec,
    task_spec,
)
from kitsync.core.names import better_name_free
from kitsync.core.plan import AyonSnapshot, Plan, plan
from kitsync.kitsu import KitsuClient, KitsuNotFound
from kitsync.schemas import AyonFolder
from kitsync.tasks._apply import apply_plan, converge
from kitsync.tasks._links import links_to_remove_with
from kitsync.tasks.context import SyncContext
from kitsync.tasks.result import ReconcileResult
from kitsync.tasks.users import ensure_users

EntityKind = Literal["asset", "episode", "sequence", "shot", "edit", "concept", "task"]
ENTITY_KINDS: frozenset[str] = frozenset(get_args(EntityKind))
# Folder kinds (``data.kitsuType``, else the folder type) that are reconciled by key.
_KEYED: dict[str, EntityKind] = {
    "Asset": "asset",
    "Episode": "episode",
    "Sequence": "sequence",
    "Shot": "shot",
    "Edit": "edit",
    "Concept": "concept",
}


async def reconcile_entity(
    ctx: SyncContext, project_id: str, kind: EntityKind, kitsu_id: str
) -> ReconcileResult:
    """Converge the AYON folder (or task) of one Kitsu entity; returns what it did."""
    key = f"{project_id}/{kind}/{kitsu_id}"
    project = await ctx.reader.paired_project(project_id)
    if project is None:
        return ReconcileResult(key, "skipped", notes=("Kitsu project not paired with AYON",))
    changes: dict[str, int] = {}

    async def make_plan() -> Plan:
        if kind == "task":
            return await _plan_task(ctx, project, kitsu_id)
        return await _plan_folder(ctx, project, kind, kitsu_id)

    async def apply(planned: Plan) -> None:
        deleted = [
            op.entity_id
            for op in planned.operations
            if op.type == "delete" and op.entity_type == "folder" and op.entity_id
        ]
        stale_links = await links_to_remove_with(ctx.reader, project, deleted)
        await apply_plan(ctx, project, planned)
        changes.update(planned.counts())
        if stale_links:
            changes["delete link"] = await ctx.writer.delete_links(project, stale_links)

    result = await converge(make_plan, apply, empty=lambda planned: planned.empty)
    if result.empty:
        return ReconcileResult(key, "in step", notes=result.notes)
    follow_ups = await _suffixes_to_shed(ctx, project_id, project, result.names_changed_under)
    return ReconcileResult(key, "changed", changes, result.notes, follow_ups)


async def _suffixes_to_shed(
    ctx: SyncContext, project_id: str, project: str, parents: Iterable[str | None]
) -> tuple[str, ...]:
    """The keys of the folders under ``parents`` that wear a collision suffix while its bare
    name is free, read after the write: the plan just applied freed the name (two shots
    swapping names), or took the suffix while the holder was leaving. Their own reconciles
    rename them (one key, one worker); a suffix taken while the holder is still there stays.
    """
    keys: list[str] = []
    for siblings in (await ctx.reader.children(project, parents)).values():
        taken = {folder.name.lower() for folder in siblings if folder.active}
        for folder in siblings:
            kind = _KEYED.get(str(folder.data.get("kitsuType", folder.folder_type)))
            kitsu_id = folder.kitsu_id
            if (
                kind is not None
                and kitsu_id is not None
                and folder.active
                and better_name_free(folder.name, kitsu_id, taken)
            ):
                keys.append(f"{project_id}/{kind}/{kitsu_id}")
    return tuple(sorted(keys))


async def _plan_folder(ctx: SyncContext, project: str, kind: str, kitsu_id: str) -> Plan:
    try:
        entity = await ctx.kitsu.get_entity(kind, kitsu_id)  # type: ignore[call-overload]
    except KitsuNotFound:
        return await _plan_gone(ctx, project, folders=[kitsu_id])
    specs, found = await _with_ancestors(ctx, project, [entity_spec(entity)])
    return plan(
        await _snapshot(ctx, project, specs, found),
        specs,
        delete_mode=ctx.delete_mode,
    )


async def _plan_task(ctx: SyncContext, project: str, kitsu_id: str) -> Plan:
    try:
        task = await ctx.kitsu.get_entity("task", kitsu_id)
    except KitsuNotFound:
        return await _plan_gone(ctx, project, tasks=[kitsu_id])
    task_type, status, persons, folders = await asyncio.gather(
        ctx.kitsu.get_entity("task_type", task.task_type_id),
        ctx.kitsu.get_entity("task_status", task.task_status_id),
        asyncio.gather(*(ctx.kitsu.get_entity("person", p) for p in task.assignees or ())),
        ctx.reader.folders_by_kitsu_ids(project, [task.entity_id]),
    )
    await ensure_users(ctx, persons)
    emails = {person.id: person.email for person in persons if person.email}
    specs: list[FolderSpec] = []
    if task.entity_id not in folders:
        # A task event before its entity's: create the entity (and its ancestors) too.
        specs, folders = await _with_ancestors(
            ctx, project, [entity_spec(await ctx.kitsu.entity(task.entity_id))]
        )
    wanted = task_spec(task, task_type, status, emails)
    snapshot = await _snapshot(ctx, project, specs, folders, [wanted])
    return plan(
        snapshot,
        specs,
        [wanted],
        task_types=[task_type],
        statuses=[status],
        delete_mode=ctx.delete_mode,
    )


async def _plan_gone(
    ctx: SyncContext, project: str, folders: list[str] | None = None, tasks: list[str] | None = None
) -> Plan:
    """Kitsu says 404: remove the AYON folder or task (a folder with products is deactivated)."""
    found_folders, found_tasks, anatomy = await asyncio.gather(
        ctx.reader.folders_by_kitsu_ids(project, folders or ()),
        ctx.reader.tasks_by_kitsu_ids(project, tasks or ()),
        ctx.reader.anatomy(project),
    )
    with_products = await ctx.reader.folders_with_products(
        project, [f.id for f in found_folders.values()]
    )
    snapshot = AyonSnapshot(
        anatomy=anatomy,
        folders=found_folders,
        tasks=found_tasks,
        with_products=frozenset(with_products),
    )
    return plan(
        snapshot, gone_folders=folders or (), gone_tasks=tasks or (), delete_mode=ctx.delete_mode
    )


async def _with_ancestors(
    ctx: SyncContext, project: str, specs: list[FolderSpec]
) -> tuple[list[FolderSpec], dict[str, AyonFolder]]:
    """The specs plus the ancestors AYON lacks (read from Kitsu; created, never updated from
    here), and the AYON folders found for all of them."""
    keys = [spec.key for spec in specs]
    found: dict[str, AyonFolder] = {}
    while True:
        child = specs[-1]
        parent = child.parent_key
        found |= await ctx.reader.folders_by_kitsu_ids(
            project, [*keys, *([parent] if parent else [])]
        )
        if parent is None or parent in found:
            return specs, found
        specs.append(replace(await _ancestor(ctx.kitsu, child, parent), create_only=True))
        keys = []


async def _ancestor(kitsu: KitsuClient, child: FolderSpec, key: str) -> FolderSpec:
    if key in ROOTS:
        return root_spec(cast(RootKind, key))
    if child.kitsu_type == "Asset":
        return asset_type_spec(await kitsu.get_entity("asset_type", key))
    return entity_spec(await kitsu.entity(key))


async def _snapshot(
    ctx: SyncContext,
    project: str,
    specs: list[FolderSpec],
    found: dict[str, AyonFolder],
    tasks: list[TaskSpec] | None = None,
) -> AyonSnapshot:
    """AYON's state around the specs: siblings of every parent involved, anatomy, tasks."""
    parents = {found[s.parent_key].id if s.parent_key in found else None for s in specs}
    task_keys = [t.key for t in tasks or ()]
    task_folders = [found[t.folder_key].id for t in tasks or () if t.folder_key in found]
    emails = [email for t in tasks or () for email in t.assignee_emails]
    children, anatomy, existing_tasks, siblings, users = await asyncio.gather(
        ctx.reader.children(project, parents),
        ctx.reader.anatomy(project),
        ctx.reader.tasks_by_kitsu_ids(project, task_keys),
        ctx.reader.tasks_of_folders(project, task_folders),
        ctx.reader.users_by_email(emails),
    )
    return AyonSnapshot(
        anatomy=anatomy,
        folders=found,
        tasks=existing_tasks,
        children=children,
        task_siblings=siblings,
        users_by_email=users,
    )
