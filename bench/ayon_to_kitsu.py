"""AYON -> Kitsu on the fakes: latency of one AYON change to its Kitsu write, requests per
change on each side (the ping-pong check), and a burst's throughput against single changes.

One run: the film fixture production in the fake Kitsu, the fake AYON on a database of its own,
the bases in Redis (db 12, a prefix of its own, deleted at the end). Each single change is a
person's PATCH in AYON followed at once by what the beat and a worker do (drain AYON's events,
reconcile the keys); the beat's own wait (``KITSYNC_AYON_EVENTS_INTERVAL``, half of it on
average) comes on top. Then the Kitsu events of those writes are reconciled too, to count any
write they cause.

    .venv/bin/python bench/ayon_to_kitsu.py [--changes 60] [--burst 500]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis
from _common import RESULTS, bench_database, run_and_report

from kitsync.ayon_to_kitsu import RedisSyncState, TwoWay, drain_ayon_events
from kitsync.core.routing import Key, route
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.dispatch import reconcile_key
from kitsync.reconcile.project import reconcile_project
from tests.fakes.ayon import HUMAN_KEY
from tests.fakes.kitsu import FakeKitsu
from tests.integration.sync_bed import SyncBed, sync_bed

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
STATUSES = ["Work In Progress", "Waiting For Approval", "Done", "Retake"]
FIELDS = frozenset({"status", "assignees"})
REDIS = "redis://127.0.0.1:6379/12"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _kitsu_writes(kitsu: FakeKitsu) -> int:
    return sum(method in WRITES and "auth" not in path for method, path in kitsu.requests)


def _ayon_entity_writes(bed: SyncBed) -> int:
    return sum(path != "/api/enroll" for _, path in bed.ayon_writes())


async def _round(ctx: SyncContext, state: RedisSyncState) -> int:
    """The beat's drain and the worker's reconciles; how many keys."""
    keys: set[str] = set()

    async def queue_keys(new: Sequence[str]) -> None:
        keys.update(new)

    assert ctx.two_way is not None
    await drain_ayon_events(ctx.writer, ctx.reader, state, FIELDS, queue_keys)
    for key in sorted(keys):
        await reconcile_key(ctx, Key.parse(key))
    return len(keys)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    prefix = f"kitsync_bench_{uuid.uuid4().hex[:8]}:"
    redis = aioredis.Redis.from_url(REDIS)
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    try:
        async with bench_database() as dsn, sync_bed(dsn, kitsu, FILM) as bed:
            state = RedisSyncState(redis, prefix)
            ctx = replace(bed.ctx, two_way=TwoWay(FIELDS, state))
            await reconcile_project(ctx, FILM)
            await _round(ctx, state)
            rows = await bed.pool.fetch(
                f"SELECT id, status, data->>'kitsuId' AS kitsu_id FROM project_{bed.project}.tasks"
            )
            tasks = {row["kitsu_id"]: (row["id"].hex, row["status"]) for row in rows}
            current = {kitsu_id: status for kitsu_id, (_, status) in tasks.items()}
            client = httpx.AsyncClient(base_url=bed.ayon_url, headers={"x-api-key": HUMAN_KEY})

            async def change() -> None:
                kitsu_id = rng.choice(sorted(tasks))
                status = rng.choice([s for s in STATUSES if s != current[kitsu_id]])
                path = f"/api/projects/{bed.project}/tasks/{tasks[kitsu_id][0]}"
                answer = await client.patch(path, json={"status": status})
                answer.raise_for_status()
                current[kitsu_id] = status

            latencies: list[float] = []
            since = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
            kitsu_before, ayon_before = _kitsu_writes(kitsu), _ayon_entity_writes(bed)
            for _ in range(args.changes):
                started = time.perf_counter()
                await change()
                await _round(ctx, state)
                latencies.append(time.perf_counter() - started)
            kitsu_single = _kitsu_writes(kitsu) - kitsu_before
            ayon_single = _ayon_entity_writes(bed) - ayon_before - args.changes  # the PATCHes
            # Kitsu's events of those writes, as the poller would bring them: reconciled too.
            events = [e async for e in ctx.kitsu.iter_events_since(since)]
            back = route(events).keys
            writes_before = _kitsu_writes(kitsu), _ayon_entity_writes(bed)
            echoes = [await reconcile_key(ctx, key) for key in back]
            echo_writes = (
                _kitsu_writes(kitsu) - writes_before[0],
                _ayon_entity_writes(bed) - writes_before[1],
            )

            for _ in range(args.burst):
                await change()
            started = time.perf_counter()
            keys = await _round(ctx, state)
            burst_seconds = time.perf_counter() - started
            await client.aclose()
    finally:
        await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}*")] or [prefix])
        await redis.aclose()
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    single_rate = len(latencies) / sum(latencies)
    return {
        "changes": args.changes,
        "latency_p50_ms": round(p50 * 1000, 1),
        "latency_p95_ms": round(p95 * 1000, 1),
        "p95_over_p50": round(p95 / p50, 2),
        "kitsu_writes_per_change": kitsu_single / args.changes,
        "ayon_writes_per_change": ayon_single / args.changes,
        "kitsu_event_keys_reconciled": len(back),
        "their_outcomes": sorted({r.outcome for r in echoes}),
        "writes_caused_by_kitsu_events": {"kitsu": echo_writes[0], "ayon": echo_writes[1]},
        "burst_changes": args.burst,
        "burst_keys": keys,
        "burst_seconds": round(burst_seconds, 2),
        "burst_changes_per_second_over_single": round(args.burst / burst_seconds / single_rate, 2),
    }


def show(result: dict[str, Any]) -> None:
    print(f"{result['changes']} single AYON status changes, each drained and reconciled at once:")
    print(f"  latency AYON PATCH -> Kitsu write: p50 {result['latency_p50_ms']} ms, "
          f"p95 {result['latency_p95_ms']} ms (p95/p50 {result['p95_over_p50']})")  # fmt: skip
    print(f"  per change: {result['kitsu_writes_per_change']:.2f} Kitsu writes, "
          f"{result['ayon_writes_per_change']:.2f} AYON writes")  # fmt: skip
    echoes = result["writes_caused_by_kitsu_events"]
    print(f"  Kitsu's events of those writes: {result['kitsu_event_keys_reconciled']} keys, "
          f"{result['their_outcomes']}, writes {echoes}")  # fmt: skip
    print(f"burst: {result['burst_changes']} changes -> {result['burst_keys']} keys in "
          f"{result['burst_seconds']} s: {result['burst_changes_per_second_over_single']}x the "
          "changes per second of single changes")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--output", default=str(RESULTS / "ayon_to_kitsu.json"))
    run_and_report(parser.parse_args(), bench, show)
