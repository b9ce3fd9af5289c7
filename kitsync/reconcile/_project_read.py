"""The full reconcile's reads: a whole Kitsu project in a few list calls, the AYON side in a few
SQL queries or paginated GraphQL reads. Each side's calls run concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kitsync.ayon import AyonReads
from kitsync.concurrency import task_group
from kitsync.core.production import Production
from kitsync.kitsu import KitsuClient, KitsuNotFound
from kitsync.schemas import (
    AyonFolder,
    AyonProjectAnatomy,
    AyonTask,
    KitsuAssetType,
    KitsuPerson,
    KitsuProject,
    KitsuRecord,
    KitsuTaskStatus,
    KitsuTaskType,
)

R = TypeVar("R", bound=KitsuRecord)


@dataclass(frozen=True)
class AyonState:
    """Everything of one AYON project the full reconcile plans from."""

    anatomy: AyonProjectAnatomy
    folders: list[AyonFolder]
    tasks: list[AyonTask]
    users_by_email: Mapping[str, str] = field(default_factory=dict)
    attrib: Mapping[str, Any] = field(default_factory=dict)  # the project's own attributes


async def read_production(kitsu: KitsuClient, project_id: str) -> tuple[KitsuProject, Production]:
    """The project and all its lists (but its entity links: ``entity_links`` stays None).
    The project read comes first in the batch on purpose: Zou answers ``[]`` to some lists of
    an unknown project, and an empty production would plan the removal of everything;
    ``KitsuNotFound`` stops that."""
    async with task_group() as group:
        project = group.create_task(kitsu.project(project_id))
        asset_types = group.create_task(kitsu.asset_types(project_id))
        assets = group.create_task(kitsu.assets(project_id))
        episodes = group.create_task(kitsu.episodes(project_id))
        sequences = group.create_task(kitsu.sequences(project_id))
        shots = group.create_task(kitsu.shots(project_id))
        edits = group.create_task(kitsu.edits(project_id))
        concepts = group.create_task(kitsu.concepts(project_id))
        tasks = group.create_task(kitsu.tasks(project_id))
        task_types = group.create_task(kitsu.task_types(project_id))
        statuses = group.create_task(kitsu.task_statuses(project_id))
        persons = group.create_task(kitsu.persons())
    # Records the lists leave out but the entities refer to (a type since removed from the
    # project settings, a person whose email this account may not list): read one by one.
    async with task_group() as group:
        more_types = group.create_task(
            _missing(
                asset_types.result(),
                (a.entity_type_id for a in assets.result()),
                lambda i: kitsu.get_entity("asset_type", i),
            )
        )
        more_task_types = group.create_task(
            _missing(
                task_types.result(),
                (t.task_type_id for t in tasks.result()),
                lambda i: kitsu.get_entity("task_type", i),
            )
        )
        more_statuses = group.create_task(
            _missing(
                statuses.result(),
                (t.task_status_id for t in tasks.result()),
                lambda i: kitsu.get_entity("task_status", i),
            )
        )
        more_persons = group.create_task(
            _missing(
                [p for p in persons.result() if p.email],
                (p for t in tasks.result() for p in t.assignees or ()),
                lambda i: kitsu.get_entity("person", i),
            )
        )
    production = Production(
        asset_types=_merged(asset_types.result(), more_types.result()),
        assets=assets.result(),
        episodes=episodes.result(),
        sequences=sequences.result(),
        shots=shots.result(),
        edits=edits.result(),
        concepts=concepts.result(),
        tasks=tasks.result(),
        task_types=_merged(task_types.result(), more_task_types.result()),
        task_statuses=_merged(statuses.result(), more_statuses.result()),
        persons=_merged(persons.result(), more_persons.result()),
    )
    return project.result(), production


async def read_ayon(reader: AyonReads, project: str) -> AyonState:
    """Every folder and task of the project, its anatomy and own attributes (not the users:
    which are needed depends on Kitsu's read, this one does not)."""
    async with task_group() as group:
        folders = group.create_task(reader.project_folders(project))
        tasks = group.create_task(reader.project_tasks(project))
        anatomy = group.create_task(reader.anatomy(project))
        summary = group.create_task(reader.project_summary(project))
    return AyonState(
        anatomy=anatomy.result(),
        folders=folders.result(),
        tasks=tasks.result(),
        attrib=summary.result().attrib,
    )


async def _missing(
    have: Collection[R], wanted: Iterable[str], get: Callable[[str], Awaitable[R]]
) -> list[R]:
    """The wanted records not in ``have``, read one by one; one Kitsu no longer has is left
    out (what refers to it is then skipped with a note by the planner)."""

    async def one(record_id: str) -> R | None:
        try:
            return await get(record_id)
        except KitsuNotFound:
            return None

    known = {record.id for record in have}
    found = await asyncio.gather(*(one(i) for i in sorted(set(wanted) - known)))
    return [record for record in found if record is not None]


_Record = TypeVar("_Record", KitsuAssetType, KitsuTaskType, KitsuTaskStatus, KitsuPerson)


def _merged(listed: list[_Record], extra: list[_Record]) -> list[_Record]:
    """Both lists by id; a record read on its own replaces its listed version."""
    by_id = {record.id: record for record in listed} | {record.id: record for record in extra}
    return [by_id[record_id] for record_id in sorted(by_id)]
