"""The cluster-wide budget under a storm: 8 processes against an AYON that serves K at once.

A fake AYON (in this process, a thread) serves at most ``--capacity`` requests at once, each
taking ``--service-ms``; requests beyond that queue inside it, as they do in a real AYON with a
fixed number of workers, and wait there in front of every person's request too. Eight processes
(``--processes``) each open kitsync's own clients exactly as a worker process does
(``open_context``: the AYON HTTP client under the Redis budget, the AYON database pool of
``KITSYNC_AYON_DB_POOL``) and write ``--events`` AYON events between them (a storm), each with
``--fan-out`` concurrent writers, while also reading AYON's database as hard as their pool lets
them. One row per budget setting (``--budgets``; 1000 stands for "unbounded"), all in one run:

- throughput (requests/s AYON answered between the 10th and the 90th percent of the storm, so
  the processes' start-up and last stragglers stay out) and its ratio to the best row;
- the peak number of kitsync requests inside AYON (counted by the fake AYON itself) and of slots
  held in Redis (sampled): (a) neither may exceed the budget;
- a probe: the median and p95 time of one light GET (a person's page load) every 50 ms during
  the storm, against the same probe on the idle server before it: (b) within 2x with the budget;
- the peak number of kitsync sessions on the database (``pg_stat_activity``, sampled every 20 ms)
  against the budget ``processes x KITSYNC_AYON_DB_POOL``: (c).

Needs Postgres at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (db 12, a key prefix of its own,
deleted at the end)::

    .venv/bin/python bench/budget.py                         # ~3 min
    .venv/bin/python bench/budget.py --events 1000 --budgets 4,8,1000   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import _common
import _workers
import asyncpg
import httpx
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kitsync.ayon._reader import APPLICATION_NAME
from kitsync.budget import RedisBudget
from tests.fakes.serve import serve
from tests.integration.processes import worker_env

UNBOUNDED = 1000  # the largest KITSYNC_AYON_MAX_REQUESTS: no budget to speak of
PROBE_EVERY = 0.05
DB_SAMPLE_EVERY = 0.02
READ_PAUSE = 0.1
READERS = 3  # per process: more than its pool, so the pool fills up


# ------------------------------------------------------------------------------ the fake AYON


@dataclass
class CapacityAyon:
    """An AYON serving at most ``capacity`` requests at once (FIFO beyond that)."""

    capacity: int
    service: float
    probe_service: float
    kitsync_inside: int = 0
    kitsync_peak: int = 0
    done_at: list[float] = field(default_factory=list)  # when each storm request was answered
    _workers: asyncio.Semaphore | None = field(default=None, repr=False)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/events", self._event, methods=["POST"]),
                Route("/api/info", self._info, methods=["GET"]),
            ]
        )

    async def _served(self, seconds: float) -> None:
        if self._workers is None:  # made on the server's own loop
            self._workers = asyncio.Semaphore(self.capacity)
        async with self._workers:
            await asyncio.sleep(seconds)

    async def _event(self, request: Request) -> JSONResponse:
        await request.body()
        self.kitsync_inside += 1
        self.kitsync_peak = max(self.kitsync_peak, self.kitsync_inside)
        try:
            await self._served(self.service)
        finally:
            self.kitsync_inside -= 1
        self.done_at.append(time.monotonic())
        return JSONResponse({"id": uuid.uuid4().hex}, status_code=201)

    async def _info(self, request: Request) -> JSONResponse:
        await self._served(self.probe_service)
        return JSONResponse({"motd": "", "version": "1.16"})


# ------------------------------------------------------------------------- one storm process


async def storm_process(events: int, fan_out: int, start_at: float) -> dict[str, Any]:
    """One kitsync process's share of the storm, through the clients a worker process uses."""
    from kitsync.ayon import AyonUnavailable
    from kitsync.config import load_settings
    from kitsync.reconcile.context import open_context

    settings = load_settings(["kitsu", "ayon", "ayon_db", "redis"])
    async with open_context(settings) as context:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        left, failed = events, 0
        writing = True

        async def write() -> None:
            nonlocal left, failed
            while left > 0:
                left -= 1
                try:
                    await context.writer.emit_event("bench.storm", project=None, hash=None)
                except AyonUnavailable:  # a worker retries it later: so does the storm
                    failed += 1
                    left += 1

        async def read() -> None:
            while writing:  # as a reconcile reads between its writes
                await context.reader.kitsync_connections()
                await asyncio.sleep(READ_PAUSE)

        readers = [asyncio.create_task(read()) for _ in range(READERS)]
        await asyncio.gather(*(write() for _ in range(fan_out)))
        writing = False
        await asyncio.gather(*readers)
    return {"events": events, "failed": failed}


