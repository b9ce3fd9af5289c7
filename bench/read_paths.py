"""The two read paths side by side (issue 16): AYON read through its API (GraphQL + REST, the
default) against AYON's database (``AYON_DB_DSN``), in one run on one generated production.

For each path, a fresh AYON project paired with the same Kitsu production, and:

1. kitsync's full sync into the empty project (``reconcile_project``);
2. the no-op reconcile of the now in-step project (writes must be 0);
3. one full read of the project's AYON side, as a full reconcile reads it (folders, tasks,
   anatomy, project summary and breakdown links), the best of ``--reads`` runs;
4. per-key reconciles: ``reconcile_entity`` of ``--keys`` shots and ``reconcile_casting`` of
   as many, one at a time, the project in step (their reads, planning, no write).

AYON requests are counted on the fake AYON (GraphQL and REST reads, writes), SQL queries on a
counting pool. Ratios are API over SQL. Both paths run against the same fake AYON server code
and the same Postgres: the API path pays for HTTP, GraphQL and JSON on top of the queries, as it
would against a real AYON (whose own figures are in tests/fixtures/ayon/graphql/TIMINGS.md).

Run from the repository root: ``.venv/bin/python bench/read_paths.py [--shots 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import asyncpg
from _common import RESULTS, bench_database, production_options, run_and_report

from kitsync.ayon import AyonReader, AyonReads
from kitsync.reconcile._project_read import read_ayon
from kitsync.reconcile.casting import reconcile_casting
from kitsync.reconcile.entity import reconcile_entity
from kitsync.reconcile.project import reconcile_project
from kitsync.schemas.ayon import BREAKDOWN
from tests.integration.sync_bed import SyncBed, sync_bed
from tests.production_generator import GeneratedProduction, generate_production
from tests.read_paths import ReadPath


class CountingPool:
    """An asyncpg pool that counts the reader's queries (it only calls ``fetch``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries = 0

    async def fetch(self, query: str, *args: Any) -> Any:
        self.queries += 1
        return await self.pool.fetch(query, *args)


@dataclass(frozen=True)
class Step:
    seconds: float
    ayon_reads: int  # SQL: queries; API: the reader's GraphQL and REST requests
    ayon_requests: int  # every HTTP request to AYON (the API reader's included)
    ayon_writes: int  # the requests that write (kitsync's event records included)


@dataclass(frozen=True)
class PerKey:
    keys: int
    median_ms: float
    p90_ms: float
    reads_per_key: float


class Meter:
    """AYON reads, requests and writes of a bed's work."""

    def __init__(self, bed: SyncBed, counting: CountingPool | None) -> None:
        self.bed, self.counting = bed, counting

    async def timed(self, work: Any) -> tuple[Step, Any]:
        log = self.bed.ayon_app.state.requests
        requests, queries = len(log), self.counting.queries if self.counting else 0
        started = time.perf_counter()
        result = await work
        seconds = time.perf_counter() - started
        new = log[requests:]
        writes = sum(1 for method, path in new if method != "GET" and path != "/graphql")
        if self.counting is not None:
            reads = self.counting.queries - queries
        else:
            reads = len(self.bed.ayon_reads(requests))
        return Step(seconds, reads, len(new), writes), result


async def _full_read(reader: AyonReads, project: str) -> None:
    await asyncio.gather(read_ayon(reader, project), reader.links_of_type(project, BREAKDOWN))


async def _per_key(
    bed: SyncBed, meter: Meter, generated: GeneratedProduction, keys: int, seed: int
) -> dict[str, PerKey]:
    shots = [shot.id for shot in await bed.ctx.kitsu.shots(generated.project_id)]
    chosen = random.Random(seed).sample(shots, min(keys, len(shots)))
    found: dict[str, PerKey] = {}
    for kind, run in (
        ("entity", lambda shot: reconcile_entity(bed.ctx, generated.project_id, "shot", shot)),
        ("casting", lambda shot: reconcile_casting(bed.ctx, generated.project_id, shot)),
    ):
        times, reads = [], 0
        for shot in chosen:
            step, result = await meter.timed(run(shot))
            if result.outcome != "in step" or step.ayon_writes:
                raise SystemExit(f"{kind} {shot}: {result.outcome}, {step.ayon_writes} writes")
            times.append(step.seconds * 1000)
            reads += step.ayon_reads
        ordered = sorted(times)
        found[kind] = PerKey(
            keys=len(times),
            median_ms=statistics.median(ordered),
            p90_ms=ordered[int(0.9 * (len(ordered) - 1))],
            reads_per_key=reads / len(times),
        )
    return found


