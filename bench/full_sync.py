"""Full sync benchmark (issue 8, parts 1, 2 and 4): kitsync against the floor and a baseline.

One run, one generated production on the fake Kitsu, one Postgres database of its own, and:

1. kitsync's full sync of the production into an empty AYON project (``reconcile_project``);
2. the no-op reconcile of that project, now in step (writes must be 0);
3. the **floor**: the same final AYON state sent straight to a fresh project with only the
   minimal batched requests (one project PATCH, ``/operations`` chunks parents first,
   ``/links/bulk`` chunks): no Kitsu reads, no planning;
4. a **per-entity baseline** working as ayon-kitsu's processor does: for every entity one
   lookup and one create, one request per link, into another fresh project;
5. optionally, a second kitsync full sync (into a fourth project) and its no-op reconcile under
   cProfile, for the hot spots (profiling slows them down: they are not the timed runs).

The floor's and the baseline's payloads are the operations and links kitsync planned, captured
after its run: the point is the cost of writing the same state, not a second mapping of Kitsu
data that could drift from kitsync's. Building them is outside the timed sections.

Run from the repository root: ``.venv/bin/python bench/full_sync.py [--shots 300]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

import asyncpg
import httpx
from _common import (
    RESULTS,
    AyonTree,
    ayon_tree,
    bench_database,
    hot_spots,
    own_time_spots,
    peak_rss_mib,
    production_options,
    profiled,
    run_and_report,
)

from kitsync.ayon import AyonWriter
from kitsync.reconcile.project import reconcile_project
from kitsync.schemas import Operation
from kitsync.schemas.ayon import LinkCreate
from tests.fakes.ayon import SERVICE_KEY, create_app, create_project
from tests.fakes.serve import serve
from tests.integration.sync_bed import SyncBed, sync_bed
from tests.production_generator import GeneratedProduction, generate_production

# The project attributes and anatomy lists kitsync leaves on the project: the floor sets them
# in one PATCH (kitsync reads, then patches, per list).
_PROJECT_KEYS = ("attrib", "folderTypes", "taskTypes", "statuses", "linkTypes")


@dataclass(frozen=True)
class Measure:
    """One timed section."""

    seconds: float
    cpu_seconds: float  # of the benchmark's own thread: the fakes serve from other threads
    ayon_requests: int
    ayon_writes: int
    kitsu_requests: int = 0
    entities: int = 0

    @property
    def per_second(self) -> float:
        return self.entities / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Payload:
    """The final AYON state as requests: the project patch, creates parents first, links."""

    project: dict[str, Any]
    operations: list[Operation]
    links: list[LinkCreate]

    @property
    def entities(self) -> int:
        return len(self.operations) + len(self.links)


class _Counter:
    """Counts the requests a fake AYON app logged since the last ``take``."""

    def __init__(self, app: Any) -> None:
        self.log: list[tuple[str, str]] = app.state.requests
        self.mark = len(self.log)

    def take(self) -> tuple[int, int]:
        new = self.log[self.mark :]
        self.mark = len(self.log)
        writes = [p for m, p in new if m != "GET" and not p.startswith("/api/events")]
        return len(new), len(writes)


async def _timed_sync(bed: SyncBed, generated: GeneratedProduction) -> tuple[Measure, Any]:
    ayon = _Counter(bed.ayon_app)
    kitsu_before = len(generated.kitsu.requests)
    started, cpu = time.perf_counter(), time.thread_time()
    # Itemized: the floor replays the operations it wrote.
    report = await reconcile_project(bed.ctx, generated.project_id, itemize=True)
    seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu
    if report.failures:
        raise SystemExit(f"kitsync's full sync failed: {report.failures[:3]}")
    requests, writes = ayon.take()
    entities = sum(count for what, count in report.changes.items() if what.startswith("create"))
    kitsu = len(generated.kitsu.requests) - kitsu_before
    measure = Measure(seconds, cpu, requests, writes, kitsu, entities)
    return measure, report


async def _captured(bed: SyncBed, operations: tuple[Operation, ...]) -> Payload:
    """kitsync's final state of ``bed``'s project, as the requests that write it."""
    project = await bed.ctx.writer.get_project(bed.project)
    wire = project.model_dump(mode="json", by_alias=True)
    rows = await bed.pool.fetch(
        f"SELECT id, name, link_type, input_id, output_id, data::text AS data "
        f"FROM project_{bed.project}.links ORDER BY creation_order"
    )
    links = [
        LinkCreate(
            id=row["id"].hex,
            input=row["input_id"].hex,
            output=row["output_id"].hex,
            link_type=row["link_type"],
            name=row["name"],
            data=json.loads(row["data"]),
        )
        for row in rows
    ]
    creates = [op for op in operations if op.type == "create"]
    if len(creates) != len(operations):
        raise SystemExit("the full sync of an empty project planned more than creates")
    return Payload({key: wire[key] for key in _PROJECT_KEYS}, creates, links)


async def _write_floor(url: str, project: str, payload: Payload, chunk_size: int) -> None:
    async with AyonWriter(url, SERVICE_KEY, chunk_size=chunk_size) as writer:
        await writer.update_project(project, payload.project)
        await writer.operations(project, payload.operations)
        await writer.create_links(project, payload.links)


async def _write_per_entity(url: str, project: str, payload: Payload) -> None:
    """ayon-kitsu's way: each entity looked up, then created; each link its own request."""
    base = f"/api/projects/{project}"
    headers = {"x-api-key": SERVICE_KEY}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        (await client.patch(base, json=payload.project)).raise_for_status()
        for op in payload.operations:
            body = dict(op.data or {})
            entity_id = op.entity_id or body["id"]
            body["id"] = entity_id
            collection = f"{base}/{op.entity_type}s"
            lookup = await client.get(f"{collection}/{entity_id}")
            if lookup.status_code != 404:
                raise SystemExit(f"baseline: {op.entity_type} {entity_id} exists already")
            (await client.post(collection, json=body)).raise_for_status()
        for link in payload.links:
            (await client.post(f"{base}/links", json=link.to_wire())).raise_for_status()


