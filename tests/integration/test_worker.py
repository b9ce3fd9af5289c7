"""End to end with real `kitsync worker` processes (Celery) on the real Redis: events go through
the webhook receiver, workers reconcile, AYON (fake, on the real Postgres) reaches the expected
tree; the same events again, shuffled, change nothing."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from kitsync.config import Settings
from kitsync.redis_keys import RedisKeys
from kitsync.worker.app import create_celery
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.runtime import redis_key_queue
from tests.expected import FILM_TREE
from tests.fakes.kitsu import FakeKitsu
from tests.fakes.serve import free_port
from tests.integration.processes import (
    post_events,
    served_receiver,
    until,
    worker_settings,
)
from tests.integration.sync_bed import SyncBed, sync_bed

pytestmark = pytest.mark.integration

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
SH0010 = "f48bffdc-4a40-4304-98f1-80af0adefec9"
SQ020 = "bf14a72b-5e28-4c74-97e6-c2c2d2d792b2"
SECRET = "test-webhook-secret"


@asynccontextmanager
async def running_workers(
    bed: SyncBed,
    redis_url: str,
    prefix: str,
    logs: Path,
    metrics_port: int,
    count: int = 2,
) -> AsyncIterator[tuple[Any, Settings, RedisKeyQueue]]:
    """Start ``count`` worker processes; yield (Celery app, settings, key queue) of theirs."""
    env = bed.worker_env(redis_url, prefix, SECRET)
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kitsync",
            "worker",
            "-c",
            "2",
            # The first worker also serves its processes' metrics.
            *(["--metrics-port", str(metrics_port)] if index == 0 else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / f"worker-{index}.log").open("wb"),
            start_new_session=True,
        )
        for index in range(count)
    ]
    settings = worker_settings(env)
    queue = redis_key_queue(settings)
    try:
        yield create_celery(settings), settings, queue
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                await asyncio.wait_for(worker.wait(), 20)
            except TimeoutError:
                os.killpg(worker.pid, signal.SIGKILL)
        await queue.close()


async def _idle(queue: RedisKeyQueue) -> bool:
    stats = await queue.stats()
    return stats.queued == 0 and not stats.processing


async def test_events_through_receiver_and_workers_converge_ayon(
    pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    metrics_port = free_port()
    fake = FakeKitsu.from_fixtures("film", "after_build")
    async with (
        sync_bed(pg_dsn, fake, FILM) as bed,
        running_workers(bed, redis_url, redis_prefix, tmp_path, metrics_port) as (
            celery,
            settings,
            queue,
        ),
    ):
        # The poller as a worker's very first task (its clients are made on demand).
        celery.send_task("kitsync.poll")
        polled = redis.asyncio.Redis.from_url(redis_url)

        async def poll_ran() -> bool:
            return bool(await polled.exists(RedisKeys(redis_prefix).poll_last))

        await until(poll_ran, tmp_path)
        await polled.aclose()
        with served_receiver(celery, settings, SECRET) as url:
            build = [e for e in fake.events() if e.get("project_id") == FILM]
            answer = await post_events(url, SECRET, build)
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == len(build)

            async def converged() -> bool:
                tree, tasks = await bed.tree(), await bed.tasks()
                (tmp_path / "state.log").write_text(
                    f"missing {set(FILM_TREE.items()) - set(tree.items())}\n"
                    f"extra {set(tree.items()) - set(FILM_TREE.items())}\ntasks {len(tasks)}\n"
                )
                return tree == FILM_TREE and len(tasks) == 48

            await until(converged, tmp_path)
            await until(lambda: _idle(queue), tmp_path)
            assert (await queue.stats()).dead == 0
            # Hashes are unique across AYON: another test may have recorded the same Kitsu
            # events first (into its own project), so look them up by hash alone.
            hashes = [f"kitsu.event.{e['id']}" for e in build]
            recorded = await bed.pool.fetch(
                "SELECT hash, sender, sender_type FROM public.events "
                "WHERE topic = 'kitsu.event' AND hash = ANY($1)",
                hashes,
            )
            assert {r["hash"] for r in recorded} == set(hashes)
            assert {(r["sender"], r["sender_type"]) for r in recorded} == {("kitsync", "kitsu")}
            changed = await bed.pool.fetchval(
                "SELECT count(*) FROM public.events WHERE topic = 'kitsync.reconcile' "
                "AND project_name = $1",
                bed.project,
            )
            assert changed > 0

            # The same events again: the receiver drops them as duplicates.
            again = await post_events(url, SECRET, build)
            assert again.json() == again.json() | {"accepted": 0, "duplicates": len(build)}

            # Shuffled straight into ingest (no dedupe): every key runs, nothing is written.
            writes = len(bed.ayon_writes())
            shuffled = build[:]
            random.Random(3).shuffle(shuffled)
            celery.send_task("kitsync.ingest", args=(shuffled, "test"))
            await asyncio.sleep(1.0)
            await until(lambda: _idle(queue), tmp_path)
            assert len(bed.ayon_writes()) == writes

            # Mutations: rename, move, cancel; their events through the receiver.
            mark = len(fake.events())
            fake.update_entity(SH0010, name="SH0011")
            sh0050 = next(s for s in await bed.ctx.kitsu.shots(FILM) if s.name == "SH0050")
            fake.update_entity(sh0050.id, parent_id="9c44efde-020e-4b15-8fe4-2bd0d55358bc")
            sh0060 = next(s for s in await bed.ctx.kitsu.shots(FILM) if s.name == "SH0060")
            fake.delete_entity(sh0060.id)  # has tasks: canceled
            answer = await post_events(url, SECRET, fake.events()[mark:])
            assert answer.status_code == 202

            async def mutated() -> bool:
                tree = await bed.tree()
                return (
                    "sequences/sq010/sh0011" in tree
                    and "sequences/sq010/sh0050" in tree
                    and tree.get("sequences/sq020/sh0060", ("", "", True))[2] is False
                )

            await until(mutated, tmp_path)

            # A full reconcile on the reconcile queue, shown as an AYON event.
            celery.send_task("kitsync.reconcile_project", args=(FILM,))

            async def synced() -> bool:
                status = await bed.pool.fetchval(
                    "SELECT status FROM public.events WHERE topic = 'kitsync.sync' "
                    "AND project_name = $1",
                    bed.project,
                )
                return status == "finished"

            await until(synced, tmp_path)

            # The first worker's processes, summed on its metrics port.
            async with httpx.AsyncClient() as client:
                scraped = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            assert 'kitsync_reconciles_total{kind="shot",outcome="changed"}' in scraped
            assert 'kitsync_requests_total{outcome="ok",service="ayon"}' in scraped
            assert "kitsync_event_to_commit_seconds_count" in scraped
