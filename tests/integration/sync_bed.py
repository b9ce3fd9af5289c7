"""A test bed for the reconcilers: fake Kitsu + fake AYON on the real Postgres, real clients.

``SyncBed`` serves a FakeKitsu and the fake AYON, deploys a paired AYON project of its own, and
gives a SyncContext wired to them exactly as production wires its clients: AYON read through
its database (``"sql"``) or through its API (``"api"``). Tests that read AYON run both ways
(the ``read_path`` fixture of ``tests/conftest.py``), proving equal plans.

The fault tier and the benchmarks make their beds from the same parts: ``serve_fakes`` (both
fakes served, a pool on AYON's database, the users of the recorded data) and ``sync_context``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from kitsync.ayon import ApiReader, AyonReader, AyonReads, AyonWriter, GraphQL
from kitsync.kitsu import KitsuClient
from kitsync.reconcile.context import SyncContext
from tests.expected import USERS
from tests.fakes.ayon import SERVICE_KEY, add_users, create_app, create_project
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import serve
from tests.integration.processes import worker_env
from tests.read_paths import ReadPath, current_read_path


@dataclass
class SyncBed:
    kitsu: FakeKitsu
    ayon_app: Any
    kitsu_url: str
    ayon_url: str
    pg_dsn: str
    project: str
    pool: asyncpg.Pool
    ctx: SyncContext
    read_path: ReadPath = "sql"

    def worker_env(self, redis_url: str, prefix: str, webhook_secret: str) -> dict[str, str]:
        """The environment of a kitsync process against this bed's fakes, reading AYON the
        bed's way."""
        return worker_env(
            kitsu_url=self.kitsu_url,
            ayon_url=self.ayon_url,
            pg_dsn=self.pg_dsn if self.read_path == "sql" else None,
            redis_url=redis_url,
            prefix=prefix,
            webhook_secret=webhook_secret,
        )

    def ayon_reads(self, since: int = 0) -> list[tuple[str, str]]:
        """The API reader's requests (GraphQL, and GET of the project for its anatomy) from
        ``since`` on; none when the bed reads through SQL."""
        if self.read_path != "api":
            return []
        project = f"/api/projects/{self.project}"
        return [
            (method, path)
            for method, path in self.ayon_app.state.requests[since:]
            if (method, path) in (("POST", "/graphql"), ("GET", project))
        ]

    def ayon_requests(self, since: int = 0) -> list[tuple[str, str]]:
        """Every AYON request from ``since`` on but the reader's."""
        requests = self.ayon_app.state.requests[since:]
        for read in self.ayon_reads(since):
            requests.remove(read)
        return requests

    def ayon_writes(self) -> list[tuple[str, str]]:
        """Requests that can change AYON's entities (not reads, GraphQL reads included, not
        kitsync's event records)."""
        return [
            (method, path)
            for method, path in self.ayon_app.state.requests
            if method != "GET" and path != "/graphql" and not path.startswith("/api/events")
        ]

    async def tree(self) -> dict[str, tuple[str, str, bool]]:
        """path -> (folder type, label, active) of every folder of the project."""
        rows = await self.pool.fetch(
            f"""WITH RECURSIVE t AS (
                  SELECT id, name::text AS path, folder_type, label, active
                  FROM project_{self.project}.folders WHERE parent_id IS NULL
                  UNION ALL
                  SELECT f.id, t.path || '/' || f.name, f.folder_type, f.label, f.active
                  FROM project_{self.project}.folders f JOIN t ON f.parent_id = t.id)
                SELECT path, folder_type, label, active FROM t"""
        )
        return {r["path"]: (r["folder_type"], r["label"] or "", r["active"]) for r in rows}

    async def folder(self, kitsu_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT * FROM project_{self.project}.folders WHERE data->>'kitsuId' = $1", kitsu_id
        )
        assert row is not None, f"no folder for Kitsu id {kitsu_id}"
        return {k: json.loads(v) if k in ("attrib", "data") else v for k, v in row.items()}

    async def tasks(self) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        """'<folder kitsu id>/<task name>' -> (task type, status, assignees)."""
        rows = await self.pool.fetch(
            f"""SELECT f.data->>'kitsuId' AS folder, t.name, t.task_type, t.status, t.assignees
                FROM project_{self.project}.tasks t
                JOIN project_{self.project}.folders f ON f.id = t.folder_id"""
        )
        return {
            f"{r['folder']}/{r['name']}": (r["task_type"], r["status"], tuple(r["assignees"]))
            for r in rows
        }


@dataclass(frozen=True)
class ServedFakes:
    kitsu_url: str
    ayon_url: str
    pool: asyncpg.Pool
    """On AYON's database."""


async def serve_fakes(
    stack: AsyncExitStack, pg_dsn: str, kitsu: FakeKitsu, ayon_app: Any
) -> ServedFakes:
    """Serve ``kitsu`` and ``ayon_app`` (the fake AYON on ``pg_dsn``, or a wrapper of it) until
    ``stack`` closes; add the users of the recorded data to AYON."""
    ayon_url = stack.enter_context(serve(ayon_app))
    kitsu_url = stack.enter_context(serve(kitsu.app))
    pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4)
    stack.push_async_callback(pool.close)
    await add_users(pg_dsn, USERS)
    return ServedFakes(kitsu_url, ayon_url, pool)


async def sync_context(
    stack: AsyncExitStack,
    kitsu_url: str,
    ayon_url: str,
    pool: asyncpg.Pool,
    read_path: ReadPath = "sql",
) -> SyncContext:
    """The reconcilers' clients, as production wires them, open until ``stack`` closes."""
    client = await stack.enter_async_context(KitsuClient(kitsu_url, bot_token=BOT_TOKEN))
    writer = await stack.enter_async_context(AyonWriter(ayon_url, SERVICE_KEY))
    reader: AyonReads
    if read_path == "api":
        graphql = GraphQL(ayon_url, SERVICE_KEY)
        stack.push_async_callback(graphql.aclose)
        reader = ApiReader(graphql)
    else:
        reader = AyonReader(pool)
    return SyncContext(kitsu=client, reader=reader, writer=writer)


@asynccontextmanager
async def sync_bed(
    pg_dsn: str,
    kitsu: FakeKitsu,
    kitsu_project: str,
    *,
    project: str | None = None,
    ayon_app: Any = None,
    reads: ReadPath | None = None,
) -> AsyncIterator[SyncBed]:
    """A bed with a new AYON project paired with ``kitsu_project`` (or the given ``project``
    again). The project is deactivated on exit, so other tests can pair the same Kitsu id.
    ``ayon_app`` serves the fake AYON in a wrapper of the caller's (the benchmarks time it);
    ``reads`` defaults to the test's read path."""
    app = ayon_app or create_app(pg_dsn)
    async with AsyncExitStack() as stack:
        fakes = await serve_fakes(stack, pg_dsn, kitsu, app)
        if project is None:
            project = f"kitsync_{uuid.uuid4().hex[:10]}"
            await create_project(pg_dsn, project, data={"kitsuProjectId": kitsu_project})
        await fakes.pool.execute(
            "UPDATE public.projects SET active = true WHERE name = $1", project
        )
        stack.push_async_callback(
            fakes.pool.execute,
            "UPDATE public.projects SET active = false WHERE name = $1",
            project,
        )
        read_path = reads or current_read_path()
        ctx = await sync_context(stack, fakes.kitsu_url, fakes.ayon_url, fakes.pool, read_path)
        yield SyncBed(
            kitsu, app, fakes.kitsu_url, fakes.ayon_url, pg_dsn, project, fakes.pool, ctx, read_path
        )
