"""``reconcile_entity``: make AYON match Kitsu's current state for one Kitsu entity or task.

Level-triggered: it reads Kitsu and AYON now, whatever event brought it here, and converges. The
reads are bounded: the entity, then only the ancestors AYON does not have yet (at most three
levels), one batched AYON query per kind of state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from kitsync.ayon_to_kitsu.rules import hold_back
from kitsync.config import TwoWayField
from kitsync.core.desired import (
    ROOTS,
    FolderSpec,
    TaskSpec,
    asset_type_spec,
    entity_spec,
    root_spec,
    task_spec,
)
from kitsync.core.ids import ayon_id
from kitsync.core.names import better_name_free
from kitsync.core.plan import AyonSnapshot, Plan, plan
from kitsync.core.routing import Key
from kitsync.errors import TransientError
from kitsync.kitsu import KitsuClient, KitsuNotFound
from kitsync.reconcile._apply import apply_plan, converge
from kitsync.reconcile._links import links_to_remove_with
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.result import ReconcileResult
from kitsync.reconcile.users import ensure_users
from kitsync.schemas import AyonFolder, EntityKind, EntityOrTaskKind


async def reconcile_entity(
    ctx: SyncContext,
    project_id: str,
    kind: EntityOrTaskKind,
    kitsu_id: str,
    *,
    keep_assignees: Iterable[str] = (),
    hold: Iterable[TwoWayField] = (),
) -> ReconcileResult:
    """Converge the AYON folder (or task) of one Kitsu entity; returns what it did.

    ``keep_assignees``: AYON users a task keeps although Kitsu does not list them (the AYON ->
    Kitsu direction found no Kitsu person for them). ``hold``: fields of an existing task left
    as AYON has them (the AYON -> Kitsu half owns them this time).
    """
    key = f"{project_id}/{kind}/{kitsu_id}"
    held = frozenset(hold)
    project = await ctx.reader.paired_project(project_id)
    if project is None:
        return ReconcileResult(key, "skipped", notes=("Kitsu project not paired with AYON",))
    changes: dict[str, int] = {}
    where = _Where(project)

    async def make_plan() -> Plan:
        if kind == "task":
            planned = await _plan_task(ctx, project, kitsu_id, where, tuple(keep_assignees))
            if not held:
                return planned
            return replace(planned, operations=hold_back(planned.operations, held)[0])
        if kind == "asset-type":
            return await _plan_asset_type(ctx, project, kitsu_id, where)
        return await _plan_folder(ctx, project, kind, kitsu_id, where)

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
        return ReconcileResult(key, "in step", notes=result.notes, label=where.label)
    follow_ups = await _suffixes_to_shed(ctx, project_id, project, result.names_changed_under)
    return ReconcileResult(key, "changed", changes, result.notes, follow_ups, where.label)


@dataclass
class _Where:
    """The readable place of what a reconcile converges, as its last plan leaves it:
    ``<AYON project> /<folder path>[/<task>]``, or the project alone while unknown."""

    project: str
    path: str | None = None

    @property
    def label(self) -> str:
        return f"{self.project} /{self.path}" if self.path else self.project

    def folder(self, found: Mapping[str, AyonFolder], spec: FolderSpec, planned: Plan) -> None:
        """The folder's planned (else current) name under its parent's path; unknown when the
        parent is made by the same plan."""
        current = found.get(spec.key)
        name = _planned(planned, current.id if current else ayon_id(spec.key)).get("name")
        name = name or (current.name if current else None)
        parent = found.get(spec.parent_key) if spec.parent_key else None
        if spec.parent_key is None:
            self.path = name
        elif name and parent is not None and parent.path:
            self.path = f"{parent.path}/{name}"

    def task(self, folder: AyonFolder | None, name: str | None) -> None:
        if folder is not None and folder.path and name:
            self.path = f"{folder.path}/{name}"


def _planned(planned: Plan, entity_id: str) -> Mapping[str, Any]:
    """What the plan writes on an entity (empty when nothing)."""
    return next((op.data or {} for op in planned.operations if op.entity_id == entity_id), {})


async def _suffixes_to_shed(
    ctx: SyncContext, project_id: str, project: str, parents: Iterable[str | None]
) -> tuple[Key, ...]:
    """The keys of the folders under ``parents`` that wear a collision suffix while its bare
    name is free, read after the write: the plan just applied freed the name (two shots
    swapping names), or took the suffix while the holder was leaving. Their own reconciles
    rename them (one key, one worker); a suffix taken while the holder is still there stays.
    """
    keys: list[Key] = []
    for siblings in (await ctx.reader.children(project, parents)).values():
        taken = {folder.name.lower() for folder in siblings if folder.active}
        for folder in siblings:
            kind = folder.kitsu_kind
            kitsu_id = folder.kitsu_id
            if (
                kind is not None
                and kitsu_id is not None
                and folder.active
                and better_name_free(folder.name, kitsu_id, taken)
            ):
                keys.append(Key(project_id, kind, kitsu_id))
    return tuple(sorted(keys))


async def _plan_folder(
    ctx: SyncContext, project: str, kind: str, kitsu_id: str, where: _Where
) -> Plan:
    try:
        entity = await ctx.kitsu.get_entity(kind, kitsu_id)  # type: ignore[call-overload]
    except KitsuNotFound:
        return await _plan_gone(ctx, project, where, folders=[kitsu_id])
    return await _plan_specs(ctx, project, entity_spec(entity), where)


async def _plan_asset_type(ctx: SyncContext, project: str, kitsu_id: str, where: _Where) -> Plan:
    """The grouping folder ``assets/<type>`` of an asset type (renamed with it); none is made
    for a type no asset of the project has in AYON (its first asset's reconcile makes it)."""
    try:
        asset_type = await ctx.kitsu.get_entity("asset_type", kitsu_id)
    except KitsuNotFound:
        return await _plan_gone(ctx, project, where, folders=[kitsu_id])
    if not await ctx.reader.folders_by_kitsu_ids(project, [kitsu_id]):
        return Plan()
    return await _plan_specs(ctx, project, asset_type_spec(asset_type), where)


async def _plan_specs(ctx: SyncContext, project: str, spec: FolderSpec, where: _Where) -> Plan:
    """One folder's plan, with the ancestors AYON lacks; its Kitsu tasks follow its active
    flag (a cancel or a restore)."""
    specs, found = await _with_ancestors(ctx, project, [spec])
    snapshot = await _snapshot(ctx, project, specs, found, task_folders=[spec.key])
    planned = plan(snapshot, specs, delete_mode=ctx.delete_mode, tasks_follow_folders=True)
    where.folder(found, spec, planned)
    return planned


async def _plan_task(
    ctx: SyncContext, project: str, kitsu_id: str, where: _Where, keep_assignees: tuple[str, ...]
) -> Plan:
    try:
        task = await ctx.kitsu.get_entity("task", kitsu_id)
    except KitsuNotFound:
        return await _plan_gone(ctx, project, where, tasks=[kitsu_id])
    task_type, status, persons, folders = await asyncio.gather(
        ctx.kitsu.get_entity("task_type", task.task_type_id),
        ctx.kitsu.get_entity("task_status", task.task_status_id),
        asyncio.gather(*(ctx.kitsu.get_entity("person", p) for p in task.assignees or ())),
        ctx.reader.folders_by_kitsu_ids(project, [task.entity_id]),
    )
    await ensure_users(ctx, persons)
    emails = {person.id: person.email for person in persons if person.email}
    specs: list[FolderSpec] = []
    if task.entity_id in folders:
        # The folder follows its entity's canceled flag (its own reconcile writes it).
        active = folders[task.entity_id].active
    else:
        # A task event before its entity's: create the entity (and its ancestors) too.
        entity = await ctx.kitsu.entity(task.entity_id)
        active = not entity.canceled
        specs, folders = await _with_ancestors(ctx, project, [entity_spec(entity)])
    wanted = replace(
        task_spec(task, task_type, status, emails, active=active), kept_assignees=keep_assignees
    )
    snapshot = await _snapshot(ctx, project, specs, folders, [wanted])
    planned = plan(
        snapshot,
        specs,
        [wanted],
        task_types=[task_type],
        statuses=[status],
        delete_mode=ctx.delete_mode,
    )
    current = snapshot.tasks.get(task.id)
    task_id = current.id if current else ayon_id(task.id)
    name = _planned(planned, task_id).get("name") or (current.name if current else None)
    where.task(folders.get(task.entity_id), name)
    return planned


async def _plan_gone(
    ctx: SyncContext,
    project: str,
    where: _Where,
    folders: list[str] | None = None,
    tasks: list[str] | None = None,
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
    where.path = next((f.path for f in found_folders.values()), where.path)
    if ctx.delete_mode == "delete":
        doomed = [f for f in found_folders.values() if f.id not in with_products]
        await _wait_for_moves_out(ctx, project, doomed)
    snapshot = AyonSnapshot(
        anatomy=anatomy,
        folders=found_folders,
        tasks=found_tasks,
        with_products=frozenset(with_products),
    )
    return plan(
        snapshot, gone_folders=folders or (), gone_tasks=tasks or (), delete_mode=ctx.delete_mode
    )


class MovesPending(TransientError):
    """A folder Kitsu deleted still holds, in AYON, folders Kitsu has elsewhere now (shots
    moved to another sequence, then the old one deleted). Deleting it would take them along
    (AYON deletes a folder with everything under it): the delete waits for their own
    reconciles to move them out, retried with backoff."""


async def _wait_for_moves_out(ctx: SyncContext, project: str, doomed: list[AyonFolder]) -> None:
    """Raise :class:`MovesPending` when a folder about to be deleted holds a folder whose Kitsu
    entity still exists (asked of Kitsu one by one: a rare path, bounded by the budget)."""
    if not doomed:
        return
    ids = {folder.id for folder in doomed}
    under = await ctx.reader.folders_by_ids(project, await ctx.reader.subtree_ids(project, ids))
    kitsu_ids = sorted(
        {f.kitsu_id for f in under.values() if f.id not in ids and f.kitsu_id is not None}
    )

    async def exists(kitsu_id: str) -> bool:
        try:
            await ctx.kitsu.entity(kitsu_id)
        except KitsuNotFound:
            return False
        return True

    found = await asyncio.gather(*map(exists, kitsu_ids))
    alive = [kitsu_id for kitsu_id, there in zip(kitsu_ids, found, strict=True) if there]
    if alive:
        where = ", ".join(folder.path or folder.name for folder in doomed)
        raise MovesPending(
            f"{where}: gone from Kitsu, but {len(alive)} folders under it are still in Kitsu "
            f"(moved elsewhere, e.g. {alive[0]}): deleted once their reconciles moved them out"
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
        return root_spec(cast(EntityKind, key))
    if child.kitsu_type == "Asset":
        return asset_type_spec(await kitsu.get_entity("asset_type", key))
    return entity_spec(await kitsu.entity(key))


async def _snapshot(
    ctx: SyncContext,
    project: str,
    specs: list[FolderSpec],
    found: dict[str, AyonFolder],
    tasks: list[TaskSpec] | None = None,
    task_folders: Iterable[str] = (),
) -> AyonSnapshot:
    """AYON's state around the specs: siblings of every parent involved, anatomy, tasks (of
    the tasks' folders, and of the folders of ``task_folders``, Kitsu keys)."""
    parents = {found[s.parent_key].id if s.parent_key in found else None for s in specs}
    task_keys = [t.key for t in tasks or ()]
    folder_keys = [*(t.folder_key for t in tasks or ()), *task_folders]
    folder_ids = [found[key].id for key in folder_keys if key in found]
    emails = [email for t in tasks or () for email in t.assignee_emails]
    children, anatomy, existing_tasks, siblings, users = await asyncio.gather(
        ctx.reader.children(project, parents),
        ctx.reader.anatomy(project),
        ctx.reader.tasks_by_kitsu_ids(project, task_keys),
        ctx.reader.tasks_of_folders(project, folder_ids),
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
