"""AYON -> Kitsu against the real Zou: a person changes a task's status and assignees in the fake
AYON; kitsync drains AYON's events and reconciles the task; the real Zou task has them, written
as Kitsu writes them (a status comment, assign / clear-assignation). Zou's events of those writes
then reconcile to "in step": no AYON write, no second Zou write.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from kitsync.ayon_to_kitsu import drain_ayon_events
from kitsync.config import load_settings
from kitsync.core.routing import Key, route
from kitsync.reconcile.context import SyncContext, open_context
from kitsync.reconcile.dispatch import reconcile_key
from kitsync.reconcile.project import reconcile_project
from kitsync.reconcile.result import ReconcileResult
from tests.e2e._bed import TIMINGS, Zou, kitsync_farm
from tests.e2e.test_zou_production import USERS, Scene, build_production
from tests.e2e.test_zou_production import scene as scene  # the fixture, shared
from tests.fakes.ayon import HUMAN_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def _reconcile(ctx: SyncContext, keys: Sequence[str | Key]) -> list[ReconcileResult]:
    return [await reconcile_key(ctx, Key.parse(str(key))) for key in sorted(map(str, keys))]


async def test_ayon_status_and_assignees_reach_the_real_zou_and_come_back_as_no_write(
    zou: Zou, scene: Scene, pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    production = await build_production(scene.kitsu, scene.project_id, scene.persons)
    async with kitsync_farm(
        zou, scene.project_id, pg_dsn, redis_url, redis_prefix, tmp_path, USERS,
        receiver=False, workers=0,
    ) as farm:  # fmt: skip
        settings = load_settings(
            **{k: v for k, v in farm.env.items() if k.startswith(("KITSU_", "AYON_", "KITSYNC_"))},
            ayon_to_kitsu=frozenset({"status", "assignees"}),
        )
        async with open_context(settings) as ctx:
            assert ctx.two_way is not None
            assert not (await reconcile_project(ctx, scene.project_id)).failures
            task_id = production.tasks["SQ010/SH0020/Layout"]
            ayon_task = await farm.pool.fetchval(
                f"SELECT id FROM project_{farm.project}.tasks WHERE data->>'kitsuId' = $1", task_id
            )
            since = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
            started = time.perf_counter()
            async with httpx.AsyncClient(base_url=farm.ayon_url) as ayon:
                answer = await ayon.patch(
                    f"/api/projects/{farm.project}/tasks/{ayon_task.hex}",
                    json={"status": "Done", "assignees": ["alice"]},
                    headers={"x-api-key": HUMAN_KEY},
                )
            assert answer.status_code == 204, answer.text

            keys: set[str] = set()

            async def queue_keys(new: Sequence[str]) -> None:
                keys.update(new)

            await drain_ayon_events(
                ctx.writer, ctx.reader, ctx.two_way.state, ctx.two_way.fields, queue_keys,
                sender_prefix=f"e2e-{farm.prefix}",
            )  # fmt: skip
            assert keys == {f"{scene.project_id}/task/{task_id}"}
            [pushed] = await _reconcile(ctx, sorted(keys))
            TIMINGS["AYON -> Zou: AYON PATCH to Zou written (drain + reconcile)"] = (
                time.perf_counter() - started
            )
            assert pushed.changes == {"kitsu status": 1, "kitsu assign": 1}

            zou_task = await scene.kitsu.call("GET", f"/data/tasks/{task_id}")
            statuses = await scene.kitsu.named("/data/task-status")
            assert zou_task["task_status_id"] == statuses["Done"]
            assert zou_task["assignees"] == [scene.persons["alice"]]
            comments = await scene.kitsu.call("GET", f"/data/tasks/{task_id}/comments")
            assert "in AYON by alice" in comments[0]["text"]

            # Zou's events of those writes: the same task key, in step, nothing written.
            events = [e async for e in ctx.kitsu.iter_events_since(since)]
            names = {event.name for event in events}
            assert {"comment:new", "task:status-changed", "task:assign"} <= names
            changes_before = await _entity_events(farm.pool, farm.project)
            results = await _reconcile(ctx, route(events).keys)
            assert {r.outcome for r in results} == {"in step"}
            assert await _entity_events(farm.pool, farm.project) == changes_before
            after = await scene.kitsu.call("GET", f"/data/tasks/{task_id}/comments")
            assert len(after) == len(comments)


async def _entity_events(pool: asyncpg.Pool, project: str) -> int:
    """AYON's change events of the project's entities: every write that changed one made one."""
    count: int = await pool.fetchval(
        "SELECT count(*) FROM public.events WHERE project_name = $1 AND topic LIKE 'entity.%'",
        project,
    )
    return count
