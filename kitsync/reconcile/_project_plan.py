"""The full reconcile's plan, pure: from the Kitsu production and the AYON project's state.

What Kitsu "no longer has" is decided here: an AYON folder or task that carries a Kitsu id
(``data.kitsuId``, or kitsync's derived id) which is neither wanted by the production's specs nor
the id of any record Kitsu listed. So an entity the specs skip (say, an asset of a type Kitsu's
lists missed) is left alone rather than removed, and a root or asset type folder goes only once
nothing in Kitsu needs it any more.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from kitsync.ayon import index_by_kitsu_id
from kitsync.core.casting import CastingDiff
from kitsync.core.plan import AyonSnapshot, DeleteMode, Plan, change_kind, plan
from kitsync.core.production import Production, ProductionSpecs
from kitsync.reconcile._project_read import AyonState
from kitsync.schemas import AyonFolder, AyonTask, KitsuProject, Operation

# Project attributes that follow Kitsu's project (only set when Kitsu has a value: AYON needs
# project-level defaults for everything below it).
_DATES = (("startDate", "start_date"), ("endDate", "end_date"))
_EMPTY = (
    "Kitsu lists no asset, episode, sequence, shot, edit or concept for this project: nothing "
    "is removed from AYON (check that the Kitsu account can see the project)"
)


@dataclass(frozen=True)
class Managed:
    """The AYON entities standing for Kitsu ids (by Kitsu id), and those Kitsu no longer has."""

    folders: Mapping[str, AyonFolder]
    tasks: Mapping[str, AyonTask]
    gone_folders: tuple[str, ...] = ()
    gone_tasks: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectPlan:
    entities: Plan
    attrib: Mapping[str, Any] = field(default_factory=dict)  # project attributes to write

    @property
    def empty(self) -> bool:
        return self.entities.empty and not self.attrib

    def counts(self) -> dict[str, int]:
        counts = self.entities.counts()
        if self.attrib:
            counts["update project"] = 1
        return dict(sorted(counts.items()))

    def project_lines(self) -> list[str]:
        """What the plan changes besides entities, one line each: anatomy additions, then the
        project's attributes."""
        entities = self.entities
        lines = [f"add folder type {item.name}" for item in entities.folder_types]
        lines += [f"add task type {item.name}" for item in entities.task_types]
        lines += [f"add status {item.name}" for item in entities.statuses]
        if self.attrib:
            lines.append(f"update project ({', '.join(sorted(self.attrib))})")
        return lines


@dataclass(frozen=True)
class Step:
    """One operation with what it does in words (path after the change) and its Kitsu id."""

    operation: Operation
    what: str
    kitsu_id: str | None = None


def managed_entities(production: Production, specs: ProductionSpecs, state: AyonState) -> Managed:
    folder_keys = {spec.key for spec in specs.folders}
    task_keys = {spec.key for spec in specs.tasks}
    folders = index_by_kitsu_id(state.folders, folder_keys | _kitsu_ids(state.folders))
    tasks = index_by_kitsu_id(state.tasks, task_keys | _kitsu_ids(state.tasks))
    listed = {
        record.id
        for record in itertools.chain(
            production.asset_types,
            production.assets,
            production.episodes,
            production.sequences,
            production.shots,
            production.edits,
            production.concepts,
        )
    }
    if not listed - {t.id for t in production.asset_types} and (folders or tasks):
        # Kitsu lists no entity at all while AYON holds some of its entities: far more likely
        # an account that cannot see the project than a production emptied on purpose.
        return Managed(folders, tasks, notes=(_EMPTY,))
    kitsu_tasks = {task.id for task in production.tasks}
    kept = folder_keys | listed  # out of the generator, which would build it per folder
    return Managed(
        folders=folders,
        tasks=tasks,
        gone_folders=tuple(sorted(k for k in folders if k not in kept)),
        gone_tasks=tuple(sorted(k for k in tasks if k not in kitsu_tasks)),
    )


