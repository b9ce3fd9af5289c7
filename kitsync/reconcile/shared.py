"""Reconciles of what is not one folder or task: the project's own attributes, the anatomy items
of Kitsu task types and statuses, a person's assignments, and a shared record's fan-out.

- ``<project>/project/<project>``: AYON's project attributes (fps, resolution, dates) follow
  the Kitsu project's, written only when they differ.
- ``<project>/task-type/<id>``, ``<project>/task-status/<id>``: the project's anatomy item of
  that name gets Kitsu's colour and short name; a renamed one is added under its new name (the
  old one stays: AYON refuses to drop an item tasks still use, and kitsync never removes one).
  The tasks whose AYON type or status is not that name are queued: their own keys rename them.
- ``<project>/person/<id>``: the keys of the person's tasks are queued, whose reconciles map the
  assignees by their e-mails again (a changed e-mail is a different AYON user).
- ``*/<kind>/<id>`` (a change of a record every project shares, which Zou logs without a
  project): writes nothing, queues ``<project>/<kind>/<id>`` for every paired project.
"""

from __future__ import annotations

from kitsync.concurrency import task_group
from kitsync.core.anatomy import item_to_write, status_item, task_type_item
from kitsync.core.routing import Key
from kitsync.kitsu import KitsuNotFound
from kitsync.reconcile._apply import add_to_anatomy
from kitsync.reconcile._project_plan import project_attrib_changes
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.result import ReconcileResult
from kitsync.schemas import KitsuTask, KitsuTaskStatus, KitsuTaskType

_UNPAIRED = "Kitsu project not paired with AYON"


async def reconcile_everywhere(ctx: SyncContext, key: Key) -> ReconcileResult:
    """A shared record's key in every paired project, as follow-ups."""
    paired = await ctx.reader.paired_projects()
    follow_ups = tuple(Key(project_id, key.kind, key.kitsu_id) for project_id in sorted(paired))
    return ReconcileResult(
        str(key),
        "in step",
        notes=(f"queued for {len(follow_ups)} paired projects",),
        follow_ups=follow_ups,
        label=f"{key.kind} {key.kitsu_id} in every paired project",
    )


async def reconcile_project_attrib(ctx: SyncContext, key: Key) -> ReconcileResult:
    project = await ctx.reader.paired_project(key.project_id)
    if project is None:
        return ReconcileResult(str(key), "skipped", notes=(_UNPAIRED,))
    label = f"{project} (project attributes)"
    try:
        kitsu_project = await ctx.kitsu.project(key.project_id)
    except KitsuNotFound:
        notes = ("Kitsu has no such project: AYON's is left as it is",)
        return ReconcileResult(str(key), "skipped", notes=notes, label=label)
    summary = await ctx.reader.project_summary(project)
    changes = project_attrib_changes(kitsu_project, summary.attrib)
    if not changes:
        return ReconcileResult(str(key), "in step", label=label)
    await ctx.writer.update_project(project, {"attrib": changes})
    return ReconcileResult(str(key), "changed", {"update project": 1}, label=label)


async def reconcile_anatomy_item(ctx: SyncContext, key: Key) -> ReconcileResult:
    """A task type's or a status's anatomy item, then the tasks that do not wear its name."""
    project = await ctx.reader.paired_project(key.project_id)
    if project is None:
        return ReconcileResult(str(key), "skipped", notes=(_UNPAIRED,))
    is_type = key.kind == "task-type"
    what = "task type" if is_type else "status"
    record: KitsuTaskType | KitsuTaskStatus
    try:
        if is_type:
            record = await ctx.kitsu.get_entity("task_type", key.kitsu_id)
            wanted = task_type_item(record)
        else:
            record = await ctx.kitsu.get_entity("task_status", key.kitsu_id)
            wanted = status_item(record)
    except KitsuNotFound:
        notes = (f"Kitsu has no such {what}: AYON's anatomy keeps its item",)
        return ReconcileResult(str(key), "in step", notes=notes, label=project)
    label = f"{project} ({what} {record.name})"
    async with task_group() as group:
        anatomy_read = group.create_task(ctx.reader.anatomy(project))
        tasks_read = group.create_task(ctx.kitsu.tasks(key.project_id))
    anatomy = anatomy_read.result()
    tasks = [task for task in tasks_read.result() if _refers_to(task, is_type, record.id)]
    items = anatomy.task_types if is_type else anatomy.statuses
    write = item_to_write(items, wanted)
    changes: dict[str, int] = {}
    if write is not None and (tasks or write is not wanted):  # none is added for no task
        kind = "add" if write is wanted else "update"
        task_types, statuses = ([write], []) if is_type else ([], [write])
        if await add_to_anatomy(
            ctx, project, task_types=task_types, statuses=statuses, update_existing=True
        ):
            changes[f"{kind} {what}"] = 1
    # The AYON name: the item's, which may differ from Kitsu's in case only.
    name = (
        write.name
        if write is not None
        else next(i.name for i in items if i.name.casefold() == record.name.casefold())
    )
    ayon_tasks = await ctx.reader.tasks_by_kitsu_ids(project, [task.id for task in tasks])
    follow_ups = tuple(
        sorted(
            Key(key.project_id, "task", kitsu_id)
            for kitsu_id, task in ayon_tasks.items()
            if (task.task_type if is_type else task.status) != name
        )
    )
    return ReconcileResult(
        str(key),
        "changed" if changes else "in step",
        changes,
        follow_ups=follow_ups,
        label=label,
    )


async def reconcile_person(ctx: SyncContext, key: Key) -> ReconcileResult:
    """The keys of the person's tasks in the project, for their assignees to be mapped again."""
    project = await ctx.reader.paired_project(key.project_id)
    if project is None:
        return ReconcileResult(str(key), "skipped", notes=(_UNPAIRED,))
    try:
        person = await ctx.kitsu.get_entity("person", key.kitsu_id)
        who = f"{person.first_name} {person.last_name}".strip() or person.id
    except KitsuNotFound:
        who = key.kitsu_id
    tasks = await ctx.kitsu.tasks(key.project_id)
    follow_ups = tuple(
        sorted(
            Key(key.project_id, "task", t.id) for t in tasks if key.kitsu_id in (t.assignees or ())
        )
    )
    return ReconcileResult(
        str(key), "in step", follow_ups=follow_ups, label=f"{project} (tasks of {who})"
    )


def _refers_to(task: KitsuTask, is_type: bool, record_id: str) -> bool:
    return (task.task_type_id if is_type else task.task_status_id) == record_id
