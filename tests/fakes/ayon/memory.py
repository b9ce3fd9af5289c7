"""An in-memory AYON project for tests of the pure planner.

It applies a Plan with AYON's integrity rules (``rules.py``: the fake server enforces the same
ones in Postgres) and raises AssertionError when a plan breaks one, so planner bugs show as
test failures.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import TypeAdapter

from kitsync.core.plan import AyonSnapshot, Plan
from kitsync.schemas.ayon import AyonFolder, AyonProjectAnatomy, AyonTask, Operation

from .rules import default_status, merge_patch, name_key

_FIELDS = {
    "folderType": "folder_type",
    "parentId": "parent_id",
    "taskType": "task_type",
    "folderId": "folder_id",
}


class MemoryAyon:
    def __init__(self, anatomy: AyonProjectAnatomy) -> None:
        self.anatomy = anatomy
        self.folders: dict[str, AyonFolder] = {}
        self.tasks: dict[str, AyonTask] = {}
        self.products: set[str] = set()

    # -- applying ---------------------------------------------------------------------------

    def apply(self, plan: Plan) -> None:
        self.anatomy = self.anatomy.model_copy(
            update={
                "folder_types": [*self.anatomy.folder_types, *plan.folder_types],
                "task_types": [*self.anatomy.task_types, *plan.task_types],
                "statuses": [*self.anatomy.statuses, *plan.statuses],
            }
        )
        seen: set[str] = set()
        for op in plan.operations:
            if op.type != "create":
                assert op.entity_id not in seen, f"duplicate operation for {op.entity_id}"
                seen.add(str(op.entity_id))
            self._apply(op)
            self._check()

    def _apply(self, op: Operation) -> None:
        table: dict[str, Any] = self.folders if op.entity_type == "folder" else self.tasks
        model = AyonFolder if op.entity_type == "folder" else AyonTask
        entity_id = str(op.entity_id)
        if op.type == "create":
            assert entity_id not in table, f"{op.entity_type} {entity_id} already exists"
            body = dict(op.data or {})
            if "status" not in body:
                statuses = ((s.name, getattr(s, "scope", None)) for s in self.anatomy.statuses)
                body["status"] = default_status(statuses, op.entity_type)
            table[entity_id] = TypeAdapter(model).validate_python({"id": entity_id, **body})
        elif op.type == "update":
            assert entity_id in table, f"update of unknown {op.entity_type} {entity_id}"
            current = table[entity_id]
            changes = {_FIELDS.get(k, k): v for k, v in (op.data or {}).items()}
            for key in ("attrib", "data"):
                if key in changes:
                    changes[key] = merge_patch(getattr(current, key), changes[key])
            table[entity_id] = (
                dataclasses.replace(current, **changes)
                if dataclasses.is_dataclass(current)
                else current.model_copy(update=changes)
            )
        else:
            assert entity_id in table, f"delete of unknown {op.entity_type} {entity_id}"
            if op.entity_type == "folder":
                assert entity_id not in self.products, "deleted a folder that has products"
                self._delete_folder(entity_id)
            else:
                del self.tasks[entity_id]

    def _delete_folder(self, folder_id: str) -> None:
        for child in [f.id for f in self.folders.values() if f.parent_id == folder_id]:
            self._delete_folder(child)
        for task in [t.id for t in self.tasks.values() if t.folder_id == folder_id]:
            del self.tasks[task]
        del self.folders[folder_id]

    def _check(self) -> None:
        names = {t.name for t in self.anatomy.folder_types}
        task_types = {t.name for t in self.anatomy.task_types}
        statuses = {s.name for s in self.anatomy.statuses}
        active: set[tuple[str | None, str]] = set()
        for folder in self.folders.values():
            assert folder.folder_type in names, f"unknown folder type {folder.folder_type}"
            assert folder.parent_id is None or folder.parent_id in self.folders, "unknown parent"
            if folder.active:
                key = (folder.parent_id, name_key(folder.name))
                assert key not in active, f"two active siblings named {folder.name}"
                active.add(key)
        active_tasks: set[tuple[str, str]] = set()
        for task in self.tasks.values():
            assert task.folder_id in self.folders, "task of unknown folder"
            assert task.task_type in task_types, f"unknown task type {task.task_type}"
            assert task.status in statuses, f"unknown status {task.status}"
            if task.active:
                key2 = (task.folder_id, name_key(task.name))
                assert key2 not in active_tasks, f"two active tasks named {task.name}"
                active_tasks.add(key2)

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self, users_by_email: dict[str, str] | None = None) -> AyonSnapshot:
        children: dict[str | None, list[AyonFolder]] = {None: []}
        for folder in self.folders.values():
            children.setdefault(folder.parent_id, []).append(folder)
        for folder_id in self.folders:
            children.setdefault(folder_id, [])
        siblings: dict[str, list[AyonTask]] = {folder_id: [] for folder_id in self.folders}
        for task in self.tasks.values():
            siblings[task.folder_id].append(task)
        return AyonSnapshot(
            anatomy=self.anatomy,
            folders={f.kitsu_id: f for f in self.folders.values() if f.kitsu_id},
            tasks={t.kitsu_id: t for t in self.tasks.values() if t.kitsu_id},
            children=children,
            task_siblings=siblings,
            users_by_email=users_by_email or {},
            with_products=frozenset(self._with_products()),
        )

    def _with_products(self) -> set[str]:
        holders: set[str] = set()
        for folder_id in self.products:
            current: str | None = folder_id
            while current is not None and current in self.folders:
                holders.add(current)
                current = self.folders[current].parent_id
        return holders

    def paths(self) -> dict[str, str]:
        """Path of every folder (names joined by '/'), for readable assertions."""

        def path(folder: AyonFolder) -> str:
            parent = self.folders.get(folder.parent_id or "")
            return f"{path(parent)}/{folder.name}" if parent else folder.name

        return {folder.id: path(folder) for folder in self.folders.values()}