def plan_project(
    production: Production,
    specs: ProductionSpecs,
    kitsu_project: KitsuProject,
    state: AyonState,
    managed: Managed,
    *,
    with_products: Collection[str] = (),
    delete_mode: DeleteMode = "delete",
) -> ProjectPlan:
    """Everything to write so the AYON project matches the Kitsu project."""
    children: dict[str | None, list[AyonFolder]] = {None: []}
    children.update({folder.id: [] for folder in state.folders})
    for folder in state.folders:
        children.setdefault(folder.parent_id, []).append(folder)
    siblings: dict[str, list[AyonTask]] = {folder.id: [] for folder in state.folders}
    for task in state.tasks:
        siblings.setdefault(task.folder_id, []).append(task)
    snapshot = AyonSnapshot(
        anatomy=state.anatomy,
        folders=managed.folders,
        tasks=managed.tasks,
        children=children,
        task_siblings=siblings,
        users_by_email=state.users_by_email,
        with_products=frozenset(with_products),
    )
    entities = plan(
        snapshot,
        specs.folders,
        specs.tasks,
        task_types=production.task_types,
        statuses=production.task_statuses,
        gone_folders=managed.gone_folders,
        gone_tasks=managed.gone_tasks,
        delete_mode=delete_mode,
    )
    notes = tuple(dict.fromkeys((*managed.notes, *specs.notes, *entities.notes)))
    # A folder delete takes its subtree's tasks along: deleting them first is only noise.
    cascaded = removed_with(state.folders, state.tasks, deleted_folders(entities.operations))
    operations = tuple(
        op
        for op in entities.operations
        if not (op.type == "delete" and op.entity_type == "task" and op.entity_id in cascaded)
    )
    return ProjectPlan(
        entities=replace(entities, operations=operations, notes=notes),
        attrib=project_attrib_changes(kitsu_project, state.attrib),
    )


def project_attrib(project: KitsuProject) -> dict[str, Any]:
    """The AYON project attributes Kitsu's project defines: fps, resolution, dates."""
    attrib: dict[str, Any] = {}
    if project.fps:
        attrib["fps"] = project.fps
    size = project.resolution_size
    if size is not None:
        attrib["resolutionWidth"], attrib["resolutionHeight"] = size
    for key, kitsu_key in _DATES:
        day: date | None = getattr(project, kitsu_key)
        if day is not None:
            attrib[key] = datetime.combine(day, time(), tzinfo=UTC).isoformat()
    return attrib


def project_attrib_changes(project: KitsuProject, own: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in project_attrib(project).items()
        if not _same_attrib(own.get(key), value)
    }


def deleted_folders(operations: Iterable[Operation]) -> list[str]:
    return [
        op.entity_id
        for op in operations
        if op.type == "delete" and op.entity_type == "folder" and op.entity_id
    ]


def removed_with(
    folders: Iterable[AyonFolder], tasks: Iterable[AyonTask], deleted: Collection[str]
) -> set[str]:
    """The ids deleting ``deleted`` folders removes: them, their descendants, all their tasks."""
    below: defaultdict[str, list[str]] = defaultdict(list)
    for folder in folders:
        if folder.parent_id is not None:
            below[folder.parent_id].append(folder.id)
    removed: set[str] = set()
    todo = list(deleted)
    while todo:
        folder_id = todo.pop()
        if folder_id not in removed:
            removed.add(folder_id)
            todo.extend(below[folder_id])
    return removed | {task.id for task in tasks if task.folder_id in removed}


