"""Projects: deploy (schema + anatomy), GET, PATCH (merge + full list replacement), anatomy."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from starlette.responses import Response

from ._anatomy import (
    ANATOMY_LISTS,
    anatomy_document,
    clean_attrib,
    default_project,
    link_type_item,
    ordered_attrib,
    project_from_anatomy,
)
from ._db import constraints_as_conflicts, create_project_schema, schema
from ._events import Caller, PendingEvent, dispatch
from ._http import Ctx
from ._wire import (
    ABORTED_TRANSACTION,
    FIELD_REQUIRED,
    ApiError,
    ErrorItem,
    Field,
    Model,
    ServerError,
    error_item,
    iso,
    json_response,
    no_content,
    validate,
    without_nulls,
)
from .rules import merge_patch

_NAME = re.compile(r"^[a-zA-Z0-9_]*$")
_WIRE_LISTS = {
    "folder_types": "folderTypes",
    "task_types": "taskTypes",
    "statuses": "statuses",
    "tags": "tags",
}

_POST = Model(
    "ProjectPostModel",
    (
        Field("name", required=True, nullable=False),
        Field("code", required=True, nullable=False),
        Field("label"),
        Field("library", "bool"),
        Field("anatomy", "dict"),
    ),
)
_PATCH = Model(
    "ProjectPatchModel",
    (
        Field("code", nullable=False),
        Field("label"),
        Field("library", "bool", nullable=False),
        Field("active", "bool", nullable=False),
        Field("attrib", "dict", nullable=False),
        Field("data", "dict", nullable=False),
        Field("config", "dict", nullable=False),
        *(Field(wire, "list", nullable=False) for wire in _WIRE_LISTS.values()),
        Field("linkTypes", "list", nullable=False),
    ),
)
# Project PATCH events, in AYON's order; a linkTypes change writes none of its own.
_CHANGE_COLUMNS = (
    "data",
    "label",
    "active",
    "config",
    "statuses",
    "tags",
    "folder_types",
    "task_types",
)


async def deploy_project(
    conn: asyncpg.Connection,
    caller: Caller,
    *,
    name: str,
    code: str,
    label: str | None = None,
    library: bool = False,
    anatomy: dict[str, Any] | None = None,
) -> None:
    """Create project ``name``: its public.projects row, its schema and its anatomy."""
    existing = await conn.fetchrow(
        "SELECT name, code FROM public.projects WHERE LOWER(name) = LOWER($1) "
        "OR LOWER(code) = LOWER($2)",
        name,
        code,
    )
    if existing is not None:
        raise ApiError(409, f"Project {existing['name']} ({existing['code']}) already exists")
    if not _NAME.match(name):
        # AYON does not validate the name first: the schema DDL fails and it answers 500.
        raise ServerError(ABORTED_TRANSACTION)
    project = project_from_anatomy(anatomy) if anatomy else default_project()
    async with conn.transaction():
        async with constraints_as_conflicts("Project"):
            await conn.execute(
                "INSERT INTO public.projects (name, code, label, library, config, attrib) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                name,
                code,
                label,
                library,
                project["config"],
                project["attrib"],
            )
        await create_project_schema(conn, name)
        for table in ANATOMY_LISTS:
            await _replace_list(conn, name, table, project[table])
        await _replace_link_types(conn, name, project["link_types"])
        await dispatch(
            conn, caller, name, [PendingEvent("entity.project.created", f"Created project {name}")]
        )


async def read_project(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> dict[str, Any]:
    """The project as GET /api/projects/{name} returns it (null fields left out)."""
    row = await conn.fetchrow("SELECT * FROM public.projects WHERE name = $1", name)
    if row is None:
        raise ApiError(404, f"Project {name} not found")
    project: dict[str, Any] = {
        "name": row["name"],
        "code": row["code"],
        "label": row["label"],
        "library": row["library"],
    }
    for table, wire in _WIRE_LISTS.items():
        project[wire] = [
            item["data"]
            for item in await conn.fetch(
                f"SELECT data FROM {schema(name)}.{table} ORDER BY position, name"
            )
        ]
    # No ORDER BY, like AYON: link types come back in storage order.
    project["linkTypes"] = [
        {
            "name": item["name"],
            "linkType": item["link_type"],
            "inputType": item["input_type"],
            "outputType": item["output_type"],
            "data": item["data"],
        }
        for item in await conn.fetch(
            f"SELECT name, link_type, input_type, output_type, data FROM {schema(name)}.link_types"
        )
    ]
    project.update(
        {
            "config": row["config"],
            "attrib": ordered_attrib(row["attrib"]),
            "data": row["data"],
            "active": row["active"],
            "ownAttrib": list(row["attrib"]),
            "createdAt": iso(row["created_at"]),
            "updatedAt": iso(row["updated_at"]),
        }
    )
    return without_nulls(project)


async def _replace_list(
    conn: asyncpg.Connection, project: str, table: str, items: list[dict[str, Any]]
) -> None:
    """Full replacement of an anatomy list: items left out are deleted (FKs permitting)."""
    target = f"{schema(project)}.{table}"
    await conn.execute(
        f"DELETE FROM {target} WHERE name <> ALL($1::VARCHAR[])", [item["name"] for item in items]
    )
    await conn.executemany(
        f"""
        INSERT INTO {target} (name, position, data) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, data = EXCLUDED.data
        """,
        [(item["name"], position, item) for position, item in enumerate(items, start=1)],
    )


async def _replace_link_types(
    conn: asyncpg.Connection, project: str, items: list[dict[str, Any]]
) -> None:
    """Full replacement; dropping a type deletes its links (ON DELETE CASCADE)."""
    target = f"{schema(project)}.link_types"
    await conn.execute(
        f"DELETE FROM {target} WHERE name <> ALL($1::VARCHAR[])", [item["name"] for item in items]
    )
    # Unchanged rows are left alone so that their storage order (the GET order) is kept.
    await conn.executemany(
        f"""
        INSERT INTO {target} (name, link_type, input_type, output_type, data)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data
        WHERE {target}.data IS DISTINCT FROM EXCLUDED.data
        """,
        [
            (item["name"], item["linkType"], item["inputType"], item["outputType"], item["data"])
            for item in items
        ],
    )


# --- endpoints ---------------------------------------------------------------------------------


async def post_project(ctx: Ctx) -> Response:
    body = await ctx.body(_POST)
    async with ctx.pool.acquire() as conn:
        await deploy_project(
            conn,
            ctx.caller,
            name=body["name"],
            code=body["code"],
            label=body.get("label"),
            library=bool(body.get("library")),
            anatomy=body.get("anatomy"),
        )
    return json_response(None, status=201)


async def delete_project(ctx: Ctx) -> Response:
    """``DELETE /api/projects/{p}``: the project and all its tables (recorded as a 204 that
    says it is JSON, in ``graphql/teardown_project_delete_fxrec``)."""
    project = await ctx.project()
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute(f"DROP SCHEMA {schema(project)} CASCADE")
        await conn.execute("DELETE FROM public.projects WHERE name = $1", project)
    return no_content("application/json")


async def get_project(ctx: Ctx) -> Response:
    return json_response(await read_project(ctx.pool, await ctx.project()))


async def get_anatomy(ctx: Ctx) -> Response:
    return json_response(anatomy_document(await read_project(ctx.pool, await ctx.project())))


async def get_link_types(ctx: Ctx) -> Response:
    project = await read_project(ctx.pool, await ctx.project())
    return json_response({"types": project["linkTypes"]})


async def patch_project(ctx: Ctx) -> Response:
    name = await ctx.project()
    body = _clean_patch(ctx, await ctx.json())
    async with ctx.pool.acquire() as conn, conn.transaction():
        old = await read_project(conn, name)
        events = _project_change_events(name, old, body)
        try:
            for table, wire in _WIRE_LISTS.items():
                if wire in body:
                    await _replace_list(conn, name, table, body[wire])
            if "linkTypes" in body:
                await _replace_link_types(conn, name, body["linkTypes"])
        except asyncpg.ForeignKeyViolationError as exc:
            # A type or status still in use: AYON carries on in the failed transaction -> 500.
            raise ServerError(ABORTED_TRANSACTION) from exc
        columns: dict[str, Any] = {
            key: body[key]
            for key in ("code", "label", "library", "active", "config")
            if key in body
        }
        columns["attrib"] = merge_patch(old.get("attrib", {}), body.get("attrib", {}))
        columns["data"] = merge_patch(old.get("data", {}), body.get("data", {}))
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(columns, start=2))
        async with constraints_as_conflicts("Project"):
            await conn.execute(
                f"UPDATE public.projects SET {assignments}, updated_at = NOW() WHERE name = $1",
                name,
                *columns.values(),
            )
        await dispatch(conn, ctx.caller, name, events)
    return no_content("application/json")


def _clean_patch(ctx: Ctx, raw: Any) -> dict[str, Any]:
    """Validate a project PATCH; the result keeps wire (camelCase) keys for the lists."""
    values, errors = validate(_PATCH, raw)
    body: dict[str, Any] = {}
    for key, value in values.items():
        spec = _PATCH.get(key)
        body[spec.name if spec.kind == "list" else key] = value
    if "attrib" in body:
        body["attrib"], attrib_errors = clean_attrib(body["attrib"], ("body", "attrib"))
        errors.extend(attrib_errors)
    for wire in (*_WIRE_LISTS.values(), "linkTypes"):
        if wire in body:
            body[wire] = _anatomy_items(body[wire], wire, errors)
    if errors:
        raise ctx.invalid(errors)
    return body


def _anatomy_items(items: list[Any], wire: str, errors: list[ErrorItem]) -> list[dict[str, Any]]:
    clean = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not (item.get("name") or wire == "linkTypes"):
            errors.append(error_item(("body", wire, index, "name"), *FIELD_REQUIRED))
            continue
        item = {key: value for key, value in item.items() if key != "original_name"}
        clean.append(link_type_item(item) if wire == "linkTypes" else item)
    return clean


def _project_change_events(
    name: str, old: dict[str, Any], body: dict[str, Any]
) -> list[PendingEvent]:
    events = []
    if body.get("attrib"):
        old_attrib = old.get("attrib", {})
        changed = {k: v for k, v in body["attrib"].items() if old_attrib.get(k) != v}
        if changed:
            payload = {"oldValue": {k: old_attrib.get(k) for k in changed}, "newValue": changed}
            events.append(
                PendingEvent(
                    "entity.project.attrib_changed", "Changed project attributes", payload=payload
                )
            )
    for column in _CHANGE_COLUMNS:
        wire = _WIRE_LISTS.get(column, column)
        if wire not in body:
            continue
        old_value, new_value = old.get(wire), body[wire]
        if old_value == new_value:
            continue
        description = f"Changed project {column}"
        if column == "active":
            description = "Project activated" if new_value else "Project deactivated"
        events.append(
            PendingEvent(
                f"entity.project.{column}_changed",
                description,
                payload={"oldValue": old_value, "newValue": new_value},
            )
        )
    events.append(PendingEvent("entity.project.changed", f"Updated project {name}"))
    return events
