"""Response shapes of the reference, person, project, task and comment routes."""

from __future__ import annotations

import copy
from typing import Any

from ._store import Row, Store

PROJECT_RELATIONS = (
    "team",
    "asset_types",
    "task_statuses",
    "task_types",
    "status_automations",
    "preview_background_files",
)
PROJECT_LINK_MAPS = ("task_type_links", "task_types_priority", "task_statuses_link")
_ROW_TAIL = ("id", "created_at", "updated_at", "type")
_MINIMAL_PERSON = (
    "id",
    "type",
    "first_name",
    "last_name",
    "full_name",
    "has_avatar",
    "active",
    "departments",
    "studio_id",
    "role",
    "desktop_login",
    "is_bot",
)
_COMMENT_PERSON = ("first_name", "last_name", "full_name", "has_avatar", "role", "id")
_COMMENT_STATUS = ("name", "short_name", "color", "id")
_DESCRIPTOR_SHORT = (
    "id",
    "name",
    "field_name",
    "data_type",
    "choices",
    "for_client",
    "entity_type",
    "task_type_id",
    "position",
    "departments",
)
# Task columns in Zou's order; the list routes pick from it.
TASK_COLUMNS = (
    "name",
    "description",
    "priority",
    "difficulty",
    "duration",
    "estimation",
    "completion_rate",
    "retake_count",
    "sort_order",
    "start_date",
    "due_date",
    "real_start_date",
    "end_date",
    "done_date",
    "last_comment_date",
    "nb_assets_ready",
    "data",
    "nb_drawings",
    "shotgun_id",
    "last_preview_file_id",
    "project_id",
    "task_type_id",
    "task_status_id",
    "entity_id",
    "assigner_id",
    "assignees",
    "id",
    "created_at",
    "updated_at",
    "type",
)
# The compact task dicts embedded in asset / shot reads.
ASSET_TASK_KEYS = (
    "id",
    "due_date",
    "done_date",
    "duration",
    "entity_id",
    "estimation",
    "end_date",
    "is_subscribed",
    "last_comment_date",
    "last_preview_file_id",
    "priority",
    "real_start_date",
    "retake_count",
    "start_date",
    "difficulty",
    "task_status_id",
    "task_type_id",
    "assignees",
    "data",
)
SHOT_TASK_KEYS = (
    "id",
    "duration",
    "due_date",
    "end_date",
    "done_date",
    "entity_id",
    "estimation",
    "is_subscribed",
    "last_comment_date",
    "last_preview_file_id",
    "nb_assets_ready",
    "priority",
    "real_start_date",
    "retake_count",
    "start_date",
    "difficulty",
    "nb_drawings",
    "task_status_id",
    "task_type_id",
    "assignees",
    "data",
)


def pick(row: Row, keys: tuple[str, ...]) -> Row:
    return {key: copy.deepcopy(row[key]) for key in keys}


def without(row: Row, keys: tuple[str, ...]) -> Row:
    return {key: copy.deepcopy(value) for key, value in row.items() if key not in keys}


# -- persons -----------------------------------------------------------------------------
# Stored person rows are the list shape; the by-id, team and auth routes add ``departments``.
def person_plain(row: Row) -> Row:
    """``GET /data/persons`` item for a manager or admin, and persons in ``/tasks/<id>/full``."""
    return copy.deepcopy(row)


def person(row: Row) -> Row:
    """``GET /data/persons/<id>`` (and the auth routes): ``departments`` included."""
    result: Row = {}
    for key, value in row.items():
        if key == "studio_id":
            result["departments"] = []
        result[key] = copy.deepcopy(value)
    return result


def person_minimal(row: Row) -> Row:
    """``GET /data/persons`` as a user-role account sees it (no email)."""
    return pick(person(row), _MINIMAL_PERSON)


def team_member(row: Row) -> Row:
    return {**person(row), "project_role": None}


def authenticated(store: Store, person_id: str) -> Row:
    return {
        "authenticated": True,
        "user": {**person(store.persons[person_id]), "fido_devices": []},
        "organisation": copy.deepcopy(store.organisation),
    }


def login(store: Store, person_id: str, access: str, refresh: str) -> Row:
    chat_keys = ("chat_token_slack", "chat_webhook_mattermost", "chat_token_discord")
    return {
        "user": person(store.persons[person_id]),
        "organisation": without(store.organisation, chat_keys),
        "login": True,
        "access_token": access,
        "refresh_token": refresh,
    }


# -- projects ----------------------------------------------------------------------------
def project_row(project: Row) -> Row:
    """``GET /data/projects`` item: the raw columns only."""
    return without(project, PROJECT_RELATIONS + PROJECT_LINK_MAPS)


def _descriptors(store: Store, project_id: str) -> list[Row]:
    return [
        pick(row, _DESCRIPTOR_SHORT)
        for row in store.descriptors.values()
        if row["project_id"] == project_id
    ]


def _first_episode(store: Store, project: Row) -> dict[str, str]:
    episodes = sorted(store.entities_of("Episode", project["id"]), key=lambda e: e["name"])
    return {"first_episode_id": episodes[0]["id"]} if episodes else {}


