"""Entity links: POST one, POST bulk (all or nothing), DELETE, and their events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.responses import Response

from ._db import schema
from ._events import PendingEvent, dispatch
from ._http import Ctx
from ._wire import (
    FIELD_REQUIRED,
    ApiError,
    ErrorItem,
    Field,
    Model,
    error_item,
    id_field,
    json_response,
    new_id,
    no_content,
    validate,
)

_LINK_FIELDS = (
    Field("id", min_length=32, max_length=32, regex="^[0-9a-f]{32}$"),
    id_field("input", required=True, nullable=False),
    id_field("output", required=True, nullable=False),
    Field("linkType"),
    Field("link"),  # deprecated spelling of linkType, still accepted
    Field("name"),
    Field("data", "dict"),
)
_LINK = Model("CreateLinkRequestModel", _LINK_FIELDS)
_BULK = Model("CreateLinksRequestModel", (Field("links", "list", required=True, nullable=False),))
# Entity types whose table the fake has; links to other types find no entity (404).
_TABLES = {"folder": "folders", "task": "tasks", "product": "products"}


@dataclass
class _Link:
    id: str
    input: str
    output: str
    type_name: str  # full name, e.g. breakdown|folder|folder
    short: str
    input_type: str
    output_type: str
    name: str | None
    data: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "inputId": self.input,
            "linkType": self.short,
            "outputId": self.output,
            "inputType": self.input_type,
            "outputType": self.output_type,
        }

    def between(self) -> str:
        return (
            f"{self.short} link between {self.input_type} {self.input} and "
            f"{self.output_type} {self.output}."
        )


def _checked_link(body: dict[str, Any], supported: set[str]) -> _Link:
    """Format, self-link and link-type checks, in AYON's order and wording."""
    type_name = body.get("link_type") or body.get("link") or ""
    parts = type_name.split("|")
    if len(parts) != 3:
        raise ApiError(400, "Link type must be in the format 'name|input_type|output_type'")
    short, input_type, output_type = parts
    if input_type == output_type and body["input"].lower() == body["output"].lower():
        raise ApiError(400, "Cannot link an entity to itself.")
    if type_name not in supported:
        raise ApiError(400, "Unsupported link type.")
    return _Link(
        id=body.get("id") or new_id(),
        input=body["input"].lower(),
        output=body["output"].lower(),
        type_name=type_name,
        short=short,
        input_type=input_type,
        output_type=output_type,
        name=body.get("name"),
        data=body.get("data") or {},
    )


async def _supported(conn: asyncpg.Connection, project: str) -> set[str]:
    return {
        row["name"] for row in await conn.fetch(f"SELECT name FROM {schema(project)}.link_types")
    }


async def _missing(
    conn: asyncpg.Connection, project: str, entity_type: str, ids: list[str]
) -> list[str]:
    """The ids (in the order given) that are not rows of the entity type's table."""
    table = _TABLES.get(entity_type)
    found: set[str] = set()
    if table is not None:
        rows = await conn.fetch(
            f"SELECT id FROM {schema(project)}.{table} WHERE id = ANY($1::UUID[])",
            [uuid.UUID(value) for value in ids],
        )
        found = {row["id"].hex for row in rows}
    return [value for value in dict.fromkeys(ids) if value not in found]


