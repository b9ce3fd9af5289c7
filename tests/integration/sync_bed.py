"""A test bed for the reconcilers: fake Kitsu + fake AYON on the real Postgres, real clients.

``SyncBed`` serves a FakeKitsu and the fake AYON, deploys a paired AYON project of its own, and
gives a SyncContext wired to them exactly as production wires its clients.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from kitsync.ayon import AyonReader, AyonWriter
from kitsync.kitsu import KitsuClient
from kitsync.tasks.context import SyncContext
from tests.fakes.ayon import SERVICE_KEY, create_app, create_project
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import serve

USERS = {"alice": "alice.anders@example.com", "bruno": "bruno.baptiste@example.com"}


@dataclass
class SyncBed:
    kitsu: FakeKitsu
    ayon_app: Any
    kitsu_url: str
    ayon_url: str
    project: str
    pool: asyncpg.Pool
    ctx: SyncContext

    def ayon_writes(self) -> list[tuple[str, str]]:
        """Requests that can change AYON's entities (not reads, not kitsync's event records)."""
        return [
            (method, path)
            for method, path in self.ayon_app.state.requests
            if method != "GET" and not path.startswith("/api/events")
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


@asynccontextmanager
async def sync_bed(
    pg_dsn: str, kitsu: FakeKitsu, kitsu_project: str, *, project: str | None = None
) -> AsyncIterator[SyncBed]:
    """A bed with a new AYON project paired with ``kitsu_project`` (or the given ``project``
    again). The project is deactivated on exit, so other tests can pair the same Kitsu id."""
    app = create_app(pg_dsn)
    async with AsyncExitStack() as stack:
        ayon_url = stack.enter_context(serve(app))
        kitsu_url = stack.enter_context(serve(kitsu.app))
        pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        if project is None:
            project = f"kitsync_{uuid.uuid4().hex[:10]}"
            await create_project(pg_dsn, project, data={"kitsuProjectId": kitsu_project})
        await pool.execute("UPDATE public.projects SET active = true WHERE name = $1", project)
        stack.push_async_callback(
            pool.execute, "UPDATE public.projects SET active = false WHERE name = $1", project
        )
        for name, email in USERS.items():
            await pool.execute(
                """INSERT INTO public.users (name, attrib, data) VALUES ($1, $2::jsonb, '{}')
                   ON CONFLICT (name)
                   DO UPDATE SET attrib = public.users.attrib || EXCLUDED.attrib""",
                name,
                json.dumps({"email": email}),
            )
        client = await stack.enter_async_context(KitsuClient(kitsu_url, bot_token=BOT_TOKEN))
        writer = await stack.enter_async_context(AyonWriter(ayon_url, SERVICE_KEY))
        ctx = SyncContext(kitsu=client, reader=AyonReader(pool), writer=writer)
        yield SyncBed(kitsu, app, kitsu_url, ayon_url, project, pool, ctx)