def project_open(store: Store, project: Row) -> Row:
    """``GET /data/projects/open`` item: columns, relations, descriptors and link maps."""
    head = without(project, (*_ROW_TAIL, *PROJECT_LINK_MAPS))
    tail = pick(project, _ROW_TAIL)
    maps = pick(project, PROJECT_LINK_MAPS)
    return {
        **head,
        **tail,
        "descriptors": _descriptors(store, project["id"]),
        **maps,
        **_first_episode(store, project),
    }


def project_full(store: Store, project: Row) -> Row:
    """``GET /data/projects/<id>``."""
    status = store.project_statuses[project["project_status_id"]]["name"]
    return {**project_open(store, project), "project_status_name": status}


def project_all(store: Store, project: Row) -> Row:
    """``GET /data/projects/all`` item (descriptors are left empty there)."""
    status = store.project_statuses[project["project_status_id"]]["name"]
    return {**project_row(project), "project_status_name": status, "descriptors": []}


def project_task_types(store: Store, project: Row) -> list[Row]:
    return [copy.deepcopy(store.task_types[i]) for i in project["task_types"]]


def project_task_statuses(store: Store, project: Row) -> list[Row]:
    return [copy.deepcopy(store.task_statuses[i]) for i in project["task_statuses"]]


def project_asset_types(store: Store, project: Row) -> list[Row]:
    return [without(store.asset_types[i], ("task_types",)) for i in project["asset_types"]]


def project_team(store: Store, project: Row) -> list[Row]:
    return [team_member(store.persons[i]) for i in project["team"]]


def descriptors(store: Store, project_id: str) -> list[Row]:
    return [copy.deepcopy(r) for r in store.descriptors.values() if r["project_id"] == project_id]


# -- tasks -------------------------------------------------------------------------------
def task(row: Row) -> Row:
    """``GET /data/tasks/<id>`` and ``/data/projects/<id>/tasks`` items (with assignees)."""
    return pick(row, TASK_COLUMNS)


def task_crud(row: Row) -> Row:
    """``GET /data/tasks?...`` items: the generic CRUD list has no ``assignees``."""
    return without(task(row), ("assignees",))


def task_named(store: Store, row: Row) -> Row:
    """``GET /data/{shots,assets}/<id>/tasks`` items: names of the related rows appended."""
    entity = store.entities[row["entity_id"]]
    return {
        **task_crud(row),
        "project_name": store.projects[row["project_id"]]["name"],
        "task_type_name": store.task_types[row["task_type_id"]]["name"],
        "task_status_name": store.task_statuses[row["task_status_id"]]["name"],
        "entity_type_name": store.entity_type_name(entity),
        "entity_name": entity["name"],
    }


def task_compact(row: Row, keys: tuple[str, ...]) -> Row:
    return pick({**row, "is_subscribed": False}, keys)


def task_full(store: Store, row: Row) -> Row:
    """``GET /data/tasks/<id>/full``."""
    entity = store.entities[row["entity_id"]]
    full: Row = {
        **task(row),
        "entity": copy.deepcopy(entity),
        "entity_type": copy.deepcopy(store.entity_types[entity["entity_type_id"]]),
        "is_subscribed": False,
        "persons": [person_plain(store.persons[i]) for i in row["assignees"]],
        "project": project_row(store.projects[row["project_id"]]),
        "task_status": copy.deepcopy(store.task_statuses[row["task_status_id"]]),
        "task_type": copy.deepcopy(store.task_types[row["task_type_id"]]),
        "assigner": person(store.persons[row["assigner_id"]]),
    }
    if entity["type"] == "Shot":
        sequence = store.parent(entity)
        episode = store.parent(sequence) if sequence else None
        full["sequence"] = copy.deepcopy(sequence)
        full["episode"] = copy.deepcopy(episode)
    return full


def comment(store: Store, row: Row) -> Row:
    """``GET /data/tasks/<id>/comments`` item."""
    return {
        **copy.deepcopy(row),
        "person": pick(store.persons[row["person_id"]], _COMMENT_PERSON),
        "task_status": pick(store.task_statuses[row["task_status_id"]], _COMMENT_STATUS),
        "acknowledgements": [],
        "previews": [],
        "mentions": [],
        "department_mentions": [],
        "attachment_files": [],
    }


def task_comments(store: Store, task_id: str) -> list[Row]:
    rows = [row for row in store.comments.values() if row["object_id"] == task_id]
    rows.sort(key=lambda r: r["created_at"], reverse=True)
    return [comment(store, row) for row in rows]


def filter_rows(rows: list[Row], filters: dict[str, str]) -> list[Row]:
    """Generic CRUD list filtering: equality on known columns, unknown ones ignored."""
    selected = rows
    for key, value in filters.items():
        selected = [row for row in selected if key not in row or _matches(row[key], value)]
    return selected


def _matches(stored: Any, value: str) -> bool:
    if isinstance(stored, bool):
        return str(stored).lower() == value.lower()
    return stored is not None and str(stored) == value