async def _one_path(
    path: ReadPath, dsn: str, generated: GeneratedProduction, args: argparse.Namespace
) -> dict[str, Any]:
    async with sync_bed(dsn, generated.kitsu, generated.project_id, reads=path) as bed:
        counting: CountingPool | None = None
        if path == "sql":
            counting = CountingPool(bed.pool)
            bed.ctx = replace(bed.ctx, reader=AyonReader(counting))  # type: ignore[arg-type]
        meter = Meter(bed, counting)
        full, report = await meter.timed(reconcile_project(bed.ctx, generated.project_id))
        if report.failures:
            raise SystemExit(f"{path}: the full sync failed: {report.failures[:3]}")
        noop, again = await meter.timed(reconcile_project(bed.ctx, generated.project_id))
        if again.outcome != "in step" or noop.ayon_writes:
            raise SystemExit(f"{path}: the no-op reconcile was {again.outcome}")
        reads = []
        for _ in range(args.reads):
            step, _ = await meter.timed(_full_read(bed.ctx.reader, bed.project))
            reads.append(step)
        read = min(reads, key=lambda step: step.seconds)
        per_key = await _per_key(bed, meter, generated, args.keys, args.seed)
        print(
            f"{path}: full sync {full.seconds:.2f} s, no-op {noop.seconds:.2f} s, "
            f"full read {read.seconds * 1000:.0f} ms ({read.ayon_reads} reads)"
        )
        return {
            "full_sync": asdict(full),
            "no_op": asdict(noop),
            "full_read": asdict(read),
            "per_key": {kind: asdict(value) for kind, value in per_key.items()},
        }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    generated = generate_production(
        shots=args.shots, sequences=args.sequences, assets=args.assets, seed=args.seed
    )
    print(f"production: {generated.describe()}")
    result: dict[str, Any] = {
        "command": " ".join(["bench/read_paths.py", *args.argv]),
        "production": generated.describe(),
    }
    async with bench_database() as dsn:
        for path in ("sql", "api"):
            result[path] = await _one_path(path, dsn, generated, args)
    sql, api = result["sql"], result["api"]
    result["ratios_api_over_sql"] = {
        "full_sync_seconds": api["full_sync"]["seconds"] / sql["full_sync"]["seconds"],
        "no_op_seconds": api["no_op"]["seconds"] / sql["no_op"]["seconds"],
        "full_read_seconds": api["full_read"]["seconds"] / sql["full_read"]["seconds"],
        **{
            f"per_key_{kind}_median": api["per_key"][kind]["median_ms"]
            / sql["per_key"][kind]["median_ms"]
            for kind in ("entity", "casting")
        },
    }
    return result


def _show(result: dict[str, Any]) -> None:
    print(f"\n{result['production']}")
    print(f"{'':22}{'SQL':>22}{'API':>22}")
    for step in ("full_sync", "no_op", "full_read"):
        cells = [
            f"{result[p][step]['seconds']:7.2f} s {result[p][step]['ayon_reads']:4d} r "
            f"{result[p][step]['ayon_requests']:4d} q"
            for p in ("sql", "api")
        ]
        print(f"{step:22}{cells[0]:>22}{cells[1]:>22}")
    for kind in ("entity", "casting"):
        cells = [
            f"{result[p]['per_key'][kind]['median_ms']:6.1f}/"
            f"{result[p]['per_key'][kind]['p90_ms']:.1f} ms "
            f"{result[p]['per_key'][kind]['reads_per_key']:4.1f} r"
            for p in ("sql", "api")
        ]
        print(f"{'per key ' + kind:22}{cells[0]:>22}{cells[1]:>22}")
    print(
        "(r: AYON reads: SQL queries, or the API reader's requests; q: all HTTP requests to "
        "AYON; per key: median/p90)"
    )
    for name, value in result["ratios_api_over_sql"].items():
        print(f"API / SQL {name:28}{value:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    production_options(parser)
    parser.add_argument("--keys", type=int, default=50, help="per-key reconciles per kind")
    parser.add_argument("--reads", type=int, default=3, help="full reads per path (best kept)")
    parser.add_argument("--output", default=str(RESULTS / "read_paths.json"))
    run_and_report(parser.parse_args(), bench, _show)


if __name__ == "__main__":
    main()
