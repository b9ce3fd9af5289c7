"""Scenario 3: Redis restarted in the middle of a stream of events.

The scenario runs its own ``redis-server`` on a free port (never the machine's), started with
``--appendonly yes`` as docker-compose's Redis is. A production's build events stream through the
receiver in batches; during a burst of batches Redis is stopped (SIGTERM, as ``docker restart``
does: it flushes its append-only file) while the posting goes on and Kitsu keeps changing, then
started again on the same port with the same data folder. Checked:

- the receiver answers only 202 or 503, every 503 with ``Retry-After``, and 202 again soon
  after Redis is back (its Redis client and Celery's producer reconnect by themselves);
- nothing answered 202 is lost: the build events predate the poller's cursor, so the receiver
  is their only way in (the scenario re-posts the batches refused with 503, as a sender that
  honours ``Retry-After`` does). The burst puts ingest tasks in the workers' hands as Redis
  goes: an ingest whose retry could not be published was lost (see ``REPUBLISH_POLICY``). It
  also catches submits in the middle: events marked as taken in before a publish that failed
  were dropped as already seen when re-posted (see ``kitsync.worker.sink``);
- the edits made in Kitsu while Redis was down, refused by the receiver and never re-posted (as
  the Zou plugin drops them), are brought in by the poller from Kitsu's event log;
- workers and beat reconnect by themselves, none stops (a worker running a task while waiting
  for the next one used to stop: see ``kitsync.worker.transport``); AYON ends equal to a full
  sync of Kitsu's final state with no dead letter and no key reconciled twice at once.

What kitsync promises when Redis restarts *without* persistence (everything in it lost: queued
tasks, the key queue, the dedupe marks, the poller's cursor): what Redis held is not kept, the
poller starts again at "now", and the scheduled full reconcile (or one asked for) repairs AYON;
what the receiver takes once Redis is back is not lost. The second test checks that promise.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults._bed import FaultBed, fault_bed
from tests.production_generator import GeneratedProduction
from tests.redis_server import RedisServer, private_redis

pytestmark = pytest.mark.faults

# Production seeds are the scenario's seed times 1000 plus a number of their own: one Kitsu
# project id per production across the session (the reference projects share one database).
BURST = 4  # batches posted at once just before Redis stops
REPOST_FOR = 20.0  # seconds the receiver may take to answer 202 again once Redis is back


@dataclass
class Posts:
    """What the receiver answered; the batches it refused that are to be sent again."""

    context: str
    statuses: list[int] = field(default_factory=list)
    no_retry_after: int = 0
    refused: list[list[dict[str, Any]]] = field(default_factory=list)

    async def send(self, bed: FaultBed, batch: list[dict[str, Any]], *, again: bool) -> int:
        """Post once; a refused batch is kept to send again if ``again``."""
        try:
            answer = await bed.post(batch)
        except httpx.HTTPError as error:  # the receiver itself must never go away
            raise AssertionError(f"{self.context}: receiver unreachable: {error!r}") from None
        self.statuses.append(answer.status_code)
        if answer.status_code == 503:
            if not answer.headers.get("retry-after", "").isdigit():
                self.no_retry_after += 1
            if again:
                self.refused.append(batch)
        return answer.status_code

    def check(self, *, refusals: bool) -> None:
        """Only 202 and 503, every 503 with Retry-After (and some 503 if ``refusals``)."""
        assert set(self.statuses) <= {202, 503}, f"{self.context}: receiver said {self.statuses}"
        assert not refusals or 503 in self.statuses, f"{self.context}: the outage refused nothing"
        assert self.no_retry_after == 0, f"{self.context}: 503 without Retry-After"

    async def deliver(self, bed: FaultBed, batch: list[dict[str, Any]]) -> None:
        """Post until the receiver takes it (Redis is up: soon)."""
        deadline = time.monotonic() + REPOST_FOR
        while await self.send(bed, batch, again=False) != 202:
            assert time.monotonic() < deadline, f"{self.context}: receiver still refuses"
            await asyncio.sleep(0.5)


def _check_alive(bed: FaultBed, context: str) -> None:
    """Workers and beat reconnected by themselves: none of them stopped."""
    for process in [*bed.workers, *([bed.beat] if bed.beat else [])]:
        code = process.process.returncode
        assert code is None, f"{context}: {process.name} stopped ({code}), see {process.name}.log"


def _batches(events: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    batches = []
    while events:
        size = rng.randint(3, 20)
        batches.append(events[:size])
        events = events[size:]
    return batches


def _edit(bed: FaultBed, production: GeneratedProduction, rng: random.Random, n: int) -> str:
    """One change in Kitsu (a rename, a new frame range, a new casting); what it was."""
    shot = rng.choice(production.shot_ids)
    match rng.randrange(3):
        case 0:
            bed.kitsu.update_entity(shot, name=f"SH9{n:04d}")
            return f"renamed {shot}"
        case 1:
            length = rng.randint(24, 240)
            bed.kitsu.update_entity(shot, data={"frame_in": 1001, "frame_out": 1000 + length})
            return f"frames of {shot}"
        case _:
            assets = rng.sample(production.asset_ids, rng.randint(0, 4))
            casting = [{"asset_id": a, "nb_occurences": rng.randint(1, 3)} for a in assets]
            bed.kitsu.set_casting(production.project_id, shot, casting)
            return f"recast {shot}"


@asynccontextmanager
async def _bed(
    pg_dsn: str,
    reference_dsn: str,
    prefix: str,
    tmp_path: Path,
    *,
    persistent: bool,
    productions: list[int],
) -> AsyncIterator[tuple[RedisServer, FaultBed, list[tuple[GeneratedProduction, str]]]]:
    """A bed on a private Redis, two workers, then productions (paired) built before the
    poller's first run, by more than its one-second overlap: the receiver is the only way in for
    their events; then the beat."""
    with private_redis(tmp_path / "redis", persistent=persistent) as server:
        async with fault_bed(pg_dsn, server.url, prefix, tmp_path, reference_dsn) as bed:
            for _ in range(2):
                await bed.start_worker(concurrency=2)
            made = []
            for seed in productions:
                production = bed.new_production(shots=24, seed=seed)
                made.append((production, await bed.pair(production)))
            await asyncio.sleep(1.2)
            await bed.start_beat()
            yield server, bed, made


async def test_redis_restart_with_append_only_file_loses_nothing(
    pg_dsn: str, reference_dsn: str, redis_prefix: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    async with _bed(
        pg_dsn,
        reference_dsn,
        redis_prefix,
        tmp_path,
        persistent=True,
        productions=[seed * 1000 + 31],
    ) as (redis_server, bed, [(production, project)]):
        batches = _batches(bed.events(production), rng)
        burst_at = rng.randrange(1, len(batches) // 2)
        outage = rng.uniform(2.0, 5.0)
        context = f"seed {seed}: Redis stopped in batches {burst_at}+{BURST} for {outage:.2f} s"
        print(context)
        posts = Posts(context)
        done: list[str] = []
        stopping = asyncio.Event()

        async def post_all() -> None:
            for batch in batches[:burst_at]:
                await posts.send(bed, batch, again=True)
                await asyncio.sleep(rng.uniform(0.0, 0.15))
            # A burst, and Redis stopped as soon as the first of it is answered: the others are
            # being queued, their ingest tasks being taken by the workers.
            burst = batches[burst_at : burst_at + BURST]
            sends = [asyncio.ensure_future(posts.send(bed, b, again=True)) for b in burst]
            await asyncio.wait(sends, return_when=asyncio.FIRST_COMPLETED)
            stopping.set()
            await asyncio.gather(*sends)
            for batch in batches[burst_at + BURST :]:
                await posts.send(bed, batch, again=True)
                await asyncio.sleep(rng.uniform(0.0, 0.15))

        async def edit() -> list[dict[str, Any]]:
            before = len(bed.kitsu.events())
            done.append(_edit(bed, production, rng, len(done)))
            return bed.kitsu.events()[before:]

        async def restart() -> None:
            await stopping.wait()
            await asyncio.to_thread(redis_server.stop)
            ended = time.monotonic() + outage
            while time.monotonic() < ended:  # Kitsu goes on; the receiver refuses its events
                events = await edit()
                if events:  # refused and left to the poller, as the Zou plugin leaves them
                    status = await posts.send(bed, events, again=False)
                    assert status == 503, f"{context}: {status} while Redis was down"
                await asyncio.sleep(rng.uniform(0.1, 0.4))
            await asyncio.to_thread(redis_server.start)

        await asyncio.gather(post_all(), restart())
        print(f"{context}; edits while down: {done}")
        # The refused build batches again, as a sender honouring Retry-After; then more edits
        # in Kitsu, through both ways in.
        for batch in posts.refused:  # build events, older than the poller's cursor
            await posts.deliver(bed, batch)
        for _ in range(3):
            if events := await edit():
                await posts.deliver(bed, events)

        posts.check(refusals=True)
        try:
            await bed.converged(production, project, seconds=75)
        except AssertionError as failure:
            raise AssertionError(f"{context}: {failure}") from None
        _check_alive(bed, context)


async def test_redis_restart_without_persistence_is_repaired_by_a_full_reconcile(
    pg_dsn: str, reference_dsn: str, redis_prefix: str, tmp_path: Path, seed: int
) -> None:
    """Redis comes back empty: what it held is lost (tasks, key queue, dedupe marks, the
    poller's cursor) and a full reconcile repairs it; what the receiver takes afterwards, even
    before the workers are back, is not lost."""
    rng = random.Random(seed + 1)
    async with _bed(
        pg_dsn,
        reference_dsn,
        redis_prefix,
        tmp_path,
        persistent=False,
        productions=[seed * 1000 + 32, seed * 1000 + 33],
    ) as (redis_server, bed, [(wiped, wiped_project), (later, later_project)]):
        batches = _batches(bed.events(wiped), rng)
        stop_at = rng.randrange(1, len(batches))
        context = f"seed {seed}: Redis wiped after {stop_at} of {len(batches)} batches"
        print(context)
        posts = Posts(context)
        for batch in batches[:stop_at]:
            await posts.send(bed, batch, again=False)
            await asyncio.sleep(rng.uniform(0.0, 0.15))
        await asyncio.to_thread(redis_server.stop)
        for batch in batches[stop_at:]:  # refused, and not sent again: the repair's to do
            assert await posts.send(bed, batch, again=False) == 503, context
        await asyncio.to_thread(redis_server.start)
        # At once, while the workers and the beat may still be reconnecting.
        for batch in _batches(bed.events(later), rng):
            await posts.deliver(bed, batch)

        posts.check(refusals=True)
        try:
            await bed.converged(later, later_project, seconds=60)
            # What the scheduled full reconcile does (KITSYNC_FULL_SYNC_INTERVAL), asked now.
            bed.celery.send_task("kitsync.reconcile_project", args=(wiped.project_id,))
            await bed.converged(wiped, wiped_project, seconds=60)
        except AssertionError as failure:
            raise AssertionError(f"{context}: {failure}") from None
        _check_alive(bed, context)
