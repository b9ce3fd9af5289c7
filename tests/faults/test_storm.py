"""Scenario 8: a storm while kitsync was down. Workers and beat stopped; in Kitsu every shot is
renamed and re-framed, every task's status changed and every shot's casting replaced, round after
round, until ``KITSYNC_STORM_EVENTS`` events (default 3,000 here; bench/storm.py runs 20,000)
wait in Kitsu's event log. Then kitsync starts again and the poller finds them all at once.

AYON must end equal to a full sync of Kitsu's final state, every storm event ingested exactly
once, no ingest retried; the number of AYON requests per event, the time to converge and the
workers' CPU are printed.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from kitsync.kitsu import KitsuClient
from kitsync.worker.names import EVENTS_QUEUE, POLL_QUEUE, RECONCILE_PROJECT, RECONCILE_QUEUE
from tests.fakes.kitsu import BOT_TOKEN
from tests.fakes.serve import free_port
from tests.faults._bed import FaultBed
from tests.integration.processes import until
from tests.proc import group_cpu_seconds

pytestmark = pytest.mark.faults

STORM_EVENTS = int(os.environ.get("KITSYNC_STORM_EVENTS", "3000"))
INGESTED = re.compile(r"ingest from (?P<source>\S+): (?P<events>\d+) events")


async def test_a_storm_of_events_while_kitsync_was_down(bed: FaultBed, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    await bed.start_beat()
    polled_from = len(bed.kitsu.events())  # the poller's first cursor: Kitsu's newest event
    production = bed.new_production(shots=max(24, STORM_EVENTS // 50), seed=seed)
    project = await bed.pair(production)
    bed.celery.send_task(RECONCILE_PROJECT, args=(production.project_id,))
    await bed.converged(production, project, seconds=300)

    await bed.stop()  # kitsync down; the poller's cursor stays in Redis
    async with KitsuClient(bed.kitsu_url, bot_token=BOT_TOKEN) as kitsu:
        tasks = [task.id for task in await kitsu.tasks(production.project_id)]
        statuses = [status.id for status in await kitsu.task_statuses(production.project_id)]
    start = len(bed.kitsu.events())
    rounds = 0
    while len(bed.events(production, since=start)) < STORM_EVENTS:
        rounds += 1
        for number, shot in enumerate(production.shot_ids, 1):
            length = rng.randint(24, 240)
            bed.kitsu.update_entity(
                shot,
                name=f"SH{number * 10:05d}_r{rounds}",
                nb_frames=length,
                data={"frame_in": 1001, "frame_out": 1000 + length},
            )
        for task in tasks:
            bed.kitsu.set_task_status(task, rng.choice(statuses))
        for shot in production.shot_ids:
            cast = rng.sample(production.asset_ids, rng.randint(1, 6))
            bed.kitsu.set_casting(
                production.project_id,
                shot,
                [{"asset_id": asset, "nb_occurences": rng.randint(1, 3)} for asset in cast],
            )
    storm = bed.events(production, since=start)
    requests_before = len(bed.ayon_app.state.requests)

    started = time.monotonic()
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    await bed.start_beat()
    pgids = {process.pid for process in bed.workers}
    async with flower(bed) as flower_url:
        await asyncio.sleep(5)  # the storm is being ingested: a TD opens Flower's Broker page
        async with httpx.AsyncClient(base_url=flower_url, timeout=30) as browser:
            broker = (await browser.get("/broker")).text
        await bed.converged(production, project, seconds=900)
    elapsed = time.monotonic() - started
    assert "not supported" not in broker
    for queue in (POLL_QUEUE, EVENTS_QUEUE, RECONCILE_QUEUE):  # a row each, with its length
        assert re.search(rf"<td>{re.escape(queue)}</td>\s*<td[^>]*>\s*\d+", broker), queue
    cpu = group_cpu_seconds(pgids)
    ayon_requests = len(bed.ayon_app.state.requests) - requests_before

    expected = len(bed.kitsu.events()) - polled_from  # the build's and the storm's

    def logs() -> str:
        return "".join(path.read_text(errors="replace") for path in bed.logs.glob("*.log"))

    def ingested() -> int:
        lines = INGESTED.finditer(logs())
        return sum(int(line["events"]) for line in lines if line["source"] != "delete-recheck")

    async def all_ingested() -> bool:
        return ingested() >= expected

    # AYON converges once the keys ran; the ingests may still be recording their events.
    await until(all_ingested, bed.logs, 300, explain=lambda: f"{ingested()} of {expected}")
    await asyncio.sleep(2)
    assert ingested() == expected  # every event exactly once
    recorded = time.monotonic() - started
    cpu = group_cpu_seconds(pgids)
    ayon_requests = len(bed.ayon_app.state.requests) - requests_before
    assert not re.search(r"kitsync\.ingest\[[^\]]+\] retry", logs()), "an ingest was retried"
    print(
        f"\nstorm: {len(storm)} events ({rounds} rounds on {production.describe()}): "
        f"AYON converged in {elapsed:.1f} s, every event recorded in {recorded:.1f} s; "
        f"{ayon_requests} AYON requests "
        f"({ayon_requests / len(storm):.2f} per event), workers' CPU {cpu:.1f} s "
        f"({1000 * cpu / len(storm):.1f} ms per event)"
    )


@asynccontextmanager
async def flower(bed: FaultBed) -> AsyncIterator[str]:
    """Flower on the bed's broker, as a TD runs it (``celery -A kitsync.worker.celery_app``)."""
    port = free_port()
    log = (bed.logs / "flower.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "celery",
        "-A",
        "kitsync.worker.celery_app",
        "flower",
        f"--port={port}",
        "--address=127.0.0.1",
        env=bed.env,
        cwd=bed.logs,
        stdout=log,
        stderr=log,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"

    async def answers() -> bool:
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                return (await client.get("/healthcheck")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await until(answers, bed.logs, 60, explain=lambda: "Flower did not start")
        yield url
    finally:
        process.terminate()
        await process.wait()
