"""Writes, each changing the state and logging exactly the events Zou 1.0.97 logs for it.

Event names, order, data keys and the project column follow the recorded
``build_log.json`` / ``mutations_log.json`` (README "Events emitted per write").
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._clock import Clock
from ._errors import ZouError, forbidden, not_found
from ._events import EventLog, jsonb_order
from ._store import ASSET, CONCEPT, EDIT, EPISODE, SEQUENCE, SHOT, Link, Row, Store

_ROLES_FOR_BOARD = ["user", "admin", "supervisor", "manager", "vendor"]
_FK_VIOLATION = (
    '(psycopg.errors.ForeignKeyViolation) update or delete on table "task" violates foreign '
    'key constraint "notification_task_id_fkey" on table "notification"\nDETAIL:  Key '
    '(id)=({task_id}) is still referenced from table "notification".\n[SQL: DELETE FROM task '
    "WHERE task.id = %(id)s::UUID]\n[parameters: {{'id': '{task_id}'}}]\n(Background on this "
    "error at: https://sqlalche.me/e/20/gkpj)"
)


def _new_id() -> str:
    return str(uuid.uuid4())


class Mutations:
    def __init__(self, store: Store, log: EventLog, clock: Clock, actor_id: str) -> None:
        self.store = store
        self.log = log
        self.clock = clock
        self.actor_id = actor_id  # the person the writes are made as (user_id of events)

    # -- helpers ------------------------------------------------------------------------
    def _emit(self, name: str, data: Mapping[str, Any], project_id: str | None, **kw: Any) -> None:
        self.log.emit(name, dict(data), project_id, self.actor_id, **kw)

    def _entity(self, entity_id: str, kind: str | None = None) -> Row:
        entity = self.store.entity(entity_id, kind)
        if entity is None:
            raise not_found()
        return entity

    def _project(self, project_id: str) -> Row:
        project = self.store.projects.get(project_id)
        if project is None:
            raise not_found()
        return project

    def _touch_entity(self, entity: Row) -> None:
        entity["updated_at"] = self.clock.now_str()
        self.store.touch(self.store.entities, entity["id"])

    def _touch_task(self, task: Row) -> None:
        task["updated_at"] = self.clock.now_str()
        self.store.touch(self.store.tasks, task["id"])

    # -- projects -----------------------------------------------------------------------
    def create_project(self, name: str, production_type: str = "featurefilm", **fields: Any) -> Row:
        """``POST /data/projects``; a tvshow gets episode E01, logged before ``project:new``."""
        now = self.clock.now_str()
        project_id = fields.pop("id", None) or _new_id()
        status_id = next(
            sid for sid, row in self.store.project_statuses.items() if row["name"] == "Open"
        )
        project = _project_template(name, production_type, status_id)
        _check_fields(project, fields)
        project.update(fields)
        project.update({"id": project_id, "created_at": now, "updated_at": now, "type": "Project"})
        project.update({"task_type_links": {}, "task_types_priority": {}, "task_statuses_link": {}})
        self.store.projects[project_id] = project
        if production_type == "tvshow":
            self.create_episode(project_id, "E01")
        self._emit("project:new", {}, project_id, project_column=False)
        return project

    def update_project(self, project_id: str, **fields: Any) -> Row:
        """``PUT /data/projects/<id>``: its ``project:update`` has no project column."""
        project = self._project(project_id)
        _check_fields(project, fields)
        project.update(fields)
        project["updated_at"] = self.clock.now_str()
        self.store.touch(self.store.projects, project_id)
        self._emit("project:update", {}, project_id, project_column=False)
        return project

    def add_project_settings(
        self,
        project_id: str,
        *,
        asset_type_ids: Iterable[str] = (),
        task_type_ids: Iterable[str] = (),
        task_status_ids: Iterable[str] = (),
        person_ids: Iterable[str] = (),
    ) -> Row:
        """The settings/team routes: one ``project:update`` (with project column) per item."""
        project = self._project(project_id)
        for asset_type_id in asset_type_ids:
            project["asset_types"].append(asset_type_id)
            self._emit("project:update", {}, project_id)
        for task_type_id in task_type_ids:
            project["task_types"].append(task_type_id)
            priority = len(project["task_types"])
            project["task_type_links"][task_type_id] = {
                "priority": priority,
                "hd_bitrate_compression": None,
                "ld_bitrate_compression": None,
                "is_client_visible": True,
            }
            project["task_types_priority"][task_type_id] = priority
            self._emit("project:update", {}, project_id)
        for task_status_id in task_status_ids:
            project["task_statuses"].append(task_status_id)
            project["task_statuses_link"][task_status_id] = {
                "priority": None,
                "roles_for_board": list(_ROLES_FOR_BOARD),
                "is_client_allowed": None,
            }
            self._emit("project:update", {}, project_id)
        for person_id in person_ids:
            project["team"].append(person_id)
            self._emit("project:update", {}, project_id)
        return project

    # -- entities -----------------------------------------------------------------------
    def _create_entity(
        self,
        project_id: str,
        kind: str,
        name: str,
        entity_type_id: str | None = None,
        **fields: Any,
    ) -> Row:
        self._project(project_id)
        now = self.clock.now_str()
        entity = {
            "id": fields.pop("id", None) or _new_id(),
            "name": name,
            "code": None,
            "description": fields.pop("description", None),
            "shotgun_id": None,
            "canceled": False,
            "nb_frames": fields.pop("nb_frames", None),
            "nb_entities_out": 0,
            "is_casting_standby": False,
            "is_shared": False,
            "status": "running",
            "project_id": project_id,
            "entity_type_id": entity_type_id or self.store.entity_type_id(kind),
            "parent_id": fields.pop("parent_id", None),
            "source_id": fields.pop("source_id", None),
            "preview_file_id": None,
            "data": jsonb_order(fields.pop("data", None) or {}),
            "ready_for": None,
            "created_by": self.actor_id,
            "created_at": now,
            "updated_at": now,
            "type": kind,
        }
        if fields:
            raise TypeError(f"unknown entity fields: {sorted(fields)}")
        self.store.entities[entity["id"]] = entity
        return entity

    def create_episode(self, project_id: str, name: str, **fields: Any) -> Row:
        fields.setdefault("description", "")
        episode = self._create_entity(project_id, EPISODE, name, **fields)
        self._emit("episode:new", {"episode_id": episode["id"]}, project_id)
        return episode

    def create_sequence(
        self, project_id: str, name: str, episode_id: str | None = None, **fields: Any
    ) -> Row:
        fields.setdefault("description", "")
        sequence = self._create_entity(project_id, SEQUENCE, name, parent_id=episode_id, **fields)
        self._emit("sequence:new", {"sequence_id": sequence["id"]}, project_id)
        return sequence

    def create_shot(self, project_id: str, sequence_id: str, name: str, **fields: Any) -> Row:
        sequence = self._entity(sequence_id, SEQUENCE)
        shot = self._create_entity(project_id, SHOT, name, parent_id=sequence_id, **fields)
        data = {"shot_id": shot["id"], "episode_id": sequence["parent_id"]}
        self._emit("shot:new", data, project_id)
        return shot

    def create_asset(self, project_id: str, asset_type_id: str, name: str, **fields: Any) -> Row:
        """``POST .../asset-types/<id>/assets/new``; ``source_id`` is the asset's episode."""
        fields.setdefault("description", "")
        asset = self._create_entity(project_id, ASSET, name, asset_type_id, **fields)
        data = {"asset_id": asset["id"], "asset_type": asset_type_id}
        self._emit("asset:new", data, project_id)
        return asset

    def create_edit(
        self, project_id: str, name: str, episode_id: str | None = None, **fields: Any
    ) -> Row:
        fields.setdefault("description", "")
        edit = self._create_entity(project_id, EDIT, name, parent_id=episode_id, **fields)
        self._emit("edit:new", {"edit_id": edit["id"], "parent_id": episode_id}, project_id)
        return edit

    def create_concept(self, project_id: str, name: str, **fields: Any) -> Row:
        fields.setdefault("description", "")
        concept = self._create_entity(project_id, CONCEPT, name, **fields)
        self._emit("concept:new", {"concept_id": concept["id"]}, project_id)
        return concept

    def update_entity(self, entity_id: str, *, replace_data: bool = False, **fields: Any) -> Row:
        """``PUT /data/entities/<id>``: ``data`` merges and a shot gets a ShotVersion.

        ``replace_data=True`` is ``PUT /data/shots/<id>``: ``data`` is replaced wholesale
        and no version is recorded. Either way: one bare ``<kind>:update``.
        """
        entity = self._entity(entity_id)
        data = fields.pop("data", None)
        _check_fields(entity, fields)
        entity.update(fields)
        if data is not None:
            merged = dict(data) if replace_data else {**(entity["data"] or {}), **data}
            entity["data"] = jsonb_order(merged)
        self._touch_entity(entity)
        if data is not None and entity["type"] == SHOT and not replace_data:
            self._record_version(entity)
        kind = entity["type"].lower()
        self._emit(f"{kind}:update", {f"{kind}_id": entity_id}, entity["project_id"])
        return entity

    def _record_version(self, shot: Row) -> None:
        now = self.clock.now_str()
        version_id = _new_id()
        self.store.versions[version_id] = {
            "name": shot["name"],
            "data": copy.deepcopy(shot["data"]),
            "entity_id": shot["id"],
            "person_id": self.actor_id,
            "id": version_id,
            "created_at": now,
            "updated_at": now,
            "type": "ShotVersion",
        }

    def delete_entity(self, entity_id: str, force: bool = False) -> None:
        """``DELETE /data/<kind>s/<id>[?force=true]``.

        With tasks and no force: cancel (``canceled: true``, ``<kind>:update``). Otherwise a
        hard delete: ``task:delete`` per task, then ``<kind>:delete``; links vanish silently.
        Assets also log a ``shot:casting-update`` with empty diffs per shot they were in. With
        force, an episode's sequences and assets and a sequence's shots go first, each as its
        own forced delete (Zou 1.0.97 ``remove_episode`` / ``remove_sequence``).
        """
        entity = self._entity(entity_id)
        kind = entity["type"].lower()
        project_id = entity["project_id"]
        if force and kind in ("episode", "sequence"):
            children = [
                child["id"]
                for child in self.store.entities.values()
                if child.get("parent_id") == entity_id
                or (kind == "episode" and child.get("source_id") == entity_id)
            ]
            for child_id in children:
                self.delete_entity(child_id, force=True)
        tasks = self.store.tasks_of(entity_id)
        shots = [
            self.store.entities[link.entity_in_id]
            for link in self.store.links_in(entity_id)
            if self.store.entities[link.entity_in_id]["type"] == SHOT
        ]
        if tasks and not force:
            entity["canceled"] = True
            self._touch_entity(entity)
            self._emit(f"{kind}:update", {f"{kind}_id": entity_id}, project_id)
        else:
            for task in tasks:
                self._delete_task_row(task)
            for link in self.store.links_in(entity_id) + self.store.links_out(entity_id):
                del self.store.links[link.id]
            self.store.drop_where(self.store.versions, "entity_id", entity_id)
            del self.store.entities[entity_id]
            self._emit(f"{kind}:delete", {f"{kind}_id": entity_id}, project_id)
        for shot in shots:
            shot["nb_entities_out"] = self._visible_cast_count(shot["id"])
            self._casting_update(shot, added=(), removed=())

    def _visible_cast_count(self, container_id: str) -> int:
        return sum(
            1
            for link in self.store.links_out(container_id)
            if not self.store.entities[link.entity_out_id]["canceled"]
        )

    # -- casting ------------------------------------------------------------------------
    def _casting_update(self, container: Row, added: Iterable[str], removed: Iterable[str]) -> None:
        kind = container["type"].lower()
        data = {
            f"{kind}_id": container["id"],
            "nb_entities_out": container["nb_entities_out"],
            "added_asset_ids": sorted(added),
            "removed_asset_ids": sorted(removed),
        }
        self._emit(f"{kind}:casting-update", data, container["project_id"])

    def _check_container(self, project_id: str, entity_id: str) -> Row:
        container = self._entity(entity_id)
        if container["project_id"] != project_id:
            raise forbidden()
        return container

    def set_casting(
        self, project_id: str, entity_id: str, casting: Sequence[Mapping[str, Any]]
    ) -> None:
        """``PUT /data/projects/<p>/entities/<id>/casting``: full replacement.

        Every kept or added asset gets a new link (``entity-link:new``), removed links go
        silently. In a tvshow a shot cast auto-casts the asset in its episode; an episode
        cast logs ``asset:update`` per asset and removes dropped assets from its shots.
        """
        container = self._check_container(project_id, entity_id)
        before = {link.entity_out_id for link in self.store.links_out(entity_id)}
        after = {cast["asset_id"] for cast in casting}
        if container["type"] == EPISODE:
            for asset_id in before - after:
                self._remove_from_episode_shots(asset_id, container)
        for link in self.store.links_out(entity_id):
            del self.store.links[link.id]
        for cast in casting:
            asset_id, label = cast["asset_id"], cast.get("label", "")
            self._create_link(container, asset_id, cast["nb_occurences"], label)
            if container["type"] == EPISODE:
                self._emit("asset:update", {"asset_id": asset_id}, project_id)
        container["nb_entities_out"] = len(casting)
        self._touch_entity(container)
        self._casting_update(container, after - before, before - after)

    def cast_asset(
        self,
        project_id: str,
        asset_id: str,
        entity_ids: Sequence[str],
        nb_occurences: int,
        label: str = "",
    ) -> None:
        """``PUT /data/projects/<p>/entities/casting/assets/<id>``: one asset in many shots.

        An existing link is updated (``entity-link:update``), a missing one created, and
        ``nb_occurences=0`` removes the link; each container then logs its casting-update.
        """
        self._entity(asset_id, ASSET)
        for entity_id in entity_ids:
            container = self._check_container(project_id, entity_id)
            link = self.store.link(entity_id, asset_id)
            added: tuple[str, ...] = ()
            removed: tuple[str, ...] = ()
            if nb_occurences == 0:
                if link is not None:
                    del self.store.links[link.id]
                    removed = (asset_id,)
            elif link is not None:
                link.nb_occurences = nb_occurences
                link.label = label
                link.updated_at = self.clock.now()
                data = {"entity_link_id": link.id, "nb_occurences": nb_occurences}
                self._emit("entity-link:update", data, project_id)
            else:
                self._create_link(container, asset_id, nb_occurences, label)
                added = (asset_id,)
            container["nb_entities_out"] = len(self.store.links_out(entity_id))
            self._touch_entity(container)
            self._casting_update(container, added, removed)

    def _create_link(self, container: Row, asset_id: str, nb_occurences: int, label: str) -> Link:
        self._entity(asset_id, ASSET)
        if container["type"] == SHOT:
            self._auto_cast_in_episode(container, asset_id, label)
        link = self._add_link(container["id"], asset_id, nb_occurences, label, None)
        data = {
            "entity_link_id": link.id,
            "entity_in_id": link.entity_in_id,
            "entity_out_id": link.entity_out_id,
            "nb_occurences": nb_occurences,
        }
        self._emit("entity-link:new", data, container["project_id"])
        return link

    def _add_link(
        self,
        entity_in_id: str,
        entity_out_id: str,
        nb_occurences: int,
        label: str,
        data: dict[str, Any] | None,
    ) -> Link:
        now = self.clock.now()
        link = Link(_new_id(), entity_in_id, entity_out_id, nb_occurences, label, data, now, now)
        self.store.links[link.id] = link
        return link

    def _auto_cast_in_episode(self, shot: Row, asset_id: str, label: str) -> None:
        episode = self.store.episode_of_shot(shot)
        if episode is None or self.store.link(episode["id"], asset_id) is not None:
            return
        self._add_link(episode["id"], asset_id, 1, label, {"auto": True})
        self._emit("asset:update", {"asset_id": asset_id}, shot["project_id"])

    def _remove_from_episode_shots(self, asset_id: str, episode: Row) -> None:
        for shot in self.store.entities_of(SHOT, episode["project_id"]):
            link = self.store.link(shot["id"], asset_id)
            if link is None or self.store.episode_of_shot(shot) is not episode:
                continue
            del self.store.links[link.id]
            shot["nb_entities_out"] -= 1
            self._casting_update(shot, added=(), removed=())
            self._casting_update(shot, added=(), removed=(asset_id,))

    # -- tasks --------------------------------------------------------------------------
    def create_task(
        self,
        entity_id: str,
        task_type_id: str,
        name: str = "main",
        task_status_id: str | None = None,
        **fields: Any,
    ) -> Row:
        entity = self._entity(entity_id)
        status_id = task_status_id or next(
            sid for sid, row in self.store.task_statuses.items() if row["is_default"]
        )
        now = self.clock.now_str()
        task = {
            "name": name,
            "description": None,
            "priority": 0,
            "difficulty": 3,
            "duration": 0.0,
            "estimation": 0.0,
            "completion_rate": 0,
            "retake_count": 0,
            "sort_order": 0,
            "start_date": None,
            "due_date": None,
            "real_start_date": None,
            "end_date": None,
            "done_date": None,
            "last_comment_date": None,
            "nb_assets_ready": 0,
            "data": None,
            "nb_drawings": 0,
            "shotgun_id": None,
            "last_preview_file_id": None,
            "project_id": entity["project_id"],
            "task_type_id": task_type_id,
            "task_status_id": status_id,
            "entity_id": entity_id,
            "assigner_id": self.actor_id,
            "assignees": [],
            "id": fields.pop("id", None) or _new_id(),
            "created_at": now,
            "updated_at": now,
            "type": "Task",
        }
        _check_fields(task, fields)
        task.update(fields)
        self.store.tasks[task["id"]] = task
        self._emit("task:new", {"task_id": task["id"]}, entity["project_id"])
        return task

    def _task(self, task_id: str) -> Row:
        task = self.store.tasks.get(task_id)
        if task is None:
            raise not_found()
        return task

    def delete_task(self, task_id: str, force: bool = False) -> None:
        """``DELETE /data/tasks/<id>``: a task ever assigned needs ``force`` (else 400)."""
        task = self._task(task_id)
        if task_id in self.store.notified_tasks and not force:
            raise ZouError(400, {"message": _FK_VIOLATION.format(task_id=task_id)})
        self._delete_task_row(task)

    def _delete_task_row(self, task: Row) -> None:
        project_id = task["project_id"]
        for news_id in [n for n, t in self.store.news.items() if t == task["id"]]:
            del self.store.news[news_id]
            self._emit("news:delete", {"news_id": news_id}, project_id)
        self.store.drop_where(self.store.comments, "object_id", task["id"])
        del self.store.tasks[task["id"]]
        self.store.notified_tasks.discard(task["id"])
        data = {
            "task_id": task["id"],
            "entity_id": task["entity_id"],
            "task_type_id": task["task_type_id"],
        }
        self._emit("task:delete", data, project_id)

    def set_task_status(
        self,
        task_id: str,
        task_status_id: str,
        person_id: str | None = None,
        comment: str = "",
    ) -> Row:
        """``POST /actions/tasks/<id>/comment`` with a status: returns the comment row."""
        task = self._task(task_id)
        status = self.store.task_statuses[task_status_id]
        person_id = person_id or self.actor_id
        project_id = task["project_id"]
        previous = task["task_status_id"]
        now = self.clock.now_str()
        row: Row = {
            "shotgun_id": None,
            "object_id": task_id,
            "object_type": "Task",
            "text": comment,
            "data": None,
            "replies": [],
            "checklist": [],
            "pinned": None,
            "for_client": False,
            "links": [],
            "task_status_id": task_status_id,
            "person_id": person_id,
            "editor_id": None,
            "preview_file_id": None,
            "id": _new_id(),
            "created_at": now,
            "updated_at": now,
            "type": "Comment",
        }
        self.store.comments[row["id"]] = row
        task["task_status_id"] = task_status_id
        task["last_comment_date"] = now
        if status["is_wip"] and task["real_start_date"] is None:
            task["real_start_date"] = now
        if status["is_feedback_request"]:
            task["end_date"] = now
        if status["is_done"]:
            task["done_date"] = now
        if status["is_retake"] and previous != task_status_id:
            task["retake_count"] += 1
        self._touch_task(task)
        comment_data = {
            "task_id": task_id,
            "person_id": person_id,
            "comment_id": row["id"],
            "for_client": False,
            "task_status_id": task_status_id,
        }
        self._emit("comment:new", comment_data, project_id)
        self._emit("task:update", {"task_id": task_id}, project_id)
        change = {
            "task_id": task_id,
            "person_id": person_id,
            "new_task_status_id": task_status_id,
            "previous_task_status_id": previous,
        }
        if previous != task_status_id:
            self._emit("task:status-changed", change, project_id)
        if status["is_feedback_request"]:
            self._emit("task:to-review", {**change, "comment_id": row["id"]}, project_id)
        news_id = _new_id()
        self.store.news[news_id] = task_id
        news = {
            "news_id": news_id,
            "task_type_id": task["task_type_id"],
            "task_status_id": task_status_id,
        }
        self._emit("news:new", news, project_id)
        return row

    def assign(self, task_id: str, person_ids: Iterable[str]) -> Row:
        """``PUT /actions/persons/<id>/assign`` per person: ``task:assign`` + ``task:update``."""
        task = self._task(task_id)
        for person_id in person_ids:
            if person_id in task["assignees"]:
                continue
            self._add_assignee(task, person_id)
            self._emit("task:update", {"task_id": task_id}, task["project_id"])
        return task

    def unassign(self, task_id: str, person_id: str) -> Row:
        """``PUT /actions/tasks/clear-assignation``: ``task:unassign`` + ``task:update``."""
        task = self._task(task_id)
        if person_id in task["assignees"]:
            self._remove_assignee(task, person_id)
            self._emit("task:update", {"task_id": task_id}, task["project_id"])
        return task

    def set_assignees(self, task_id: str, person_ids: Sequence[str]) -> Row:
        """``PUT /data/tasks/<id> {assignees}``: assign/unassign per difference, one update."""
        task = self._task(task_id)
        for person_id in person_ids:
            if person_id not in task["assignees"]:
                self._add_assignee(task, person_id)
        for person_id in reversed(list(task["assignees"])):
            if person_id not in person_ids:
                self._remove_assignee(task, person_id)
        self._emit("task:update", {"task_id": task_id}, task["project_id"])
        return task

    def _add_assignee(self, task: Row, person_id: str) -> None:
        if person_id not in self.store.persons:
            raise not_found()
        task["assignees"].append(person_id)
        self.store.notified_tasks.add(task["id"])
        self._touch_task(task)
        data = {"task_id": task["id"], "person_id": person_id}
        self._emit("task:assign", data, task["project_id"])

    def _remove_assignee(self, task: Row, person_id: str) -> None:
        task["assignees"].remove(person_id)
        self._touch_task(task)
        data = {"task_id": task["id"], "person_id": person_id}
        self._emit("task:unassign", data, task["project_id"])

    # -- records every project shares ----------------------------------------------------
    def update_shared(self, kind: str, record_id: str, **fields: Any) -> Row:
        """``PUT /data/<asset-types|task-types|task-status|persons>/<id>``: Zou's CRUD logs
        ``<kind>:update {<kind>_id}`` with no project (``asset-type:update {asset_type_id}``,
        ``task-status:update {task_status_id}``...: ``crud/base.py``, ``crud/entity_type.py``)."""
        table = {
            "asset-type": self.store.asset_types,
            "task-type": self.store.task_types,
            "task-status": self.store.task_statuses,
            "person": self.store.persons,
        }[kind]
        row = table.get(record_id)
        if row is None:
            raise not_found()
        _check_fields(row, fields)
        row.update(fields)
        row["updated_at"] = self.clock.now_str()
        if kind == "person":
            row["full_name"] = f"{row['first_name']} {row['last_name']}"
        if kind == "asset-type" and record_id in self.store.entity_types:
            self.store.entity_types[record_id].update(fields)  # one table in Zou
        self.store.touch(table, record_id)
        self._emit(f"{kind}:update", {f"{kind.replace('-', '_')}_id": record_id}, None)
        return row

    # -- persons ------------------------------------------------------------------------
    def add_person(
        self,
        first_name: str,
        last_name: str,
        email: str,
        *,
        role: str = "user",
        password: str,
        via_api: bool = False,
    ) -> Row:
        """``POST /import/csv/persons`` (no event) or, ``via_api``, ``POST /data/persons``."""
        template = next(iter(self.store.persons.values()))
        now = self.clock.now_str()
        person = copy.deepcopy(template)
        person.update(
            {
                "first_name": first_name,
                "last_name": last_name,
                "email": email,
                "phone": None,
                "desktop_login": None,
                "role": role,
                "full_name": f"{first_name} {last_name}",
                "id": _new_id(),
                "created_at": now,
                "updated_at": now,
            }
        )
        self.store.persons[person["id"]] = person
        self.store.passwords[person["id"]] = password
        if via_api:
            self._emit("person:new", {"person_id": person["id"]}, None)
        return person


