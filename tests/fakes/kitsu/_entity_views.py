"""Response shapes of the entity routes (assets, shots, sequences, episodes, edits, concepts).

Zou serves raw rows from its list routes but flattens and renames on the GET-by-id and
``with-tasks`` routes; each function here names the route whose shape it reproduces.
"""

from __future__ import annotations

import copy

from ._store import ASSET, CONCEPT, EPISODE, SEQUENCE, SHOT, Row, Store
from ._views import ASSET_TASK_KEYS, SHOT_TASK_KEYS, pick, task_compact

_HEAD = (
    "id",
    "name",
    "code",
    "description",
    "shotgun_id",
    "canceled",
    "nb_frames",
    "nb_entities_out",
    "is_casting_standby",
    "is_shared",
    "status",
    "project_id",
    "entity_type_id",
    "parent_id",
    "source_id",
    "preview_file_id",
    "data",
    "ready_for",
    "created_by",
)


def raw(entity: Row) -> Row:
    """List-route item: the raw row."""
    return copy.deepcopy(entity)


def _relations(store: Store, entity: Row) -> Row:
    return {
        "entities_out": [link.entity_out_id for link in store.links_out(entity["id"])],
        "entity_concept_links": [],
        "instance_casting": [],
        "created_at": entity["created_at"],
        "updated_at": entity["updated_at"],
        "entities_in": [link.entity_in_id for link in store.links_in(entity["id"])],
    }


def with_relations(store: Store, entity: Row) -> Row:
    """``GET /data/entities/<id>``: raw row plus the link relations."""
    return {**pick(entity, _HEAD), **_relations(store, entity), "type": entity["type"]}


def _tasks(store: Store, entity: Row, keys: tuple[str, ...]) -> list[Row]:
    return [task_compact(task, keys) for task in store.tasks_of(entity["id"])]


def _project_name(store: Store, entity: Row) -> str:
    return str(store.projects[entity["project_id"]]["name"])


def _casting_episode_ids(store: Store, asset: Row) -> list[str]:
    episodes = [
        store.entities[link.entity_in_id]
        for link in store.links_in(asset["id"])
        if store.entities[link.entity_in_id]["type"] == EPISODE
    ]
    return [episode["id"] for episode in sorted(episodes, key=lambda e: e["name"])]


def asset(store: Store, entity: Row) -> Row:
    """``GET /data/assets/<id>``: no ``nb_frames``/``source_id``; stringified empties."""
    head = pick(entity, _HEAD)
    del head["nb_frames"], head["source_id"]
    head["preview_file_id"] = entity["preview_file_id"] or ""
    head["ready_for"] = str(entity["ready_for"])
    return {
        **head,
        **_relations(store, entity),
        "type": ASSET,
        "project_name": _project_name(store, entity),
        "asset_type_id": entity["entity_type_id"],
        "asset_type_name": store.entity_type_name(entity),
        "episode_id": entity["source_id"] or "",
        "casting_episode_ids": _casting_episode_ids(store, entity),
        "tasks": _tasks(store, entity, ASSET_TASK_KEYS),
    }


def asset_with_tasks(store: Store, entity: Row) -> Row:
    """``GET /data/assets/with-tasks`` item."""
    return {
        "id": entity["id"],
        "name": entity["name"],
        "preview_file_id": entity["preview_file_id"] or "",
        "description": entity["description"],
        "asset_type_name": store.entity_type_name(entity),
        "asset_type_id": entity["entity_type_id"],
        "canceled": entity["canceled"],
        "ready_for": str(entity["ready_for"]),
        "episode_id": entity["source_id"] or "",
        "casting_episode_ids": _casting_episode_ids(store, entity),
        "is_casting_standby": entity["is_casting_standby"],
        "is_shared": entity["is_shared"],
        "data": copy.deepcopy(entity["data"]),
        "tasks": _tasks(store, entity, ASSET_TASK_KEYS),
    }


def shot_with_names(store: Store, entity: Row) -> Row:
    """``/data/shots/all`` and ``/data/sequences/<id>/shots`` items."""
    sequence = store.parent(entity)
    return {
        **raw(entity),
        "project_name": _project_name(store, entity),
        "sequence_name": sequence["name"] if sequence else None,
    }


def shot_with_tasks(store: Store, entity: Row) -> Row:
    """``GET /data/shots/with-tasks`` item: ``data`` flattened into fps/frame_in/frame_out."""
    sequence = store.parent(entity)
    episode = store.parent(sequence) if sequence else None
    data = entity["data"] or {}
    return {
        "canceled": entity["canceled"],
        "data": copy.deepcopy(entity["data"]),
        "description": entity["description"],
        "entity_type_id": entity["entity_type_id"],
        "episode_id": episode["id"] if episode else None,
        "episode_name": episode["name"] if episode else "",
        "fps": data.get("fps"),
        "frame_in": data.get("frame_in"),
        "frame_out": data.get("frame_out"),
        "id": entity["id"],
        "name": entity["name"],
        "nb_frames": entity["nb_frames"],
        "parent_id": entity["parent_id"],
        "preview_file_id": entity["preview_file_id"],
        "project_id": entity["project_id"],
        "project_name": _project_name(store, entity),
        "sequence_id": sequence["id"] if sequence else None,
        "sequence_name": sequence["name"] if sequence else None,
        "source_id": entity["source_id"],
        "nb_entities_out": entity["nb_entities_out"],
        "is_casting_standby": entity["is_casting_standby"],
        "tasks": _tasks(store, entity, SHOT_TASK_KEYS),
        "type": SHOT,
    }