# ------------------------------------------------------------------------------- measuring


@dataclass
class Samples:
    probe_ms: list[float] = field(default_factory=list)
    slots_peak: int = 0
    db_peak: int = 0


async def probe_latencies(url: str, count: int) -> list[float]:
    found = []
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(count):
            started = time.perf_counter()
            (await client.get("/api/info")).raise_for_status()
            found.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(PROBE_EVERY)
    return found


@asynccontextmanager
async def sampling(url: str, dsn: str, budget: RedisBudget) -> AsyncIterator[Samples]:
    """Probe AYON, count the budget's slots and kitsync's database sessions until the exit."""
    samples = Samples()
    stop = asyncio.Event()

    async def probe() -> None:
        async with httpx.AsyncClient(base_url=url) as client:
            while not stop.is_set():
                started = time.perf_counter()
                (await client.get("/api/info")).raise_for_status()
                samples.probe_ms.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(PROBE_EVERY)

    async def count() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            while not stop.is_set():
                sessions = await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = $1 AND datname = current_database()",
                    APPLICATION_NAME,
                )
                samples.db_peak = max(samples.db_peak, sessions)
                samples.slots_peak = max(samples.slots_peak, (await budget.usage()).in_use)
                await asyncio.sleep(DB_SAMPLE_EVERY)
        finally:
            await connection.close()

    tasks = [asyncio.create_task(probe()), asyncio.create_task(count())]
    try:
        yield samples
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def steady_throughput(done_at: list[float]) -> float:
    """Requests per second AYON answered between the 10th and the 90th percent of the storm:
    the processes' start-up and the last stragglers left out."""
    done = sorted(done_at)
    first, last = len(done) // 10, len(done) * 9 // 10
    return (last - first) / (done[last] - done[first])


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