async def _insert(
    conn: asyncpg.Connection, project: str, user: str | None, links: list[_Link]
) -> None:
    await conn.executemany(
        f"""
        INSERT INTO {schema(project)}.links (id, name, link_type, input_id, output_id, author, data)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        [
            (
                uuid.UUID(link.id),
                link.name,
                link.type_name,
                uuid.UUID(link.input),
                uuid.UUID(link.output),
                user,
                link.data,
            )
            for link in links
        ],
    )


def _require_link_type(body: dict[str, Any], errors: list[ErrorItem], loc: tuple[Any, ...]) -> None:
    if not body.get("link_type") and not body.get("link"):
        errors.append(error_item((*loc, "linkType"), *FIELD_REQUIRED))


async def post_link(ctx: Ctx) -> Response:
    project = await ctx.project()
    body = await ctx.body(_LINK)
    errors: list[ErrorItem] = []
    _require_link_type(body, errors, ("body",))
    if errors:
        raise ctx.invalid(errors)
    async with ctx.pool.acquire() as conn, conn.transaction():
        link = _checked_link(body, await _supported(conn, project))
        if await _missing(conn, project, link.input_type, [link.input]):
            raise ApiError(404, f"Input entity {link.input} not found.")
        if await _missing(conn, project, link.output_type, [link.output]):
            raise ApiError(404, f"Output entity {link.output} not found.")
        try:
            await _insert(conn, project, ctx.caller.user, [link])
        except asyncpg.UniqueViolationError as exc:
            raise ApiError(409, "Link already exists.") from exc
        event = PendingEvent("link.created", f"Created {link.between()}", link.summary())
        await dispatch(conn, ctx.caller, project, [event])
    return json_response({"id": link.id})


async def post_links_bulk(ctx: Ctx) -> Response:
    project = await ctx.project()
    request = await ctx.body(_BULK)
    bodies, errors = [], []
    for index, item in enumerate(request["links"]):
        body, item_errors = validate(_LINK, item, ("body", "links", index))
        _require_link_type(body, item_errors, ("body", "links", index))
        bodies.append(body)
        errors.extend(item_errors)
    if errors:
        raise ctx.invalid(errors)
    async with ctx.pool.acquire() as conn, conn.transaction():
        supported = await _supported(conn, project)
        links = [_checked_link(body, supported) for body in bodies]
        by_type: dict[str, list[str]] = {}
        for link in links:
            by_type.setdefault(link.input_type, []).append(link.input)
            by_type.setdefault(link.output_type, []).append(link.output)
        for entity_type, ids in by_type.items():
            missing = await _missing(conn, project, entity_type, ids)
            if missing:
                raise ApiError(
                    404, f"{entity_type.capitalize()} entities not found: {', '.join(missing)}"
                )
        ids = [link.id for link in links]
        taken = await conn.fetchval(
            f"SELECT COUNT(*) FROM {schema(project)}.links WHERE id = ANY($1::UUID[])",
            [uuid.UUID(value) for value in ids],
        )
        if taken or len(set(ids)) != len(ids):
            raise ApiError(409, "One or more link IDs already exist.")
        try:
            await _insert(conn, project, ctx.caller.user, links)
        except asyncpg.UniqueViolationError as exc:
            # A concurrent bulk inserted one of the ids after the check above (AYON says 409 too).
            raise ApiError(409, "One or more link IDs already exist.") from exc
        summary = {"count": len(links), "links": [link.summary() for link in links]}
        event = PendingEvent("links.created", f"Created {len(links)} links.", summary)
        await dispatch(conn, ctx.caller, project, [event])
    created = [
        {"id": link.id, "input": link.input, "output": link.output, "linkType": link.type_name}
        for link in links
    ]
    return json_response({"created": created})


async def delete_link(ctx: Ctx) -> Response:
    link_id = ctx.path_id("link_id")
    project = await ctx.project()
    s = schema(project)
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""
            DELETE FROM {s}.links AS l USING {s}.link_types AS t
            WHERE l.id = $1 AND t.name = l.link_type
            RETURNING l.*, t.link_type AS short, t.input_type, t.output_type
            """,
            uuid.UUID(link_id),
        )
        if row is None:
            raise ApiError(404, f"Link {link_id} not found.")
        link = _Link(
            id=link_id,
            input=row["input_id"].hex,
            output=row["output_id"].hex,
            type_name=row["link_type"],
            short=row["short"],
            input_type=row["input_type"],
            output_type=row["output_type"],
            name=row["name"],
            data=row["data"],
        )
        event = PendingEvent("link.deleted", f"Deleted {link.between()}", link.summary())
        await dispatch(conn, ctx.caller, project, [event])
    return no_content()