def shot(store: Store, entity: Row) -> Row:
    """``GET /data/shots/<id>``: the with-tasks shape plus the remaining columns."""
    relations = _relations(store, entity)
    return {
        **shot_with_tasks(store, entity),
        "code": entity["code"],
        "shotgun_id": entity["shotgun_id"],
        "is_shared": entity["is_shared"],
        "status": entity["status"],
        "ready_for": entity["ready_for"],
        "created_by": entity["created_by"],
        **relations,
    }


def sequence(store: Store, entity: Row) -> Row:
    """``GET /data/sequences/<id>`` (episode fields only when it has an episode)."""
    result = {**raw(entity), "project_name": _project_name(store, entity)}
    episode = store.parent(entity)
    if episode is not None:
        result["episode_id"] = episode["id"]
        result["episode_name"] = episode["name"]
    return result


def episode(store: Store, entity: Row) -> Row:
    """``GET /data/episodes/<id>``."""
    return {**raw(entity), "project_name": _project_name(store, entity)}


def container_with_tasks(store: Store, entity: Row) -> Row:
    """``GET /data/{sequences,episodes}/with-tasks`` item."""
    data = entity["data"] or {}
    parent_id = entity["parent_id"] if entity["type"] == SEQUENCE else None
    return {
        "id": entity["id"],
        "name": entity["name"],
        "status": entity["status"],
        "episode_id": str(parent_id),  # Zou stringifies: "None" when there is no episode
        "description": entity["description"],
        "frame_in": data.get("frame_in"),
        "frame_out": data.get("frame_out"),
        "fps": data.get("fps"),
        "preview_file_id": entity["preview_file_id"] or "",
        "canceled": entity["canceled"],
        "data": copy.deepcopy(entity["data"]),
        "tasks": _tasks(store, entity, SHOT_TASK_KEYS),
    }


def edit(store: Store, entity: Row) -> Row:
    """``GET /data/edits/<id>``."""
    episode = store.parent(entity)
    return {
        "canceled": entity["canceled"],
        "data": copy.deepcopy(entity["data"]),
        "description": entity["description"],
        "entity_type_id": entity["entity_type_id"],
        "episode_id": entity["parent_id"],
        "episode_name": episode["name"] if episode else "",
        "id": entity["id"],
        "name": entity["name"],
        "parent_id": entity["parent_id"],
        "preview_file_id": entity["preview_file_id"],
        "project_id": entity["project_id"],
        "project_name": _project_name(store, entity),
        "source_id": entity["source_id"],
        "nb_entities_out": entity["nb_entities_out"],
        "tasks": _tasks(store, entity, SHOT_TASK_KEYS),
        "type": entity["type"],
    }


def concept_row(entity: Row) -> Row:
    """``GET /data/projects/<id>/concepts`` item."""
    return {**raw(entity), "entity_concept_links": []}


def concept(store: Store, entity: Row) -> Row:
    """``GET /data/concepts/<id>``."""
    data = entity["data"] or {}
    relations = _relations(store, entity)
    return {
        "canceled": entity["canceled"],
        "data": copy.deepcopy(entity["data"]),
        "description": entity["description"],
        "entity_type_id": entity["entity_type_id"],
        "fps": data.get("fps"),
        "frame_in": data.get("frame_in"),
        "frame_out": data.get("frame_out"),
        "id": entity["id"],
        "name": entity["name"],
        "nb_frames": entity["nb_frames"],
        "parent_id": entity["parent_id"],
        "preview_file_id": entity["preview_file_id"],
        "preview_file_status": None,
        "project_id": entity["project_id"],
        "project_name": _project_name(store, entity),
        "source_id": entity["source_id"],
        "nb_entities_out": entity["nb_entities_out"],
        "is_casting_standby": entity["is_casting_standby"],
        "tasks": _tasks(store, entity, SHOT_TASK_KEYS),
        "entity_concept_links": [],
        "type": CONCEPT,
        "updated_at": entity["updated_at"],
        "created_at": entity["created_at"],
        "created_by": entity["created_by"],
        "code": entity["code"],
        "shotgun_id": entity["shotgun_id"],
        "is_shared": entity["is_shared"],
        "status": entity["status"],
        "ready_for": entity["ready_for"],
        "entities_out": relations["entities_out"],
        "instance_casting": [],
        "entities_in": relations["entities_in"],
    }


def by_name(rows: list[Row]) -> list[Row]:
    """Zou sorts shot, sequence and episode lists by name only (nothing else)."""
    return sorted(rows, key=lambda row: row["name"])
