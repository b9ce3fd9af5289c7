"""Scenario: AYON -> Kitsu under faults. People change task statuses in AYON while kitsync runs
with ``KITSYNC_AYON_TO_KITSU=status,assignees``; AYON's events are drained into the key queue
with every key delivered one to three times in random order; Kitsu answers 5xx to a share of
requests; a worker is SIGKILLed mid-way. At the end Kitsu has every task's last AYON status, each
written once, and AYON equals a full sync of Kitsu's final state (both sides agree), with the
usual checks (no duplicates, no key reconciled twice at once, empty queue)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from kitsync.ayon import AyonReader, AyonWriter
from kitsync.ayon_to_kitsu import RedisSyncState, drain_ayon_events
from tests.fakes.ayon import HUMAN_KEY, SERVICE_KEY
from tests.faults._bed import FaultBed, fault_bed
from tests.integration.processes import until

pytestmark = pytest.mark.faults

CHANGES = 60


@pytest.fixture
async def two_way_bed(
    pg_dsn: str, redis_url: str, redis_prefix: str, reference_dsn: str, tmp_path: Path
) -> AsyncIterator[FaultBed]:
    env = {"KITSYNC_AYON_TO_KITSU": "status,assignees"}
    async with fault_bed(pg_dsn, redis_url, redis_prefix, tmp_path, reference_dsn, env=env) as bed:
        yield bed


async def test_ayon_changes_reach_kitsu_through_duplicates_kills_and_5xx(
    two_way_bed: FaultBed, seed: int
) -> None:
    bed, rng = two_way_bed, random.Random(seed)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    production = bed.new_production(shots=16, seed=seed)
    project = await bed.pair(production)
    answer = await bed.post(bed.events(production))  # built through the receiver
    assert answer.status_code == 202, answer.text
    await bed.converged(production, project)

    rows = await bed.pool.fetch(
        f"SELECT id, status, data->>'kitsuId' AS kitsu_id FROM project_{project}.tasks"
    )
    # The statuses the tasks use: Kitsu's, added to AYON's anatomy by the full sync.
    statuses = sorted({row["status"] for row in rows})
    tasks = {row["kitsu_id"]: row["id"].hex for row in rows}
    started = {row["kitsu_id"]: row["status"] for row in rows}
    current = dict(started)
    final: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=bed.ayon_url, headers={"x-api-key": HUMAN_KEY}) as ayon:
        for _ in range(CHANGES):
            kitsu_id = rng.choice(sorted(tasks))
            choices = [s for s in statuses if s != current[kitsu_id]]
            if not choices:
                continue
            status = rng.choice(choices)
            answer = await ayon.patch(
                f"/api/projects/{project}/tasks/{tasks[kitsu_id]}", json={"status": status}
            )
            assert answer.status_code == 204, answer.text
            current[kitsu_id] = final[kitsu_id] = status
    assert final, "the production has a single status: nothing to change"
    # The beat (the recovery of tasks lost with a killed worker) only now: its drains during
    # the changes would push intermediate values, a comment each, which the count below cannot
    # tell from duplicates (kitsync's behaviour then is pinned by the integration tests).
    await bed.start_beat()

    bed.kitsu.failure_rate(0.1, (500, 502, 503), seed=seed)
    await _drain_duplicated(bed, rng)
    await asyncio.sleep(rng.uniform(0.2, 1.0))
    killed = bed.kill(rng.choice(bed.workers))
    await bed.start_worker(concurrency=2)
    print(f"seed {seed}: {len(final)} tasks changed in AYON; killed {killed}")
    await asyncio.sleep(3.0)
    bed.kitsu.failure_rate(0)  # before the check's reference full sync reads Kitsu
    # Kitsu changes until the pushes are done: the check's reference is read after that.
    await until(bed.idle, bed.logs, 120, explain=lambda: "the key queue never emptied")
    await bed.converged(production, project)

    store = bed.kitsu._state.store
    names = {row["id"]: row["name"].lower() for row in store.task_statuses.values()}
    for kitsu_id, status in final.items():
        assert names[store.tasks[kitsu_id]["task_status_id"]] == status.lower(), kitsu_id
    changed = {kitsu_id for kitsu_id, status in final.items() if status != started[kitsu_id]}
    comments = [c["object_id"] for c in store.comments.values() if "in AYON by" in c["text"]]
    assert sorted(comments) == sorted(changed)  # one status write per changed task


async def _drain_duplicated(bed: FaultBed, rng: random.Random) -> None:
    """The beat's drain, in this process: each key queued and sent one to three times, in
    random order (duplicate and reordered deliveries)."""
    deliveries: list[str] = []

    async def queue_keys(keys: Sequence[str]) -> None:
        await bed.queue.add(list(keys))
        deliveries.extend(key for key in keys for _ in range(rng.randint(1, 3)))

    redis = aioredis.Redis.from_url(bed.redis_url)
    try:
        async with AyonWriter(bed.ayon_url, SERVICE_KEY) as writer:
            await drain_ayon_events(
                writer,
                AyonReader(bed.pool),
                RedisSyncState(redis, bed.prefix),
                frozenset({"status", "assignees"}),
                queue_keys,
                sender_prefix=f"faults-{uuid.uuid4().hex[:6]}",
            )
    finally:
        await redis.aclose()
    rng.shuffle(deliveries)
    for key in deliveries:
        bed.celery.send_task("kitsync.reconcile", args=(key,))
