"""public.events: rows written by every write, log.error rows, and the /api/events endpoints."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
from starlette.responses import Response

from ._db import constraints_as_conflicts
from ._wire import (
    ApiError,
    Field,
    Model,
    as_uuid,
    id_field,
    iso,
    json_response,
    new_id,
    no_content,
)

if TYPE_CHECKING:
    from ._http import Ctx

STATUSES = ("pending", "in_progress", "finished", "failed", "aborted", "restarted")
TOPIC_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_\.\*]{2,64}$"


@dataclass(frozen=True)
class Caller:
    """Who wrote: the authenticated user and the X-Sender / X-Sender-Type headers."""

    user: str | None
    sender: str | None = None
    sender_type: str = "api"


@dataclass
class PendingEvent:
    topic: str
    description: str
    summary: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


_INSERT = """
    INSERT INTO public.events (id, hash, topic, sender, sender_type, project_name, user_name,
                               depends_on, status, description, summary, payload)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""


async def dispatch(
    conn: asyncpg.Connection, caller: Caller, project: str | None, events: Iterable[PendingEvent]
) -> None:
    """Write the events of a successful write (status finished, hash = id)."""
    rows = []
    for event in events:
        event_id = new_id()
        rows.append(
            (
                as_uuid(event_id),
                event_id,
                event.topic,
                caller.sender,
                caller.sender_type,
                project,
                caller.user,
                None,
                "finished",
                event.description,
                event.summary,
                event.payload,
            )
        )
    if rows:
        await conn.executemany(_INSERT, rows)


async def log_error(
    conn: asyncpg.Connection | asyncpg.Pool,
    user: str | None,
    description: str,
    module: str,
    traceback: str,
) -> None:
    """A log.error row: AYON writes one per request-validation 400 and per 500."""
    event_id = new_id()
    payload = {"module": module, "traceback": traceback, "request_id": secrets.token_urlsafe(12)}
    await conn.execute(
        _INSERT,
        as_uuid(event_id),
        event_id,
        "log.error",
        None,
        None,
        None,
        user,
        None,
        "finished",
        description,
        {},
        payload,
    )


# --- /api/events -------------------------------------------------------------------------------

_POST = Model(
    "EventPostModel",
    (
        Field("topic", required=True, nullable=False, regex=TOPIC_PATTERN),
        Field("sender"),
        Field("senderType"),
        Field("hash"),
        Field("project"),
        Field("user"),
        id_field("dependsOn"),
        Field("description"),
        Field("summary", "dict"),
        Field("payload", "dict"),
        Field("finished", "bool"),
        Field("store", "bool"),
        Field("reuse", "bool"),
    ),
)
_PATCH = Model(
    "EventPatchModel",
    (
        Field("sender"),
        Field("senderType"),
        Field("project"),
        Field("user"),
        Field("status", choices=STATUSES),
        Field("description"),
        Field("summary", "dict"),
        Field("payload", "dict"),
        Field("retries", "int"),
    ),
)


async def post_event(ctx: Ctx) -> Response:
    body = await ctx.body(_POST)
    event_id = new_id()
    row = {
        "id": as_uuid(event_id),
        "hash": body.get("hash") or event_id,
        "topic": body["topic"],
        # A sender in the body wins over X-Sender.
        "sender": body.get("sender") or ctx.caller.sender,
        "sender_type": body.get("sender_type") or ctx.caller.sender_type,
        "project_name": body.get("project"),
        "user_name": body.get("user") or ctx.caller.user,
        "depends_on": as_uuid(body["depends_on"]) if body.get("depends_on") else None,
        "status": "finished" if body.get("finished", True) else "pending",
        "description": body.get("description") or "",
        "summary": body.get("summary") or {},
        "payload": body.get("payload") or {},
    }
    if not body.get("store", True):
        return json_response({"id": event_id})
    columns = ", ".join(row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    # reuse=true upserts by hash; the row keeps creation_order and created_at but gets a new id.
    upsert = (
        " ON CONFLICT (hash) DO UPDATE SET "
        + ", ".join(f"{col} = EXCLUDED.{col}" for col in row if col != "hash")
        + ", updated_at = NOW()"
        if body.get("reuse")
        else ""
    )
    async with ctx.pool.acquire() as conn:
        try:
            async with constraints_as_conflicts("Event"):
                await conn.execute(
                    f"INSERT INTO public.events ({columns}) VALUES ({params}){upsert}",
                    *row.values(),
                )
        except ApiError as exc:
            if exc.error_code == "unique-violation":
                raise ApiError(409, "Event with the same hash already exists") from exc
            raise
    return json_response({"id": event_id})


async def get_event(ctx: Ctx) -> Response:
    event_id = ctx.path_id("event_id")
    row = await ctx.pool.fetchrow("SELECT * FROM public.events WHERE id = $1", as_uuid(event_id))
    if row is None:
        raise ApiError(404, "Event not found")
    return json_response(
        {
            "id": row["id"].hex,
            "hash": row["hash"],
            "topic": row["topic"],
            "sender": row["sender"],
            "senderType": row["sender_type"],
            "project": row["project_name"],
            "user": row["user_name"],
            "dependsOn": row["depends_on"].hex if row["depends_on"] else None,
            "status": row["status"],
            "retries": row["retries"],
            "description": row["description"],
            "summary": row["summary"],
            "payload": row["payload"],
            "createdAt": iso(row["created_at"]),
            "updatedAt": iso(row["updated_at"]),
        }
    )


async def patch_event(ctx: Ctx) -> Response:
    event_id = ctx.path_id("event_id")
    body = await ctx.body(_PATCH)
    columns = {"project": "project_name", "user": "user_name"}
    changes = {columns.get(key, key): value for key, value in body.items()}
    sender = body.get("sender") or ctx.caller.sender
    if sender is not None:
        changes["sender"] = sender
    # sender_type is always overwritten: "api" when the header is absent.
    changes["sender_type"] = body.get("sender_type") or ctx.caller.sender_type
    assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(changes, start=2))
    found = await ctx.pool.fetchval(
        f"UPDATE public.events SET {assignments}, updated_at = NOW() WHERE id = $1 RETURNING id",
        as_uuid(event_id),
        *changes.values(),
    )
    if found is None:
        raise ApiError(404, "Event not found")
    return no_content()