async def _timed_write(
    dsn: str, pool: asyncpg.Pool, name: str, write: Callable[[str, str], Awaitable[None]]
) -> tuple[Measure, AyonTree]:
    """Time ``write(url, project)`` into a new project, on a fake AYON of its own (as cold as
    the one kitsync's sync gets)."""
    project = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    await create_project(dsn, project)
    app = create_app(dsn)
    with serve(app) as url:
        counter = _Counter(app)
        started, cpu = time.perf_counter(), time.thread_time()
        await write(url, project)
        seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu
        requests, writes = counter.take()
    return Measure(seconds, cpu, requests, writes), await ayon_tree(pool, project)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    generated = generate_production(
        shots=args.shots, sequences=args.sequences, assets=args.assets, seed=args.seed
    )
    print(f"generated in {time.perf_counter() - started:.1f} s: {generated.describe()}")
    rss_before = peak_rss_mib()
    result: dict[str, Any] = {"production": generated.describe()}
    async with bench_database() as dsn:
        async with sync_bed(dsn, generated.kitsu, generated.project_id) as bed:
            chunk_size = bed.ctx.writer.chunk_size
            full, report = await _timed_sync(bed, generated)
            rss_after = peak_rss_mib()
            print(f"kitsync full sync: {full.seconds:.2f} s; {report.describe()}")
            ayon = _Counter(bed.ayon_app)
            kitsu_before = len(generated.kitsu.requests)
            started, cpu = time.perf_counter(), time.thread_time()
            again = await reconcile_project(bed.ctx, generated.project_id)
            seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu
            requests, writes = ayon.take()
            kitsu = len(generated.kitsu.requests) - kitsu_before
            noop = Measure(seconds, cpu, requests, writes, kitsu)
            print(f"no-op reconcile: {noop.seconds:.2f} s, outcome {again.outcome}")
            payload = await _captured(bed, report.operations)
            trees = {"kitsync": await ayon_tree(bed.pool, bed.project)}
        if args.profile:
            async with sync_bed(dsn, generated.kitsu, generated.project_id) as bed:
                with profiled() as profile:
                    await reconcile_project(bed.ctx, generated.project_id)
                with profiled() as noop_profile:
                    await reconcile_project(bed.ctx, generated.project_id)
            result["hot_spots"] = hot_spots(profile)
            result["own_time"] = own_time_spots(profile)
            result["no_op_hot_spots"] = hot_spots(noop_profile)
            result["no_op_own_time"] = own_time_spots(noop_profile)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            floor, trees["floor"] = await _timed_write(
                dsn, pool, "floor", partial(_write_floor, payload=payload, chunk_size=chunk_size)
            )
            floor = replace(floor, entities=payload.entities)
            print(f"floor: {floor.seconds:.2f} s")
            if not args.no_baseline:
                baseline, trees["baseline"] = await _timed_write(
                    dsn, pool, "baseline", partial(_write_per_entity, payload=payload)
                )
                baseline = replace(baseline, entities=payload.entities)
                print(f"per-entity baseline: {baseline.seconds:.2f} s")
        finally:
            await pool.close()
    result |= {
        "command": " ".join(["bench/full_sync.py", *args.argv]),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "counts": {
            "folders": len(trees["kitsync"].folders),
            "tasks": len(trees["kitsync"].tasks),
            "links": sum(trees["kitsync"].links.values()),
        },
        "full_sync": asdict(full) | {"entities_per_second": full.per_second},
        "no_op": asdict(noop),
        "floor": asdict(floor) | {"entities_per_second": floor.per_second},
        "ratios": {
            "kitsync_over_floor": full.seconds / floor.seconds,
            "no_op_over_full_sync": noop.seconds / full.seconds,
        },
        "peak_rss_mib": {"before_full_sync": rss_before, "after_full_sync": rss_after},
        "same_state": {
            name: trees["kitsync"].differences(tree) or "match"
            for name, tree in trees.items()
            if name != "kitsync"
        },
    }
    if not args.no_baseline:
        result["baseline"] = asdict(baseline) | {"entities_per_second": baseline.per_second}
        result["ratios"]["baseline_over_kitsync"] = baseline.seconds / full.seconds
    return result


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _print(result: dict[str, Any]) -> None:
    print(f"\n{result['production']}  ({result['counts']})")
    columns = ("seconds", "own CPU", "AYON req", "writes", "Kitsu req", "ent/s")
    print(f"{'':14}" + "".join(f"{name:>10}" for name in columns))
    for name in ("full_sync", "no_op", "floor", "baseline"):
        if name in result:
            m = result[name]
            rate = f"{m['entities_per_second']:10.0f}" if "entities_per_second" in m else ""
            print(
                f"{name:14}{m['seconds']:10.2f}{m['cpu_seconds']:10.2f}{m['ayon_requests']:10d}"
                f"{m['ayon_writes']:10d}{m['kitsu_requests']:10d}{rate}"
            )
    for name, value in result["ratios"].items():
        print(f"{name:28}{value:8.3f}")
    rss = result["peak_rss_mib"]
    print(
        f"peak RSS (MiB, whole process incl. fakes): {rss['before_full_sync']:.0f} before the "
        f"full sync, {rss['after_full_sync']:.0f} after"
    )
    for name, verdict in result["same_state"].items():
        print(f"same AYON state as kitsync's, {name}: {verdict}")
    for run in ("", "no_op_"):
        if f"{run}hot_spots" not in result:
            continue
        what = "no-op reconcile" if run else "full sync"
        print(f"\n{what}: kitsync's hot spots (cProfile, cumulative):")
        for row in result[f"{run}hot_spots"]:
            print(f"{row['cumulative_s']:8.2f} s {row['own_s']:7.2f} s own  {row['function']}")
        print(f"\n{what}: own time, any code:")
        for row in result[f"{run}own_time"]:
            print(f"{row['own_s']:8.2f} s {row['calls']:9d} calls  {row['function']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    production_options(parser)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow baseline")
    parser.add_argument("--output", default=str(RESULTS / "full_sync.json"))
    args = parser.parse_args()
    run_and_report(args, bench, _print)


if __name__ == "__main__":
    main()