async def one_setting(
    args: argparse.Namespace, ayon: CapacityAyon, url: str, env: dict[str, str], limit: int
) -> dict[str, Any]:
    env = env | {"KITSYNC_AYON_MAX_REQUESTS": str(limit)}
    ayon.kitsync_peak = 0
    ayon.done_at.clear()
    each, extra = divmod(args.events, args.processes)
    share = [each + (i < extra) for i in range(args.processes)]
    start_at = time.time() + 4.0  # every process opens its clients first
    children = [
        subprocess.Popen(  # noqa: ASYNC220 (started before the timed part)
            [sys.executable, __file__, "--child", str(events), str(args.fan_out), str(start_at)],
            env=env,
            stdout=subprocess.PIPE,
        )
        for events in share
    ]
    redis = aioredis.Redis.from_url(_workers.REDIS_URL)
    budget = RedisBudget(
        redis, "ayon", limit, prefix=env["KITSYNC_REDIS_PREFIX"], lease_seconds=30, wait_seconds=60
    )
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        async with sampling(url, env["AYON_DB_DSN"], budget) as samples:
            outputs = await asyncio.gather(*(asyncio.to_thread(c.communicate) for c in children))
    finally:
        await redis.aclose()
        for child in children:
            child.kill()
    if any(child.returncode for child in children):
        raise RuntimeError(f"a storm process failed (budget {limit})")
    reports = [json.loads(out) for out, _ in outputs]
    return {
        "budget": "unbounded" if limit == UNBOUNDED else limit,
        "requests_per_s": steady_throughput(ayon.done_at),
        "kitsync_in_ayon_peak": ayon.kitsync_peak,
        "slots_peak": samples.slots_peak,
        "probe_p50_ms": statistics.median(samples.probe_ms),
        "probe_p95_ms": _p95(samples.probe_ms),
        "db_sessions_peak": samples.db_peak,
        "db_budget": args.processes * args.db_pool,
        "failed_and_sent_again": sum(report["failed"] for report in reports),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    ayon = CapacityAyon(args.capacity, args.service_ms / 1000, args.probe_ms / 1000)
    prefix = _workers.bench_prefix()
    with serve(ayon.app()) as url:
        async with _common.bench_database() as dsn:
            env = worker_env(
                kitsu_url="http://127.0.0.1:9/api",  # never called
                ayon_url=url,
                pg_dsn=dsn,
                redis_url=_workers.REDIS_URL,
                prefix=prefix,
                webhook_secret=_workers.WEBHOOK_SECRET,
            ) | {"KITSYNC_AYON_DB_POOL": str(args.db_pool), "PYTHONPATH": str(_common.ROOT)}
            idle = await probe_latencies(url, 40)
            try:
                rows = [await one_setting(args, ayon, url, env, b) for b in args.budgets]
            finally:
                _workers.delete_redis_keys(_workers.REDIS_URL, prefix)
    best = max(row["requests_per_s"] for row in rows)
    for row in rows:
        row["throughput_of_best"] = row["requests_per_s"] / best
        row["probe_p50_of_idle"] = row["probe_p50_ms"] / statistics.median(idle)
    return {
        "argv": args.argv,
        "capacity": args.capacity,
        "service_ms": args.service_ms,
        "processes": args.processes,
        "fan_out": args.fan_out,
        "events": args.events,
        "db_pool": args.db_pool,
        "idle_probe_p50_ms": statistics.median(idle),
        "idle_probe_p95_ms": _p95(idle),
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    print(
        f"fake AYON serves {result['capacity']} at once, {result['service_ms']} ms each; "
        f"{result['processes']} processes x {result['fan_out']} writers, "
        f"{result['events']} events per row; probe idle p50 {result['idle_probe_p50_ms']:.1f} ms, "
        f"p95 {result['idle_probe_p95_ms']:.1f} ms"
    )
    print(
        "| budget | req/s | of best | kitsync in AYON peak | slots peak | probe p50 ms | "
        "probe p95 ms | p50 / idle | DB sessions peak / budget |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in result["rows"]:
        print(
            f"| {row['budget']} | {row['requests_per_s']:.0f} | {row['throughput_of_best']:.2f} "
            f"| {row['kitsync_in_ayon_peak']} | {row['slots_peak']} | {row['probe_p50_ms']:.1f} "
            f"| {row['probe_p95_ms']:.1f} | {row['probe_p50_of_idle']:.2f} "
            f"| {row['db_sessions_peak']} / {row['db_budget']} |"
        )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        events, fan_out, start_at = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        print(json.dumps(asyncio.run(storm_process(events, fan_out, start_at))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capacity", type=int, default=20, help="requests AYON serves at once")
    parser.add_argument("--service-ms", type=float, default=500.0)
    parser.add_argument("--probe-ms", type=float, default=5.0, help="time AYON takes per probe")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--fan-out", type=int, default=4, help="concurrent writers per process")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--db-pool", type=int, default=2, help="KITSYNC_AYON_DB_POOL")
    parser.add_argument(
        "--budgets",
        type=lambda text: [int(b) for b in text.split(",")],
        default=[19, 20, UNBOUNDED],
        help=f"KITSYNC_AYON_MAX_REQUESTS of each row ({UNBOUNDED}: unbounded)",
    )
    parser.add_argument("--output", default=str(_common.RESULTS / "budget.json"))
    _workers.exit_on_sigterm()
    _common.run_and_report(parser.parse_args(), bench, show)


if __name__ == "__main__":
    os.environ.setdefault("KITSYNC_LOG_LEVEL", "WARNING")
    main()