def _check_fields(row: Row, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(row)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")


def _project_template(name: str, production_type: str, status_id: str) -> Row:
    return {
        "name": name,
        "code": None,
        "description": None,
        "shotgun_id": None,
        "file_tree": None,
        "data": None,
        "has_avatar": False,
        "fps": "25",
        "ratio": "16:9",
        "resolution": "1920x1080",
        "production_type": production_type,
        "production_style": "2d3d",
        "start_date": None,
        "end_date": None,
        "man_days": None,
        "nb_episodes": 0,
        "episode_span": 0,
        "max_retakes": 0,
        "is_clients_isolated": False,
        "is_client_stats_visible": True,
        "is_client_task_list_visible": True,
        "is_client_task_panel_visible": True,
        "is_preview_download_allowed": False,
        "is_set_preview_automated": False,
        "homepage": "assets",
        "is_publish_default_for_artists": False,
        "is_bot_collaboration_enabled": False,
        "is_single_preview_per_revision": False,
        "is_frame_in_numbering": False,
        "revision_padding": 0,
        "hd_bitrate_compression": None,
        "ld_bitrate_compression": None,
        "project_status_id": status_id,
        "default_preview_background_file_id": None,
        "from_schedule_version_id": None,
        "team": [],
        "asset_types": [],
        "task_statuses": [],
        "task_types": [],
        "status_automations": [],
        "preview_background_files": [],
    }
