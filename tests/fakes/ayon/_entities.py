"""Folders and tasks (and minimal products): create, read, patch, delete, and their events.

One ``Kind`` table per entity type drives the shared logic, which the REST endpoints and
/operations both use, always on a caller-supplied connection so the caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.responses import Response

from ._anatomy import clean_attrib, resolve_attrib
from ._db import constraints_as_conflicts, refresh_hierarchy, schema
from ._events import Caller, PendingEvent, dispatch
from ._http import Ctx, Handler
from ._wire import (
    HEX_ID,
    NAME_PATTERN,
    ApiError,
    ErrorItem,
    Field,
    Model,
    ServerError,
    camel,
    check_value,
    id_field,
    invalid_data_detail,
    iso,
    json_response,
    new_id,
    no_content,
    not_found,
    validate,
    without_nulls,
)
from .rules import default_status, merge_patch

_UUID_COLUMNS = frozenset({"id", "parent_id", "folder_id", "thumbnail_id"})


@dataclass(frozen=True)
class Kind:
    name: str  # folder | task | product
    table: str
    parent: str  # the column holding the parent's id
    fields: tuple[Field, ...]  # writable fields besides id and name
    required: frozenset[str]  # snake_case keys required on create
    get_fields: tuple[str, ...]  # keys of the GET answer, in AYON's order
    audited: bool  # attrib/status/tags and created_*/updated_* columns exist
    sets_created_by: bool  # AYON's task create path leaves created_by/updated_by NULL

    @property
    def title(self) -> str:
        return self.name.capitalize()

    @property
    def columns(self) -> tuple[str, ...]:
        return ("name", *(spec.key for spec in self.fields))

    def model(self, create: bool) -> Model:
        name = Field("name", nullable=False, regex=NAME_PATTERN)
        fields = tuple(
            dataclasses.replace(spec, required=create and spec.key in self.required)
            for spec in (name, *self.fields)
        )
        if create:
            return Model(f"{self.title}PostModel", (id_field("id"), *fields))
        return Model(f"{self.title}PatchModel", fields)


def _common(*fields: Field) -> tuple[Field, ...]:
    return (
        Field("label"),
        *fields,
        id_field("thumbnailId"),
        Field("attrib", "dict", nullable=False),
        Field("data", "dict", nullable=False),
        Field("status", nullable=False),
        Field("tags", "strlist", nullable=False),
        Field("active", "bool", nullable=False),
    )


def _fields(names: str) -> tuple[str, ...]:
    return tuple(names.split())


_AUDITED = "attrib data active own_attrib status tags created_by updated_by created_at updated_at"
FOLDER = Kind(
    "folder",
    "folders",
    "parent_id",
    _common(Field("folderType", nullable=False), id_field("parentId")),
    frozenset({"name"}),
    _fields(f"id name label folder_type parent_id thumbnail_id path has_versions {_AUDITED}"),
    audited=True,
    sets_created_by=True,
)
TASK = Kind(
    "task",
    "tasks",
    "folder_id",
    _common(
        Field("taskType", nullable=False),
        id_field("folderId", nullable=False),
        Field("assignees", "strlist", nullable=False),
    ),
    frozenset({"name", "task_type", "folder_id"}),
    _fields(f"id name label task_type assignees folder_id thumbnail_id path {_AUDITED}"),
    audited=True,
    sets_created_by=False,
)
PRODUCT = Kind(
    "product",
    "products",
    "folder_id",
    (
        id_field("folderId", nullable=False),
        Field("productType", nullable=False),
        Field("active", "bool", nullable=False),
        Field("data", "dict", nullable=False),
    ),
    frozenset({"name", "folder_id", "product_type"}),
    _fields("id name folder_id product_type path data active"),
    audited=False,
    sets_created_by=False,
)
KINDS = {kind.name: kind for kind in (FOLDER, TASK, PRODUCT)}

# Columns whose change writes an entity.<type>.<topic> event, in AYON's order.
_CHANGE_COLUMNS = (
    ("data", "data_changed"),
    ("label", "label_changed"),
    ("folder_type", "type_changed"),
    ("task_type", "type_changed"),
    ("thumbnail_id", "thumbnail_changed"),
    ("active", "active_changed"),
    ("assignees", "assignees_changed"),
    ("product_type", "product_type_changed"),
    ("tags", "tags_changed"),
    ("parent_id", "parent_changed"),
    ("folder_id", "folder_changed"),
)


def parse(
    kind: Kind, raw: Any, *, create: bool, loc: tuple[Any, ...] = ("body",)
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """Validate a create/patch body: snake_case values, unknown attributes dropped, errors."""
    values, errors = validate(kind.model(create), raw, loc)
    if "attrib" in values:
        values["attrib"], attrib_errors = clean_attrib(values["attrib"], (*loc, "attrib"))
        errors.extend(attrib_errors)
    for key in _UUID_COLUMNS & values.keys() - {"id"}:
        if values[key] is not None:
            values[key] = values[key].lower()
    return values, errors


def invalid_data(kind: Kind, errors: list[ErrorItem], create: bool) -> ApiError:
    """The /operations flavour of a validation failure."""
    detail = invalid_data_detail(kind.model(create).name, errors, loc_start=1)
    return ApiError(400, f"Invalid data provided: {detail}", error_code="invalid_data")


@dataclass
class Entity:
    kind: Kind
    row: dict[str, Any]  # columns, ids as hex
    path: str  # with a leading slash
    attrib_chain: list[dict[str, Any]]  # own attribs, root folder first, this entity last


async def load(
    conn: asyncpg.Connection, kind: Kind, project: str, entity_id: str, *, lock: bool = False
) -> Entity | None:
    s = schema(project)
    record = await conn.fetchrow(
        f"SELECT * FROM {s}.{kind.table} WHERE id = $1{' FOR UPDATE' if lock else ''}",
        uuid.UUID(entity_id),
    )
    if record is None:
        return None
    row = {
        key: value.hex if isinstance(value, uuid.UUID) else value for key, value in record.items()
    }
    chain = await conn.fetch(
        f"""
        WITH RECURSIVE chain AS (
            SELECT id, parent_id, name, attrib, 0 AS depth FROM {s}.folders WHERE id = $1
            UNION ALL
            SELECT f.id, f.parent_id, f.name, f.attrib, chain.depth + 1
            FROM {s}.folders AS f INNER JOIN chain ON f.id = chain.parent_id
        )
        SELECT name, attrib FROM chain ORDER BY depth DESC
        """,
        uuid.UUID(row["id"] if kind is FOLDER else row["folder_id"]),
    )
    names = [item["name"] for item in chain]
    attribs = [item["attrib"] for item in chain]
    if kind is not FOLDER:
        names.append(row["name"])
        attribs.append(row.get("attrib", {}))
    return Entity(kind, row, "/" + "/".join(names), attribs)


def _wire(entity: Entity, keys: tuple[str, ...], attrib: dict[str, Any]) -> dict[str, Any]:
    values = {
        **entity.row,
        "path": entity.path,
        "has_versions": False,
        "attrib": attrib,
        "own_attrib": list(entity.row.get("attrib", {})),
        "created_at": iso(entity.row.get("created_at")),
        "updated_at": iso(entity.row.get("updated_at")),
    }
    return without_nulls({camel(key): values[key] for key in keys})


def entity_answer(entity: Entity, project_attrib: dict[str, Any]) -> dict[str, Any]:
    """GET answer: inherited attributes resolved, null fields left out."""
    return _wire(
        entity, entity.kind.get_fields, resolve_attrib(project_attrib, entity.attrib_chain)
    )


def snapshot(entity: Entity) -> dict[str, Any]:
    """``payload.entityData`` of a delete event: own attributes, no ownAttrib."""
    keys = tuple(key for key in entity.kind.get_fields if key != "own_attrib")
    return _wire(entity, keys, entity.row.get("attrib", {}))


def _params(row: dict[str, Any]) -> list[Any]:
    return [
        uuid.UUID(value) if key in _UUID_COLUMNS and value is not None else value
        for key, value in row.items()
    ]


async def _default(conn: asyncpg.Connection, kind: Kind, project: str, column: str) -> Any:
    s = schema(project)
    if column == "folder_type":
        return await conn.fetchval(f"SELECT name FROM {s}.folder_types ORDER BY position LIMIT 1")
    rows = await conn.fetch(f"SELECT name, data FROM {s}.statuses ORDER BY position")
    return default_status(((r["name"], r["data"].get("scope")) for r in rows), kind.name)


async def create(
    conn: asyncpg.Connection,
    kind: Kind,
    project: str,
    caller: Caller,
    values: dict[str, Any],
    entity_id: str | None = None,
) -> str:
    """Insert one entity and write its ``entity.<type>.created`` event; returns its id as given."""
    given_id = values.get("id")
    entity_id = entity_id or given_id or new_id()
    if kind is FOLDER and values.get("parent_id") == entity_id.lower():
        raise ApiError(400, "Folder cannot be its own parent")
    row: dict[str, Any] = {"id": entity_id}
    row.update({key: values[key] for key in kind.columns if values.get(key) is not None})
    if kind.audited:
        row["attrib"] = {k: v for k, v in row.get("attrib", {}).items() if v is not None}
        if "status" not in row:
            row["status"] = await _default(conn, kind, project, "status")
    if kind is FOLDER and "folder_type" not in row:
        row["folder_type"] = await _default(conn, kind, project, "folder_type")
    if kind.sets_created_by:
        row["created_by"] = row["updated_by"] = caller.user
    columns = ", ".join(row)
    placeholders = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    async with constraints_as_conflicts(kind.title):
        await conn.execute(
            f"INSERT INTO {schema(project)}.{kind.table} ({columns}) VALUES ({placeholders})",
            *_params(row),
        )
    if kind is FOLDER:
        await refresh_hierarchy(conn, project)
    summary = {"entityId": entity_id, "parentId": row.get(kind.parent)}
    event = PendingEvent(
        f"entity.{kind.name}.created", f"{kind.title} {row['name']} created", summary
    )
    await dispatch(conn, caller, project, [event])
    return entity_id


async def update(
    conn: asyncpg.Connection,
    kind: Kind,
    project: str,
    caller: Caller,
    entity_id: str,
    values: dict[str, Any],
) -> None:
    """Apply a PATCH; writes the change events, or nothing at all when nothing changes."""
    entity = await load(conn, kind, project, entity_id, lock=True)
    if entity is None:
        raise not_found(entity_id)
    if kind is FOLDER and values.get("parent_id") == entity.row["id"]:
        raise ApiError(400, "Folder cannot be its own parent")
    events = change_events(entity, values)
    new = {
        key: merge_patch(entity.row[key], value) if key in ("attrib", "data") else value
        for key, value in values.items()
        if key in kind.columns
    }
    changed = {key: value for key, value in new.items() if value != entity.row[key]}
    if changed:
        if kind.audited:
            changed["updated_by"] = caller.user
        assignments = ", ".join(f"{key} = ${i}" for i, key in enumerate(changed, start=2))
        touch = ", updated_at = NOW()" if kind.audited else ""
        async with constraints_as_conflicts(kind.title):
            await conn.execute(
                f"UPDATE {schema(project)}.{kind.table} SET {assignments}{touch} WHERE id = $1",
                *_params({"id": entity.row["id"], **changed}),
            )
        if kind is FOLDER:
            await refresh_hierarchy(conn, project)
    await dispatch(conn, caller, project, events)


async def delete(
    conn: asyncpg.Connection, kind: Kind, project: str, caller: Caller, entity_id: str
) -> None:
    """Delete an entity (a folder takes its subtree and tasks along) and its own links.

    Links of a folder's descendants stay behind, dangling, as in AYON.
    """
    entity = await load(conn, kind, project, entity_id, lock=True)
    if entity is None:
        raise not_found(entity_id)
    s = schema(project)
    key = uuid.UUID(entity.row["id"])
    await conn.execute(f"DELETE FROM {s}.links WHERE input_id = $1 OR output_id = $1", key)
    async with constraints_as_conflicts(kind.title):
        await conn.execute(f"DELETE FROM {s}.{kind.table} WHERE id = $1", key)
    if kind is FOLDER:
        await refresh_hierarchy(conn, project)
    event = PendingEvent(
        f"entity.{kind.name}.deleted",
        f"{kind.title} {entity.path} deleted",
        {"entityId": entity.row["id"], "parentId": entity.row[kind.parent]},
        {"entityData": snapshot(entity)},
    )
    await dispatch(conn, caller, project, [event])


def change_events(entity: Entity, patch: dict[str, Any]) -> list[PendingEvent]:
    """AYON's events for a PATCH, quirks included.

    All events of one PATCH share ONE summary object, and several checks write its ``value``:
    every event therefore ends up carrying the last value written. ``tags`` is checked twice
    (once on its own, once among the columns), so a tags change writes two events.
    """
    kind, old = entity.kind, entity.row
    label = f"{kind.name} {entity.path}"
    summary: dict[str, Any] = {
        "entityId": old["id"],
        "parentId": old[kind.parent],
        "entityPath": entity.path,
    }
    events: list[PendingEvent] = []

    def emit(topic: str, description: str, old_value: Any, new_value: Any) -> None:
        payload = {"oldValue": old_value, "newValue": new_value}
        events.append(PendingEvent(f"entity.{kind.name}.{topic}", description, summary, payload))

    if patch.get("name") is not None and patch["name"] != old["name"]:
        emit("renamed", f"Renamed {label} to {patch['name']}", old["name"], patch["name"])
        summary["value"] = patch["name"]
    if patch.get("status") is not None and patch["status"] != old.get("status"):
        emit(
            "status_changed",
            f"Changed {label} status to {patch['status']}",
            old["status"],
            patch["status"],
        )
        summary["value"] = patch["status"]
    if patch.get("tags") is not None and patch["tags"] != old.get("tags"):
        description = _tags_description(label, old["tags"], patch["tags"])
        if description:
            emit("tags_changed", description, old["tags"], patch["tags"])
            summary["value"] = patch["tags"]
    if patch.get("attrib"):
        own = dict(old["attrib"])
        new_attrib = dict(patch["attrib"])
        old_attrib = {k: v for k, v in own.items() if k in new_attrib}
        for key in list(old_attrib):
            if new_attrib[key] == old_attrib[key]:
                del old_attrib[key], new_attrib[key]
        if new_attrib:
            # No summary value: AYON keeps attribute values out of summaries.
            emit(
                "attrib_changed",
                f"Changed {label} attributes: {', '.join(new_attrib)}",
                old_attrib,
                new_attrib,
            )
    for column, topic in _CHANGE_COLUMNS:
        if column not in kind.columns or column not in patch or old[column] == patch[column]:
            continue
        new_value = patch[column]
        description = f"Changed {label} {column}"
        if len(str(new_value)) < 30:
            description += f" to {new_value}"
        if column == "active":
            state = "activated" if new_value else "deactivated"
            description = f"{kind.title} {entity.path} {state}"
        emit(topic, description, old[column], new_value)
        summary["value"] = new_value
    return events


def _tags_description(label: str, old: list[str], new: list[str]) -> str:
    added = [tag for tag in new if tag not in old]
    removed = [tag for tag in old if tag not in new]
    description = ""
    if added:
        description += f"Added {label} {'tag' if len(added) == 1 else 'tags'} " + ", ".join(added)
    if removed:
        what = "" if added else f"{label} {'tag' if len(removed) == 1 else 'tags'}"
        description += f"Removed {what} " + ", ".join(removed)
    return description.strip()


# --- endpoints ---------------------------------------------------------------------------------


async def _project_attrib(conn: asyncpg.Connection | asyncpg.Pool, project: str) -> dict[str, Any]:
    attrib: dict[str, Any] = await conn.fetchval(
        "SELECT attrib FROM public.projects WHERE name = $1", project
    )
    return attrib


def post_entity(kind: Kind) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        project = await ctx.project()
        values, errors = parse(kind, await ctx.json(), create=True)
        if errors:
            raise ctx.invalid(errors)
        async with ctx.pool.acquire() as conn, conn.transaction():
            entity_id = await create(conn, kind, project, ctx.caller, values)
        if not HEX_ID.match(entity_id):
            raise _unanswerable_id(entity_id)
        return json_response({"id": entity_id}, status=201)

    return handler


def _unanswerable_id(entity_id: str) -> ServerError:
    """AYON admits upper-case hex ids, stores them, then fails to answer them: a 500.

    The doubled braces are AYON's (its response model's regex is an escaped f-string).
    """
    _, error = check_value(_RESPONSE_ID, entity_id, ("id",))
    detail = invalid_data_detail("EntityIdResponse", [error] if error else [], loc_start=0)
    return ServerError(f"pydantic.error_wrappers.ValidationError: {detail}")


_RESPONSE_ID = Field("id", regex="^[0-9a-f]{{32}}$")


def _entity_route(kind: Kind, run: Callable[[Ctx, str, str], Awaitable[Response]]) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        entity_id = ctx.path_id(f"{kind.name}_id")
        project = await ctx.project()
        return await run(ctx, project, entity_id)

    return handler


def get_entity(kind: Kind) -> Handler:
    async def run(ctx: Ctx, project: str, entity_id: str) -> Response:
        async with ctx.pool.acquire() as conn:
            entity = await load(conn, kind, project, entity_id)
            if entity is None:
                raise not_found(entity_id)
            return json_response(entity_answer(entity, await _project_attrib(conn, project)))

    return _entity_route(kind, run)


def patch_entity(kind: Kind) -> Handler:
    async def run(ctx: Ctx, project: str, entity_id: str) -> Response:
        values, errors = parse(kind, await ctx.json(), create=False)
        if errors:
            raise ctx.invalid(errors)
        async with ctx.pool.acquire() as conn, conn.transaction():
            await update(conn, kind, project, ctx.caller, entity_id, values)
        return no_content()

    return _entity_route(kind, run)


def delete_entity(kind: Kind) -> Handler:
    async def run(ctx: Ctx, project: str, entity_id: str) -> Response:
        async with ctx.pool.acquire() as conn, conn.transaction():
            await delete(conn, kind, project, ctx.caller, entity_id)
        return no_content()

    return _entity_route(kind, run)


_ASSIGN = Model(
    "AssignUsersRequestModel",
    (
        Field("mode", required=True, nullable=False, choices=("add", "remove", "set")),
        Field("users", "strlist", required=True, nullable=False),
    ),
)


async def _assign(ctx: Ctx, project: str, task_id: str) -> Response:
    body = await ctx.body(_ASSIGN)
    async with ctx.pool.acquire() as conn, conn.transaction():
        task = await load(conn, TASK, project, task_id, lock=True)
        if task is None:
            raise not_found(task_id)
        old = task.row["assignees"]
        if body["mode"] == "set":
            new = list(body["users"])
        elif body["mode"] == "add":
            new = old + [user for user in body["users"] if user not in old]
        else:
            new = [user for user in old if user not in body["users"]]
        if new == old:
            return no_content()
        # Recorded: after /assign the task has no updatedBy any more.
        await conn.execute(
            f"UPDATE {schema(project)}.tasks SET assignees = $2, updated_by = NULL, "
            "updated_at = NOW() WHERE id = $1",
            uuid.UUID(task_id),
            new,
        )
        event = PendingEvent(
            "entity.task.assignees_changed",
            f"Changed task {task.row['name']} assignees",
            {"entityId": task_id, "parentId": task.row["folder_id"]},
            {"newValue": new, "oldValue": old},
        )
        await dispatch(conn, ctx.caller, project, [event])
    return no_content()


assign_task = _entity_route(TASK, _assign)


async def list_folders(ctx: Ctx) -> Response:
    project = await ctx.project()
    s = schema(project)
    rows = await ctx.pool.fetch(
        f"""
        SELECT f.id, f.name, f.label, f.folder_type, f.parent_id, f.status, f.tags,
               f.created_at, f.updated_at, h.path,
               EXISTS (SELECT 1 FROM {s}.folders AS c WHERE c.parent_id = f.id) AS has_children,
               ARRAY(SELECT t.name FROM {s}.tasks AS t WHERE t.folder_id = f.id
                     ORDER BY t.creation_order) AS task_names
        FROM {s}.folders AS f INNER JOIN {s}.hierarchy AS h ON h.id = f.id
        ORDER BY f.id
        """
    )
    folders = [
        {
            "createdAt": iso(row["created_at"]),
            "folderType": row["folder_type"],
            "hasChildren": row["has_children"],
            "hasReviewables": False,
            "hasTasks": bool(row["task_names"]),
            "hasVersions": False,
            "id": row["id"].hex,
            "label": row["label"],
            "name": row["name"],
            "parentId": row["parent_id"].hex if row["parent_id"] else None,
            "parents": row["path"].split("/")[:-1],
            "path": row["path"],
            "status": row["status"],
            "tags": row["tags"],
            "taskNames": row["task_names"],
            "thumbnailHash": row["id"].hex[-6:],
            "updatedAt": iso(row["updated_at"]),
        }
        for row in rows
    ]
    return json_response({"folders": folders})
