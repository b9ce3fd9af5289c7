"""Diff: from what Kitsu wants (specs) and what AYON holds (a snapshot) to a plan of operations.

Pure: no I/O. The plan holds the anatomy items to add first (through the project PATCH), then
AYON ``/operations`` in an order AYON accepts in one batch: removals first (they free names),
folders parents-first, then tasks. Applying a plan and planning again gives an empty plan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kitsync.core.anatomy import AnatomyNeeds, resolve_anatomy
from kitsync.core.desired import FolderSpec, TaskSpec
from kitsync.core.ids import ayon_id
from kitsync.core.names import choose_name, choose_task_name, slug
from kitsync.schemas.ayon import AnatomyItem, AyonFolder, AyonProjectAnatomy, AyonTask, Operation
from kitsync.schemas.kitsu import KitsuTaskStatus, KitsuTaskType

DeleteMode = Literal["delete", "deactivate"]


@dataclass(frozen=True)
class AyonSnapshot:
    """The part of AYON's state a plan depends on, read in a few batched queries.

    ``folders``/``tasks`` are keyed by Kitsu key (``data.kitsuId`` or kitsync's derived id);
    ``children`` lists every folder under each parent id involved (None = root), managed or not;
    ``task_siblings`` every task of each folder involved; ``with_products`` the folders that
    hold products in their subtree (never deleted).
    """

    anatomy: AyonProjectAnatomy
    folders: Mapping[str, AyonFolder] = field(default_factory=dict)
    tasks: Mapping[str, AyonTask] = field(default_factory=dict)
    children: Mapping[str | None, Sequence[AyonFolder]] = field(default_factory=dict)
    task_siblings: Mapping[str, Sequence[AyonTask]] = field(default_factory=dict)
    users_by_email: Mapping[str, str] = field(default_factory=dict)
    with_products: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Plan:
    folder_types: tuple[AnatomyItem, ...] = ()
    task_types: tuple[AnatomyItem, ...] = ()
    statuses: tuple[AnatomyItem, ...] = ()
    operations: tuple[Operation, ...] = ()
    notes: tuple[str, ...] = ()
    # AYON parents (None: the root) under which the plan frees a folder name or gives a folder
    # a collision suffix. Once it is applied, a folder there may wear a suffix whose bare name
    # is free (``names.better_name_free``): its entity is to be planned again.
    names_changed_under: frozenset[str | None] = frozenset()
    # False when a folder of the plan gets a collision suffix whose bare name a later operation
    # of the same plan frees (siblings swapping names): AYON takes one operation per entity in
    # a batch, so planning again once this plan is applied gives it the bare name.
    settled: bool = True

    @property
    def anatomy_changes(self) -> bool:
        return bool(self.folder_types or self.task_types or self.statuses)

    @property
    def empty(self) -> bool:
        return not self.anatomy_changes and not self.operations

    def counts(self) -> dict[str, int]:
        """How many of each change, e.g. ``{"create folder": 3, "add task type": 1}``."""
        counts: Counter[str] = Counter(map(change_kind, self.operations))
        for label, items in (
            ("folder type", self.folder_types),
            ("task type", self.task_types),
            ("status", self.statuses),
        ):
            if items:
                counts[f"add {label}"] += len(items)
        return dict(sorted(counts.items()))


def change_kind(op: Operation) -> str:
    """What an operation does, as :meth:`Plan.counts` counts it: ``"create folder"``,
    ``"deactivate task"`` ..."""
    deactivates = op.type == "update" and op.data is not None and op.data.get("active") is False
    return f"{'deactivate' if deactivates else op.type} {op.entity_type}"


def plan(
    snapshot: AyonSnapshot,
    folders: Sequence[FolderSpec] = (),
    tasks: Sequence[TaskSpec] = (),
    *,
    task_types: Iterable[KitsuTaskType] = (),
    statuses: Iterable[KitsuTaskStatus] = (),
    gone_folders: Iterable[str] = (),
    gone_tasks: Iterable[str] = (),
    delete_mode: DeleteMode = "delete",
    tasks_follow_folders: bool = False,
) -> Plan:
    """Everything to do so AYON matches the specs, and drops what Kitsu no longer has.

    ``task_types``/``statuses`` are the Kitsu records the task specs refer to by name (for the
    colour and short name of anatomy additions). ``gone_*`` are Kitsu keys Kitsu answers 404 for.
    ``tasks_follow_folders`` (an entity's own plan, without its task specs): the Kitsu tasks in
    ``task_siblings`` of a folder take its active flag, since Zou cancels or restores an entity
    with no event for its tasks; a plan with task specs gives each its own flag instead.
    """
    anatomy = resolve_anatomy(
        snapshot.anatomy,
        AnatomyNeeds(
            folder_types={spec.folder_type for spec in folders},
            task_types={spec.task_type for spec in tasks},
            statuses={spec.status for spec in tasks},
        ),
        task_types,
        statuses,
    )
    builder = _Builder(snapshot, delete_mode, tasks_follow_folders)
    builder.remove_gone(gone_folders, gone_tasks, live=[spec.key for spec in folders])
    for spec in _parents_first(folders):
        builder.folder(spec, anatomy.folder_type(spec.folder_type))
    builder.shed_suffixes()
    for task in sorted(tasks, key=lambda t: (t.created, t.key)):
        builder.task(task, anatomy.task_type(task.task_type), anatomy.status(task.status))
    return Plan(
        folder_types=anatomy.new_folder_types,
        task_types=anatomy.new_task_types,
        statuses=anatomy.new_statuses,
        operations=(*builder.operations, *builder.late_deletes),
        notes=tuple(builder.notes),
        names_changed_under=frozenset(builder.names_changed),
        settled=builder.settled,
    )


def _parents_first(specs: Sequence[FolderSpec]) -> list[FolderSpec]:
    by_key = {spec.key: spec for spec in specs}
    depth: dict[str, int] = {}

    def level(spec: FolderSpec, seen: frozenset[str] = frozenset()) -> int:
        if spec.key not in depth:
            parent = by_key.get(spec.parent_key) if spec.parent_key else None
            if parent is None or parent.key in seen:
                depth[spec.key] = 0
            else:
                depth[spec.key] = level(parent, seen | {spec.key}) + 1
        return depth[spec.key]

    # Within one level the oldest Kitsu entity claims a contested name first.
    return sorted(by_key.values(), key=lambda s: (level(s), s.created, s.key))


class _Builder:
    """Accumulates operations while tracking which names each parent's active children hold."""

    def __init__(
        self, snapshot: AyonSnapshot, delete_mode: DeleteMode, tasks_follow_folders: bool
    ) -> None:
        self.snapshot = snapshot
        self.delete_mode = delete_mode
        self.tasks_follow_folders = tasks_follow_folders
        self.operations: list[Operation] = []
        self.notes: list[str] = []
        self.resolved: dict[str, str] = {key: f.id for key, f in snapshot.folders.items()}
        self.removed: set[str] = set()
        # Deletes of gone folders that still hold folders Kitsu moved elsewhere: sent last.
        self.late_deletes: list[Operation] = []
        # parent id -> lower-case name -> id of the active folder holding it
        self.names: dict[str | None, dict[str, str]] = {
            parent: {f.name.lower(): f.id for f in children if f.active}
            for parent, children in snapshot.children.items()
        }
        self.task_names: dict[str, dict[str, str]] = {
            folder: {t.name.lower(): t.id for t in siblings if t.active}
            for folder, siblings in snapshot.task_siblings.items()
        }
        self.names_changed: set[str | None] = set()
        self.settled = True
        # (spec, folder id, parent id, name) of the folders given a collision suffix
        self.suffixed: list[tuple[FolderSpec, str, str | None, str]] = []

    # -- removals ---------------------------------------------------------------------------

    def remove_gone(
        self, folder_keys: Iterable[str], task_keys: Iterable[str], live: Iterable[str] = ()
    ) -> None:
        """Delete (or deactivate) what Kitsu no longer has. ``live``: Kitsu keys of folders
        Kitsu still has; a gone folder holding one of them in AYON is deleted after the plan
        has moved it out (AYON deletes a folder with everything under it)."""
        for key in sorted(set(task_keys)):
            task = self.snapshot.tasks.get(key)
            if task is not None:
                self.operations.append(
                    Operation(type="delete", entity_type="task", entity_id=task.id)
                )
                held = self.task_names.get(task.folder_id, {})
                if held.get(task.name.lower()) == task.id:  # an inactive one holds no name
                    del held[task.name.lower()]
        known = {f.id: f for children in self.snapshot.children.values() for f in children}
        known.update({f.id: f for f in self.snapshot.folders.values()})
        gone = {f.id: f for k in folder_keys if (f := self.snapshot.folders.get(k)) is not None}
        kept = {f.id for k in live if (f := self.snapshot.folders.get(k)) is not None}
        holding = _ancestors(kept, known) & gone.keys()
        for folder in sorted(gone.values(), key=lambda f: f.id):
            if _has_ancestor_in(folder, gone, known):
                continue  # removed with its ancestor (AYON cascades), or deactivated under it
            deleted = self.delete_mode == "delete" and folder.id not in self.snapshot.with_products
            if deleted and folder.id in holding:
                # Its name stays taken until the end of this plan: a next pass may reuse it.
                self.removed.add(folder.id)
                self.late_deletes.append(
                    Operation(type="delete", entity_type="folder", entity_id=folder.id)
                )
                self.settled = False
                continue
            self._release(folder)
            if folder.active:
                self.names_changed.add(folder.parent_id)
            if self.delete_mode == "deactivate" or folder.id in self.snapshot.with_products:
                if folder.id in self.snapshot.with_products and self.delete_mode == "delete":
                    where = folder.path or folder.name
                    self.notes.append(f"folder {where} has products: deactivated, not deleted")
                if folder.active:
                    self._update("folder", folder.id, {"active": False})
            else:
                self.removed.add(folder.id)
                self.operations.append(
                    Operation(type="delete", entity_type="folder", entity_id=folder.id)
                )

    def _release(self, folder: AyonFolder) -> None:
        held = self.names.get(folder.parent_id, {})
        if held.get(folder.name.lower()) == folder.id:
            del held[folder.name.lower()]

    # -- folders ----------------------------------------------------------------------------

    def folder(self, spec: FolderSpec, folder_type: str) -> None:
        parent_id = self.resolved.get(spec.parent_key) if spec.parent_key else None
        if spec.parent_key and parent_id is None:
            self.notes.append(
                f"{spec.kitsu_type} {spec.label}: parent {spec.parent_key} is not in AYON, skipped"
            )
            return
        current = self.snapshot.folders.get(spec.key)
        if current is not None and current.id in self.removed:
            current = None
        if current is not None and spec.create_only:
            self.resolved[spec.key] = current.id
            return
        folder_id = current.id if current else ayon_id(spec.key)
        held = self.names.setdefault(parent_id, {})
        if current is not None:
            self._release(current)
        taken = _HeldByOthers(held, folder_id)
        if spec.active:
            name = choose_name(spec.key, spec.kitsu_name, taken)
            held[name.lower()] = folder_id
            if name != slug(spec.kitsu_name):
                self.suffixed.append((spec, folder_id, parent_id, name))
        else:
            name = current.name if current else slug(spec.kitsu_name)
        self._note_name_change(current, spec, parent_id, name)
        # kitsuType goes only on what kitsync creates: its readers fall back to the folder
        # type, so a folder ayon-kitsu made (only kitsuId) is never rewritten to add it.
        desired_data = {"kitsuId": spec.key, "kitsuType": spec.kitsu_type}
        if current is None:
            body: dict[str, Any] = {
                "name": name,
                "label": spec.label,
                "folderType": folder_type,
                "data": desired_data,
                "active": spec.active,
            }
            if parent_id is not None:
                body["parentId"] = parent_id
            attrib = {k: v for k, v in spec.attrib.items() if v is not None}
            if attrib:
                body["attrib"] = attrib
            self.operations.append(
                Operation(type="create", entity_type="folder", entity_id=folder_id, data=body)
            )
        else:
            changes = _changes(
                current,
                {
                    "name": name,
                    "label": spec.label,
                    "folderType": folder_type,
                    "parentId": parent_id,
                    "active": spec.active,
                },
            )
            attrib = _attrib_changes(current.attrib, spec.attrib, spec.managed_attribs)
            if attrib:
                changes["attrib"] = attrib
            if current.data.get("kitsuId") != spec.key:
                changes["data"] = {"kitsuId": spec.key}
            if changes:
                self._update("folder", current.id, changes)
            if self.tasks_follow_folders:
                self._tasks_follow(current.id, spec.active)
        self.resolved[spec.key] = folder_id

    def _tasks_follow(self, folder_id: str, active: bool) -> None:
        held = self.task_names.setdefault(folder_id, {})
        siblings = sorted(self.snapshot.task_siblings.get(folder_id, ()), key=lambda t: t.id)
        for task in siblings:
            if task.kitsu_id is None or task.active == active:
                continue
            if not active:
                if held.get(task.name.lower()) == task.id:
                    del held[task.name.lower()]
                self._update("task", task.id, {"active": False})
                continue
            # Back among the active ones: its name may have been taken meanwhile (a task made
            # by hand), and AYON would refuse the whole restore.
            name = choose_task_name(
                task.label or task.name, task.task_type, _HeldByOthers(held, task.id), task.name
            )
            held[name.lower()] = task.id
            renamed = {"name": name} if name != task.name else {}
            self._update("task", task.id, {"active": True, **renamed})

    def _note_name_change(
        self, current: AyonFolder | None, spec: FolderSpec, parent_id: str | None, name: str
    ) -> None:
        moved = current is None or (current.name, current.parent_id) != (name, parent_id)
        if current is not None and current.active and (moved or not spec.active):
            self.names_changed.add(current.parent_id)  # frees its name there
        if spec.active and moved and name != slug(spec.kitsu_name):
            self.names_changed.add(parent_id)  # settles for a suffix there

    def shed_suffixes(self) -> None:
        """A second look at the folders given a suffix: one planned after them may have freed
        the bare name. Renamed after that one's operation if the plan has no other operation
        for them (AYON takes one per entity), else the plan is not ``settled``."""
        touched = {op.entity_id for op in self.operations if op.type != "create"}
        for spec, folder_id, parent_id, name in self.suffixed:
            held = self.names[parent_id]
            if held.get(name.lower()) == folder_id:
                del held[name.lower()]
            better = choose_name(spec.key, spec.kitsu_name, set(held))
            if better == name:
                held[name.lower()] = folder_id
            elif folder_id in touched:
                held[name.lower()] = folder_id  # it keeps the suffix in this plan
                self.settled = False
            else:
                held[better.lower()] = folder_id
                self._update("folder", folder_id, {"name": better})

    # -- tasks ------------------------------------------------------------------------------

    def task(self, spec: TaskSpec, task_type: str, status: str) -> None:
        folder_id = self.resolved.get(spec.folder_key)
        if folder_id is None:
            self.notes.append(
                f"task {spec.label}: its entity {spec.folder_key} is not in AYON, skipped"
            )
            return
        current = self.snapshot.tasks.get(spec.key)
        task_id = current.id if current else ayon_id(spec.key)
        held = self.task_names.setdefault(folder_id, {})
        if current is not None:
            siblings = self.task_names.get(current.folder_id, {})
            if siblings.get(current.name.lower()) == current.id:
                del siblings[current.name.lower()]
        name = choose_task_name(
            spec.kitsu_name,
            spec.task_type,
            _HeldByOthers(held, task_id),
            holds=current.name if current is not None else None,
        )
        held[name.lower()] = task_id
        assignees = []
        for email in spec.assignee_emails:
            user = self.snapshot.users_by_email.get(email)
            if user is None:
                self.notes.append(f"task {spec.label}: no AYON user has the email {email}")
            else:
                assignees.append(user)
        desired: dict[str, Any] = {
            "name": name,
            "label": spec.label,
            "taskType": task_type,
            "status": status,
            "folderId": folder_id,
            "assignees": sorted({*assignees, *spec.kept_assignees}),
        }
        desired_data = {"kitsuId": spec.key, "kitsuType": "Task"}
        if current is None:
            self.operations.append(
                Operation(
                    type="create",
                    entity_type="task",
                    entity_id=task_id,
                    data=desired | {"data": desired_data, "active": spec.active},
                )
            )
            return
        changes = _changes(current, desired | {"active": spec.active})
        if current.data.get("kitsuId") != spec.key:
            changes["data"] = {"kitsuId": spec.key}
        if changes:
            self._update("task", current.id, changes)

    def _update(
        self, entity_type: Literal["folder", "task"], entity_id: str, data: dict[str, Any]
    ) -> None:
        self.operations.append(
            Operation(type="update", entity_type=entity_type, entity_id=entity_id, data=data)
        )


@dataclass(frozen=True, slots=True)
class _HeldByOthers:
    """The lower-case names in ``held`` (name -> id of its holder) that another than ``owner``
    holds. A view: a copy for each planned entity grew with the square of its siblings."""

    held: Mapping[str, str]
    owner: str

    def __contains__(self, name: object) -> bool:
        holder = self.held.get(name) if isinstance(name, str) else None
        return holder is not None and holder != self.owner


def _ancestors(ids: Iterable[str], known: Mapping[str, AyonFolder]) -> set[str]:
    """Every ancestor of the folders ``ids`` (by their AYON parents)."""
    found: set[str] = set()
    for folder_id in ids:
        parent = known[folder_id].parent_id if folder_id in known else None
        while parent is not None and parent not in found:
            found.add(parent)
            parent = known[parent].parent_id if parent in known else None
    return found


def _has_ancestor_in(
    folder: AyonFolder, ids: Mapping[str, AyonFolder], known: Mapping[str, AyonFolder]
) -> bool:
    parent = folder.parent_id
    seen: set[str] = set()
    while parent is not None and parent not in seen:
        if parent in ids:
            return True
        seen.add(parent)
        parent = known[parent].parent_id if parent in known else None
    return False


_WIRE_TO_FIELD = {
    "name": "name",
    "label": "label",
    "folderType": "folder_type",
    "parentId": "parent_id",
    "active": "active",
    "taskType": "task_type",
    "status": "status",
    "folderId": "folder_id",
}


def _changes(current: AyonFolder | AyonTask, desired: Mapping[str, Any]) -> dict[str, Any]:
    changes = {}
    for key, value in desired.items():
        now = getattr(current, _WIRE_TO_FIELD.get(key, key))
        if key == "assignees":
            now = sorted(now)
        if now != value:
            changes[key] = value
    return changes


def _attrib_changes(
    own: Mapping[str, Any], desired: Mapping[str, Any], managed: frozenset[str]
) -> dict[str, Any]:
    """Managed attributes whose own AYON value differs; None removes an own value."""
    changes: dict[str, Any] = {}
    for key in sorted(managed):
        want = desired.get(key)
        have = own.get(key)
        if want is None:
            if have is not None:
                changes[key] = None
        elif not _same(have, want):
            changes[key] = want
    return changes


def _same(have: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(have, int | float) and not isinstance(have, bool):
        return abs(float(have) - want) < 1e-9
    return bool(have == want)
