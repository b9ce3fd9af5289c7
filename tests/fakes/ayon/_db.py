"""Database plumbing: pool, DDL, project schema names, and AYON's wording of constraint errors.

AYON lets Postgres enforce integrity and turns the violation's detail
(``Key (parent_id)=(…) is not present in table "folders".``) into its 409 message; the fake does
the same, so the wording follows from the DDL in ``project.sql``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from contextvars import ContextVar
from pathlib import Path

import asyncpg

from ._wire import ApiError

_pending_refresh: ContextVar[set[str] | None] = ContextVar("pending_refresh", default=None)
_HERE = Path(__file__).resolve().parent
_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_]+$")
_KEY_DETAIL = re.compile(r"^Key \((?P<cols>.*)\)=\((?P<vals>.*)\) (?P<rest>.*)$", re.DOTALL)
# Serialises DDL when several fake apps share one database (any constant works).
_DDL_LOCK = 0x41594F4E


def schema(project: str) -> str:
    """The schema of a project; the only identifier the fake ever interpolates into SQL."""
    if not _SCHEMA_NAME.match(project):
        raise ValueError(f"not a valid project name: {project!r}")
    return f"project_{project}"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def open_pool(dsn: str) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=10, init=_init_connection
    )
    return pool


@contextlib.asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    try:
        await _init_connection(conn)
        yield conn
    finally:
        await conn.close()


async def ensure_public_tables(conn: asyncpg.Connection) -> None:
    """Create public.projects/users/events if missing; safe to run concurrently."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
        await conn.execute((_HERE / "public.sql").read_text())
        # The trigram index on topic needs pg_trgm; AYON has it, a bare server may not.
        with contextlib.suppress(asyncpg.PostgresError):
            async with conn.transaction():
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                await conn.execute(
                    "CREATE INDEX IF NOT EXISTS events_topic_trgm_idx "
                    "ON public.events USING GIN (topic gin_trgm_ops)"
                )


async def create_project_schema(conn: asyncpg.Connection, project: str) -> None:
    await conn.execute((_HERE / "project.sql").read_text().replace("{schema}", schema(project)))


async def refresh_hierarchy(conn: asyncpg.Connection, project: str) -> None:
    """AYON refreshes the hierarchy view after every folder write, in the same transaction.

    Inside ``batched_hierarchy_refresh`` the refresh waits for the end of the block instead.
    """
    pending = _pending_refresh.get()
    if pending is not None:
        pending.add(project)
        return
    await conn.execute(f"REFRESH MATERIALIZED VIEW {schema(project)}.hierarchy")


@contextlib.asynccontextmanager
async def batched_hierarchy_refresh(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Refresh the hierarchy once after a batch of writes rather than after each one.

    Nothing inside the batch reads the view (paths come from recursive queries), and a
    refresh rebuilds the whole view, which would make large /operations batches slow.
    """
    pending: set[str] = set()
    token = _pending_refresh.set(pending)
    try:
        yield
    finally:
        _pending_refresh.reset(token)
    for project in sorted(pending):
        await conn.execute(f"REFRESH MATERIALIZED VIEW {schema(project)}.hierarchy")


async def project_exists(conn: asyncpg.Connection | asyncpg.Pool, project: str) -> bool:
    found = await conn.fetchval("SELECT name FROM public.projects WHERE name = $1", project)
    return found is not None


def constraint_error(exc: asyncpg.PostgresError, entity: str) -> ApiError:
    """AYON's 409 for a unique or foreign-key violation (ids appear in dashed form)."""
    match = _KEY_DETAIL.match(getattr(exc, "detail", None) or "")
    if match is None:
        return ApiError(409, str(exc))
    cols, vals, rest = match["cols"], match["vals"], match["rest"]
    if isinstance(exc, asyncpg.UniqueViolationError):
        return ApiError(
            409, f"{entity} with {cols} '{vals}' already exists.", error_code="unique-violation"
        )
    return ApiError(409, f"{cols} '{vals}' {rest}", error_code="foreign-key-violation")


@contextlib.asynccontextmanager
async def constraints_as_conflicts(entity: str) -> AsyncIterator[None]:
    """Turn unique and foreign-key violations raised inside the block into AYON's 409s."""
    try:
        yield
    except (asyncpg.UniqueViolationError, asyncpg.ForeignKeyViolationError) as exc:
        raise constraint_error(exc, entity) from exc