def folders_after(
    folders: Iterable[AyonFolder], operations: Iterable[Operation], removed: Collection[str]
) -> list[AyonFolder]:
    """The project's folders once ``operations`` are applied, as far as planning links looks at
    them: which exist, their Kitsu ids and active flags."""
    after = {folder.id: folder for folder in folders if folder.id not in removed}
    for op in operations:
        if op.entity_type != "folder" or op.entity_id is None:
            continue
        data = op.data or {}
        if op.type == "create":
            after[op.entity_id] = AyonFolder(
                id=op.entity_id,
                name=data["name"],
                folder_type=data["folderType"],
                parent_id=data.get("parentId"),
                data=data.get("data") or {},
                active=data.get("active", True),
                status="",
            )
        elif op.type == "update" and op.entity_id in after:
            current = after[op.entity_id]
            after[op.entity_id] = current.model_copy(
                update={
                    "active": data.get("active", current.active),
                    "data": current.data | (data.get("data") or {}),
                }
            )
    return list(after.values())


class Describer:
    """Says in words what each operation does, following renames and moves in plan order."""

    def __init__(self, folders: Iterable[AyonFolder], tasks: Iterable[AyonTask]) -> None:
        self._name: dict[str, str] = {}
        self._parent: dict[str, str | None] = {}
        self._kitsu: dict[str, str | None] = {}
        for folder in folders:
            self._name[folder.id] = folder.name
            self._parent[folder.id] = folder.parent_id
            self._kitsu[folder.id] = folder.kitsu_id
        self._tasks: dict[str, tuple[str, str | None]] = {
            task.id: (task.name, task.folder_id) for task in tasks
        }
        self._kitsu.update({task.id: task.kitsu_id for task in tasks})

    def path(self, folder_id: str | None) -> str:
        parts: list[str] = []
        seen: set[str] = set()
        while folder_id is not None and folder_id in self._name and folder_id not in seen:
            seen.add(folder_id)
            parts.append(self._name[folder_id])
            folder_id = self._parent[folder_id]
        return "/".join(reversed(parts)) or "?"

    def steps(self, operations: Sequence[Operation]) -> list[Step]:
        return [self.step(op) for op in operations]

    def step(self, op: Operation) -> Step:
        entity_id = op.entity_id or ""
        data = op.data or {}
        kind = change_kind(op)
        kitsu_id = (data.get("data") or {}).get("kitsuId") or self._kitsu.get(entity_id)
        if op.entity_type == "folder":
            if op.type != "delete":
                self._name[entity_id] = data.get("name", self._name.get(entity_id, entity_id))
                self._parent[entity_id] = data.get("parentId", self._parent.get(entity_id))
            where = self.path(entity_id)
        else:
            name, folder = self._tasks.get(entity_id, (entity_id, None))
            if op.type != "delete":
                name, folder = data.get("name", name), data.get("folderId", folder)
                self._tasks[entity_id] = (name, folder)
            where = f"{self.path(folder)}/{name}"
        detail = ""
        if kind.startswith("update"):
            detail = f" ({', '.join(sorted(data))})"
        return Step(op, f"{kind} {where}{detail}", kitsu_id)

    def links(self, diff: CastingDiff) -> list[str]:
        """One line per breakdown link change, with the paths it connects (as the operations
        described so far leave them)."""
        paths: dict[str, str] = {}  # a project has tens of thousands of links, few folders

        def path(folder_id: str) -> str:
            if folder_id not in paths:
                paths[folder_id] = self.path(folder_id)
            return paths[folder_id]

        lines = [
            f"delete link {path(link.input_id)} -> {path(link.output_id)}" for link in diff.removed
        ]
        lines += [f"create link {path(link.input)} -> {path(link.output)}" for link in diff.create]
        return lines


def _kitsu_ids(entities: Iterable[AyonFolder | AyonTask]) -> set[str]:
    return {kitsu_id for entity in entities if (kitsu_id := entity.kitsu_id) is not None}


def _same_attrib(have: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(have, int | float) and not isinstance(have, bool):
        return abs(float(have) - want) < 1e-9
    if isinstance(want, str) and isinstance(have, str) and want != have:
        try:
            return datetime.fromisoformat(have) == datetime.fromisoformat(want)
        except ValueError:
            return False
    return bool(have == want)
