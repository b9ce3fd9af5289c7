"""The two read paths side by side on one fake AYON: the SQL reader and the API reader give the
same answers to every read kitsync makes, the same full-reconcile plan, and a read that fails
half way through the API never reaches the planner (no write, let alone a delete)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from kitsync.ayon import (
    ApiReader,
    AyonAuthError,
    AyonReader,
    AyonReads,
    AyonUnavailable,
    GraphQL,
)
from kitsync.core.ids import ayon_id
from kitsync.reconcile.project import reconcile_project
from kitsync.schemas.ayon import BREAKDOWN
from tests.expected import FILM_TREE
from tests.fakes.ayon import SERVICE_KEY
from tests.fakes.kitsu import FakeKitsu
from tests.integration.sync_bed import SyncBed, sync_bed

pytestmark = pytest.mark.integration

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"


async def _film_with_strays(bed: SyncBed) -> dict[str, str]:
    """The film synced, plus what only ayon-kitsu or an artist would leave: a folder adopted
    from ayon-kitsu (random id, ``data.kitsuId``), an inactive one, a product, a stray link."""
    await reconcile_project(bed.ctx, FILM)
    folders = {f.path: f for f in await bed.ctx.reader.project_folders(bed.project)}
    shot, asset = folders["sequences/sq010/sh0010"], folders["assets/prop/goblet"]
    adopted, retired = uuid.uuid4().hex, uuid.uuid4().hex
    operations = [
        {
            "type": "create",
            "entityType": "folder",
            "entityId": adopted,
            "data": {
                "name": "legacy",
                "folderType": "Asset",
                "parentId": asset.parent_id,
                "data": {"kitsuId": "k-legacy"},
                "attrib": {"fps": 12.5},
            },
        },
        {
            "type": "create",
            "entityType": "folder",
            "entityId": retired,
            "data": {"name": "retired", "folderType": "Shot", "active": False},
        },
        {
            "type": "create",
            "entityType": "product",
            "data": {"name": "modelMain", "folderId": asset.id, "productType": "model"},
        },
    ]
    async with httpx.AsyncClient(
        base_url=bed.ayon_url, headers={"x-api-key": SERVICE_KEY}
    ) as client:
        done = await client.post(
            f"/api/projects/{bed.project}/operations", json={"operations": operations}
        )
        assert done.json()["success"], done.text
        stray = {"input": adopted, "output": shot.id, "linkType": BREAKDOWN, "name": "stray"}
        assert (await client.post(f"/api/projects/{bed.project}/links", json=stray)).is_success
    return {"shot": shot.id, "asset": asset.id, "adopted": adopted, "retired": retired}


async def test_both_read_paths_answer_alike(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        ids = await _film_with_strays(bed)
        graphql = GraphQL(bed.ayon_url, SERVICE_KEY)
        api: AyonReads = ApiReader(graphql, page_size=7)  # small pages: many of them
        sql: AyonReads = AyonReader(bed.pool)
        paged: AyonReads = AyonReader(bed.pool, page_size=7)  # whole-project reads in pages
        p = bed.project
        folders = await sql.project_folders(p)
        kitsu_ids = [f.kitsu_id for f in folders if f.kitsu_id] + ["k-legacy", "k-none"]
        tasks = await sql.project_tasks(p)
        task_kitsu_ids = [*[t.kitsu_id for t in tasks if t.kitsu_id][:20], "k-none"]
        everything = [f.id for f in folders]
        reads: dict[str, Callable[[AyonReads], Awaitable[Any]]] = {
            "paired_projects": lambda r: r.paired_projects(),
            "paired_project": lambda r: r.paired_project(FILM),
            "projects": lambda r: r.projects(),
            "project_summary": lambda r: r.project_summary(p),
            "users_by_email": lambda r: r.users_by_email(
                ["Alice.Anders@example.com", "bruno.baptiste@example.com", "nobody@x.y"]
            ),
            "anatomy": lambda r: r.anatomy(p),
            "folders_by_kitsu_ids": lambda r: r.folders_by_kitsu_ids(p, kitsu_ids),
            "tasks_by_kitsu_ids": lambda r: r.tasks_by_kitsu_ids(p, task_kitsu_ids),
            "project_folders": lambda r: r.project_folders(p),
            "project_tasks": lambda r: r.project_tasks(p),
            "folders_by_ids": lambda r: r.folders_by_ids(p, [*everything[:9], "f" * 32]),
            "children": lambda r: r.children(p, [None, ids["asset"], folders[0].id]),
            "tasks_of_folders": lambda r: r.tasks_of_folders(p, everything),
            "folders_with_products": lambda r: r.folders_with_products(p, everything),
            "subtree_ids": lambda r: r.subtree_ids(p, [folders[0].id, ids["retired"]]),
            "links_into": lambda r: r.links_into(
                p, [ids["shot"]], or_ids=[ayon_id("no-such-link")]
            ),
            "links_of_type": lambda r: r.links_of_type(p),
            "links_touching": lambda r: r.links_touching(p, [ids["adopted"], ids["asset"]]),
        }
        try:
            for name, read in reads.items():
                from_sql, from_api = await read(sql), await read(api)
                assert from_api == from_sql, (name, from_sql, from_api)
                assert await read(paged) == from_sql, name
                assert from_sql or name == "users_by_email", f"{name} read nothing"
            # Both see the strays, so the comparison above covers them.
            by_kitsu = await api.folders_by_kitsu_ids(p, ["k-legacy"])
            assert by_kitsu["k-legacy"].id == ids["adopted"]
            assert by_kitsu["k-legacy"].attrib == {"fps": 12.5}
            assert await api.folders_with_products(p, [folders[0].id]) == {folders[0].id}
        finally:
            await graphql.aclose()


async def test_both_read_paths_plan_alike(pg_dsn: str) -> None:
    mutated = FakeKitsu.from_fixtures("film", "after_mutations")
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as built:
        await _film_with_strays(built)
    plans = {}
    for path in ("sql", "api"):
        async with sync_bed(pg_dsn, mutated, FILM, project=built.project, reads=path) as bed:
            report = await reconcile_project(bed.ctx, FILM, dry_run=True, itemize=True)
            plans[path] = (report.planned, dict(report.changes))
    assert plans["api"] == plans["sql"]
    assert plans["sql"][1].get("delete folder", 0) + plans["sql"][1]["deactivate folder"] > 0


class _FailingTransport(httpx.AsyncBaseTransport):
    """The real transport, but the ``nth`` GraphQL request named ``name`` gets ``answer``."""

    def __init__(self, name: str, nth: int, answer: Callable[[], httpx.Response]) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self._name, self._nth, self._answer = name, nth, answer
        self.seen = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/graphql":
            body = json.loads(request.content)
            if body.get("operationName") == self._name:
                self.seen += 1
                if self.seen >= self._nth:
                    return self._answer()
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


def _timeout() -> httpx.Response:
    raise httpx.ReadTimeout("the page timed out")


def _revoked() -> httpx.Response:
    return httpx.Response(401, json={"code": 401, "detail": "Invalid session"})


@pytest.mark.parametrize(
    ("answer", "error"), [(_timeout, AyonUnavailable), (_revoked, AyonAuthError)]
)
async def test_a_read_cut_half_way_plans_and_writes_nothing(
    pg_dsn: str, answer: Callable[[], httpx.Response], error: type[Exception]
) -> None:
    """Kitsu no longer has the film's assets; AYON's folder list fails on its third page (a
    timeout, or the key revoked). Planned from the pages read so far, the reconcile would
    delete or recreate; it must fail whole instead."""
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await reconcile_project(bed.ctx, FILM)
        writes = len(bed.ayon_writes())
        transport = _FailingTransport("Folders", 3, answer)
        graphql = GraphQL(bed.ayon_url, SERVICE_KEY, transport=transport, retry_delay=0)
        bed.ctx = bed.ctx.__class__(
            kitsu=bed.ctx.kitsu, reader=ApiReader(graphql, page_size=5), writer=bed.ctx.writer
        )
        try:
            with pytest.raises(error):
                await reconcile_project(bed.ctx, FILM)
        finally:
            await graphql.aclose()
        assert bed.ayon_writes()[writes:] == []
        assert await bed.tree() == FILM_TREE
