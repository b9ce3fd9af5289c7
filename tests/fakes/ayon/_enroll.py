"""``POST /api/enroll``: AYON's job queue over its events, as recorded from AYON 1.16
(``tests/fixtures/ayon/events_stream/``, README "Enroll").

A job is the oldest source event (matching topics and filter) with no finished target event of
``targetTopic``. The caller gets a new pending target for it (``depends_on`` = the source), or
its own still-open target again, or its failed one restarted; 204 when there is nothing to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

import asyncpg
from starlette.responses import Response

from ._events import TOPIC_PATTERN
from ._wire import ApiError, Field, Model, as_uuid, json_response, new_id, no_content

if TYPE_CHECKING:
    from ._http import Ctx

_ENROLL = Model(
    "EnrollRequestModel",
    (
        Field("sourceTopic", "any", required=True, nullable=False),
        Field("targetTopic", required=True, nullable=False),
        Field("sender"),
        Field("senderType"),
        Field("description"),
        Field("sequential", "bool"),
        Field("filter", "dict"),
        Field("maxRetries", "int"),
        Field("ignoreSenderTypes", "any"),
        Field("ignoreOlderThan", "int"),
    ),
)
_OPEN = ("pending", "in_progress")
# Filter keys of the source row the recordings use (QueryFilter conditions).
_FILTER_COLUMNS = {"project": "s.project_name", "created_at": "s.created_at", "topic": "s.topic"}
_OPERATORS = {"eq": "=", "gt": ">", "lt": "<", "gte": ">=", "lte": "<=", "ne": "<>"}


def target_hash(target_topic: str, source_id: str) -> str:
    """AYON's hash of a target event: sha256 of the compact JSON ``[target, source]``."""
    raw = json.dumps([target_topic, source_id], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


async def enroll(ctx: Ctx) -> Response:
    body = await ctx.body(_ENROLL)
    is_service = await ctx.pool.fetchval(
        "SELECT coalesce((data->>'isService')::boolean, false) FROM public.users WHERE name = $1",
        ctx.caller.user,
    )
    if not is_service:
        raise ApiError(403, "Only services can enroll for jobs")
    target = body["target_topic"]
    if "*" in target:
        raise ApiError(400, "Target topic must not contain wildcards")
    sources = body["source_topic"]
    topics = [sources] if isinstance(sources, str) else list(sources)
    for topic in topics:
        if not isinstance(topic, str) or not re.match(TOPIC_PATTERN, topic):
            raise ApiError(400, f"Invalid topic: {topic}")
    sender = body.get("sender") or ctx.caller.sender
    async with ctx.pool.acquire() as conn, conn.transaction():
        # One enroll at a time per target topic, as AYON serialises them (row locks there).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", target)
        job = await _next_job(conn, body, topics, sender)
        if job is None:
            return no_content()
        source, held = job
        if held is not None:
            return _answer(held)
        row = {
            "id": new_id(),
            "hash": target_hash(target, source.hex),
            "depends_on": source,
        }
        await conn.execute(
            """
            INSERT INTO public.events (id, hash, topic, sender, sender_type, user_name,
                                       project_name, depends_on, status, description)
            VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, 'pending', $8)
            """,
            as_uuid(row["id"]),
            row["hash"],
            target,
            sender,
            body.get("sender_type") or ctx.caller.sender_type,
            ctx.caller.user,
            source,
            body.get("description") or f"Convert from {sources} to {target}",
        )
    return json_response(
        {"id": row["id"], "dependsOn": source.hex, "hash": row["hash"], "status": "pending"}
    )


async def _next_job(
    conn: asyncpg.Connection, body: dict[str, Any], topics: list[str], sender: str | None
) -> tuple[Any, asyncpg.Record | None] | None:
    """(source id, the target to hand out again or None to create one), or None for 204."""
    conditions, params = _source_conditions(body, topics)
    params.append(body["target_topic"])
    rows = await conn.fetch(
        f"""
        SELECT s.id AS source, t.id, t.depends_on, t.hash, t.status, t.sender, t.retries
        FROM public.events s
        LEFT JOIN public.events t ON t.depends_on = s.id AND t.topic = ${len(params)}
        WHERE {" AND ".join(conditions)} AND (t.id IS NULL OR t.status <> 'finished')
        ORDER BY s.created_at, s.creation_order
        """,
        *params,
    )
    max_retries = body.get("max_retries", 3)
    for row in rows:
        if row["id"] is None:
            return row["source"], None
        if row["status"] in _OPEN:
            if row["sender"] == sender:
                return row["source"], row
            if body.get("sequential"):
                return None
            continue
        if row["status"] == "failed" and row["retries"] < max_retries:
            restarted = await conn.fetchrow(
                """
                UPDATE public.events SET status = 'pending', retries = retries + 1,
                       sender = $2, description = 'Restarting failed event', updated_at = NOW()
                WHERE id = $1 RETURNING id, depends_on, hash, status
                """,
                row["id"],
                sender,
            )
            return row["source"], restarted
    return None


def _source_conditions(body: dict[str, Any], topics: list[str]) -> tuple[list[str], list[Any]]:
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if len(topics) == 1 and "*" in topics[0]:
        conditions = [f"s.topic LIKE {param(topics[0].replace('*', '%'))}"]
    else:
        conditions = [f"s.topic = ANY({param(topics)}::varchar[])"]
    ignored = body.get("ignore_sender_types") or []
    if ignored:
        conditions.append(f"s.sender_type <> ALL({param(list(ignored))}::varchar[])")
    days = body.get("ignore_older_than", 3)
    if days:
        conditions.append(f"s.created_at > NOW() - make_interval(days => {param(days)})")
    for condition in (body.get("filter") or {}).get("conditions", []):
        column = _FILTER_COLUMNS[condition["key"]]
        operator = _OPERATORS[condition.get("operator", "eq")]
        value = condition["value"]
        if condition["key"] == "created_at":
            value = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        conditions.append(f"{column} {operator} {param(value)}")
    return conditions, params


def _answer(row: asyncpg.Record) -> Response:
    return json_response(
        {
            "id": row["id"].hex,
            "dependsOn": row["depends_on"].hex,
            "hash": row["hash"],
            "status": row["status"],
        }
    )
