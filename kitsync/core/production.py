"""Specs for a whole Kitsu production, from the project's lists (the full reconcile's input)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kitsync.core.desired import (
    ROOTS,
    FolderSpec,
    TaskSpec,
    asset_type_spec,
    entity_spec,
    root_spec,
    task_spec,
)
from kitsync.schemas.kitsu import (
    KitsuAsset,
    KitsuAssetType,
    KitsuConcept,
    KitsuEdit,
    KitsuEntityLink,
    KitsuEpisode,
    KitsuPerson,
    KitsuSequence,
    KitsuShot,
    KitsuTask,
    KitsuTaskStatus,
    KitsuTaskType,
)


@dataclass(frozen=True)
class Production:
    """Everything of one Kitsu project that maps to AYON folders, tasks and links."""

    asset_types: Sequence[KitsuAssetType] = ()
    assets: Sequence[KitsuAsset] = ()
    episodes: Sequence[KitsuEpisode] = ()
    sequences: Sequence[KitsuSequence] = ()
    shots: Sequence[KitsuShot] = ()
    edits: Sequence[KitsuEdit] = ()
    concepts: Sequence[KitsuConcept] = ()
    tasks: Sequence[KitsuTask] = ()
    task_types: Sequence[KitsuTaskType] = ()
    task_statuses: Sequence[KitsuTaskStatus] = ()
    persons: Sequence[KitsuPerson] = ()
    # The casting of every container (None: not read with the lists).
    entity_links: Sequence[KitsuEntityLink] | None = None


@dataclass(frozen=True)
class ProductionSpecs:
    folders: tuple[FolderSpec, ...]
    tasks: tuple[TaskSpec, ...]
    notes: tuple[str, ...]


def production_specs(production: Production) -> ProductionSpecs:
    """Folder and task specs of every entity; tasks whose type, status or entity is unknown are
    left out with a note (Kitsu lists are read at slightly different moments)."""
    notes: list[str] = []
    asset_types = {t.id: t for t in production.asset_types}
    entities: list[FolderSpec] = []
    for asset in production.assets:
        if asset.entity_type_id not in asset_types:
            notes.append(f"asset {asset.name}: unknown asset type {asset.entity_type_id}, skipped")
            continue
        entities.append(entity_spec(asset))
    groups: Iterable[Sequence[KitsuEpisode | KitsuSequence | KitsuShot | KitsuEdit | KitsuConcept]]
    groups = (
        production.episodes,
        production.sequences,
        production.shots,
        production.edits,
        production.concepts,
    )
    entities.extend(entity_spec(entity) for group in groups for entity in group)
    used_types = sorted({asset.entity_type_id for asset in production.assets} & asset_types.keys())
    entities[:0] = [asset_type_spec(asset_types[type_id]) for type_id in used_types]
    parents = {spec.parent_key for spec in entities}
    folders = [root_spec(kind) for kind in ROOTS if kind in parents] + entities

    active = {spec.key: spec.active for spec in entities}
    types = {t.id: t for t in production.task_types}
    statuses = {s.id: s for s in production.task_statuses}
    emails = {p.id: p.email for p in production.persons if p.email}
    tasks: list[TaskSpec] = []
    for task in production.tasks:
        task_type, status = types.get(task.task_type_id), statuses.get(task.task_status_id)
        if task.entity_id not in active or task_type is None or status is None:
            notes.append(f"task {task.id}: entity, type or status not in the project, skipped")
            continue
        tasks.append(task_spec(task, task_type, status, emails, active=active[task.entity_id]))
    return ProductionSpecs(tuple(folders), tuple(tasks), tuple(notes))
