"""Incremental benchmark (issue 8, part 3): event-to-commit latency, throughput and CPU per
event with 1, 2 and 4 worker processes.

One generated production on the fake Kitsu, synced once in-process (``reconcile_project``, not
timed) into a paired AYON project on the fake AYON; both fakes and kitsync's webhook receiver
(``create_app`` + ``CelerySink``) are served in threads of this process, over a Postgres database
of its own and the real Redis (db 12, a key prefix of its own). For each worker count N:

1. **bare write**: the same kind of single write kitsync makes for a shot change (one
   ``/operations`` update of a folder's attributes) sent straight to the fake AYON with httpx,
   one at a time, half of ``--bare-writes`` before the workers start and half right after the
   steady stream (3); the p50 of all is the reference of the latency ratio;
2. N worker processes start (``kitsync worker -c 1`` each by default, ``--layout prefork``: one
   ``kitsync worker -c N``), then a short warm-up stream (not measured);
3. **steady stream**: for ``--duration`` seconds, changes to Kitsu at ``--rate`` events per
   second (shot updates: description, frame range, sometimes fps; casting changes through
   ``set_casting`` or ``cast_asset``), on random shots; their events are POSTed, signed, to the
   receiver as the Zou plugin's sender thread does (whatever is pending, at most 100 per POST,
   one POST at a time), and a ``--duplicates`` fraction is POSTed again up to 1 s later;
4. **backlog**: ``--backlog`` changes on distinct shots made at once, their events POSTed as fast
   as the receiver takes them: events (and changes) per second until the last one is in AYON.

Latency of a change: from the moment the fake Kitsu's write returned (its event's time) to the
moment AYON committed a state that includes it. Each change leaves a marker AYON's writes carry:
a shot update sets the description ``bench shot <i> change <k>`` (``k`` increases over the run),
a casting change casts an asset never cast into that shot before in the run. The fake AYON is
wrapped in an ASGI recorder that notes when each write's answer starts (the transaction has
committed) and keeps the ``/operations`` and ``/links/bulk`` bodies; change ``k`` of a shot is
committed by the first successful write carrying that shot's marker ``m >= k`` (events are
hints: a later change of the same shot may be applied first, and then includes change ``k``).
kitsync's own ``kitsync_event_to_commit_seconds`` histogram is scraped as a cross-check; Zou
shows event times to the second, so it reads up to 1 s high. No beat (poller) runs: the webhook
is the only way in.

kitsync's CPU: utime + stime of every process of the workers' process groups (``/proc``), from
the start of a phase until kitsync is idle again (no task queued or unacknowledged, no key
queued or in flight), divided by the events of the phase. The receiver runs in this process and
is not in it.

Run from the repository root: ``.venv/bin/python bench/incremental.py [--workers 1,2]``.

This file holds the phases and the command; their parts live beside it: ``_changes.py`` (the
workload, and the commits it is matched against), ``_write_log.py`` (the recorder around the fake
AYON, the bare writes), ``_plugin.py`` (the Zou plugin's sender), ``_stats.py`` (a phase's
statistics), ``_incremental_report.py`` (the tables), ``_workers.py`` (the worker processes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from _changes import Change, Changes, Commits, kitsu_castings
from _common import RESULTS, bench_database, production_options, run_and_report
from _incremental_report import print_report
from _plugin import Plugin
from _stats import Window, bare_summary, histogram, latency_summary, quantile
from _workers import (
    REDIS_URL,
    WEBHOOK_SECRET,
    Workers,
    bench_prefix,
    delete_redis_keys,
    exit_on_sigterm,
    running_workers,
)
from _write_log import WriteLog, bare_writes

from kitsync.config import Settings
from kitsync.reconcile.project import reconcile_project
from kitsync.redis_keys import KeyQueueKeys, RedisKeys
from kitsync.worker.app import create_celery
from kitsync.worker.names import EVENTS_QUEUE
from tests.fakes.ayon import create_app as create_ayon
from tests.fakes.serve import free_port
from tests.integration.processes import served_receiver, worker_settings
from tests.integration.sync_bed import SyncBed, sync_bed
from tests.production_generator import generate_production


@dataclass
class Run:
    """Everything the phases of one worker count share."""

    bed: SyncBed
    log: WriteLog  # of the fake AYON
    changes: Changes
    commits: Commits
    receiver_url: str
    client: httpx.AsyncClient
    settings: Settings
    prefix: str
    rng: random.Random
    args: argparse.Namespace
    broker: redis.Redis = field(init=False)

    def __post_init__(self) -> None:
        self.broker = redis.Redis.from_url(REDIS_URL)

    def idle(self) -> bool:
        """No event or key left: Celery's events queue and unacked tasks, the key queue."""
        keys = RedisKeys(self.prefix)
        queue = KeyQueueKeys(keys.key_queue)
        return not (
            self.broker.llen(keys.broker_queue(EVENTS_QUEUE))
            or self.broker.hlen(keys.broker_unacked)
            or self.broker.zcard(queue.queued)
            or self.broker.hlen(queue.owner)
        )


async def stream(
    run: Run, workers: Workers, rate: float, seconds: float, duplicates: float
) -> tuple[list[Change], Plugin]:
    """Changes on random shots at ``rate`` events per second for ``seconds``, posted as the
    plugin does; returns once every change is committed in AYON."""
    plugin = Plugin(run.client, run.receiver_url, run.rng, duplicates)
    sender = asyncio.create_task(plugin.run())
    made: list[Change] = []
    emitted = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            delay = started + emitted / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            change, events = run.changes.make(run.rng.randrange(len(run.changes.shots)))
            made.append(change)
            plugin.put(events)
            emitted += len(events)
        plugin.close()
        await sender
    finally:
        sender.cancel()
    await wait_committed(run, workers, made)
    settle_accepted(made, plugin)
    return made, plugin


async def wait_committed(run: Run, workers: Workers, made: list[Change]) -> None:
    deadline = time.perf_counter() + run.args.drain_timeout
    while True:
        run.commits.update()
        missing = [change for change in made if not run.commits.applied(change)]
        if not missing:
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(
                f"{len(missing)} of {len(made)} changes not in AYON after "
                f"{run.args.drain_timeout:.0f} s (e.g. {missing[0]})\n{workers.tails()}"
            )
        workers.check_alive()
        await asyncio.sleep(0.05)
    for change in made:
        run.commits.settle(change)


def settle_accepted(made: list[Change], plugin: Plugin) -> None:
    for change in made:
        change.accepted = max(plugin.answered[event_id] for event_id in change.event_ids)


async def wait_idle(run: Run, workers: Workers) -> None:
    deadline = time.perf_counter() + run.args.drain_timeout
    while not run.idle():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"kitsync still busy after the drain\n{workers.tails()}")
        workers.check_alive()
        await asyncio.sleep(0.1)


async def steady_phase(run: Run, workers: Workers, port: int) -> dict[str, Any]:
    args = run.args
    window = await Window.open(run.client, run.log, run.bed.kitsu, workers, port)
    made, plugin = await stream(run, workers, args.rate, args.duration, args.duplicates)
    applied = max(c.committed or 0.0 for c in made)
    await wait_idle(run, workers)
    counters = await window.close()
    events = sum(c.events for c in made)
    elapsed = applied - window.started
    summary = latency_summary(made)
    return summary | {
        "offered_events_per_second": args.rate,
        "events_per_second": events / elapsed,
        "changes_per_second": len(made) / elapsed,
        "posted": plugin.sent,
        "posts": plugin.posts,
        "receiver_accepted": plugin.accepted,
        "receiver_duplicates": plugin.refused_as_duplicates,
        "worker_cpu_ms_per_event": counters["worker_cpu_seconds"] / events * 1000,
        "worker_cpu_ms_per_change": counters["worker_cpu_seconds"] / len(made) * 1000,
        "kitsync_histogram": histogram(counters["metrics"]),
        "counters": counters,
    }


async def backlog_phase(run: Run, workers: Workers, port: int) -> dict[str, Any]:
    """``--backlog`` changes on distinct shots at once, then as fast as kitsync applies them."""
    window = await Window.open(run.client, run.log, run.bed.kitsu, workers, port)
    made: list[Change] = []
    events: list[dict[str, Any]] = []
    shots = len(run.changes.shots)
    for shot in run.rng.sample(range(shots), min(shots, run.args.backlog)):
        change, new = run.changes.make(shot)
        made.append(change)
        events += new
    plugin = Plugin(run.client, run.receiver_url, run.rng, 0.0)
    plugin.put(events)
    plugin.close()
    await plugin.run()
    await wait_committed(run, workers, made)
    settle_accepted(made, plugin)
    await wait_idle(run, workers)
    counters = await window.close()
    assert plugin.first_post is not None
    done = sorted((c.committed or 0.0) - plugin.first_post for c in made)
    elapsed = done[-1]
    return {
        "changes": len(made),
        "events": len(events),
        "seconds": elapsed,
        "seconds_to_half": quantile(done, 0.5),
        "seconds_to_90_percent": quantile(done, 0.9),
        "events_per_second": len(events) / elapsed,
        "changes_per_second": len(made) / elapsed,
        "worker_cpu_ms_per_event": counters["worker_cpu_seconds"] / len(events) * 1000,
        "worker_cpu_ms_per_change": counters["worker_cpu_seconds"] / len(made) * 1000,
        "counters": counters,
    }


@contextmanager
def _log_folder(keep: str | None, count: int) -> Iterator[Path]:
    """The workers' folder (logs, metrics): ``--logs/<count>-<hex>`` kept, else a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="kitsync-bench-") as temporary:
            yield Path(temporary)
        return
    kept = Path(keep) / f"{count}-workers-{uuid.uuid4().hex[:6]}"
    kept.mkdir(parents=True)
    yield kept


async def one_count(run: Run, env: dict[str, str], count: int) -> dict[str, Any]:
    args = run.args
    load = os.getloadavg()[0]
    before = await bare_writes(run.bed, run.log, args.bare_writes // 2)
    processes, concurrency = (1, count) if args.layout == "prefork" else (count, 1)
    port = free_port()
    print(f"\n{count} worker process(es); load average {load:.1f}")
    with (
        _log_folder(args.logs, count) as logs,
        running_workers(processes, concurrency, env, logs, metrics_port=port) as workers,
    ):
        await stream(run, workers, args.rate, args.warmup, 0.0)  # every process makes clients
        await wait_idle(run, workers)
        steady = await steady_phase(run, workers, port)
        after = await bare_writes(run.bed, run.log, args.bare_writes - len(before[0]))
        bare = bare_summary(before, after)
        print(f"  bare AYON write p50 {bare['p50_ms']:.1f} ms")
        print(
            f"  steady {args.rate:g} ev/s: {steady['changes']} changes, {steady['events']} "
            f"events; p50 {steady['p50_ms']:.0f} ms, p95 {steady['p95_ms']:.0f} ms, "
            f"p99 {steady['p99_ms']:.0f} ms"
        )
        tasks = steady["counters"]["task_ms"]
        print(
            "  task run times, p50 (mean): "
            + ", ".join(f"{n} {t['p50']:.0f} ms ({t['mean']:.0f})" for n, t in tasks.items())
        )
        kinds = steady["counters"]["ayon_write_requests_by_kind"]
        print(
            f"  AYON write requests per change: {sum(kinds.values()) / steady['changes']:.1f} "
            f"({', '.join(f'{kind} {n}' for kind, n in kinds.items())})"
        )
        backlog = await backlog_phase(run, workers, port)
        print(
            f"  backlog: {backlog['events']} events in {backlog['seconds']:.1f} s, "
            f"{backlog['events_per_second']:.0f} events/s"
        )
    return {
        "workers": count,
        "layout": f"{processes} x kitsync worker -c {concurrency}",
        "bare_write": bare,
        "steady": steady,
        "backlog": backlog,
        "p50_over_bare_write": steady["p50_ms"] / bare["p50_ms"],
        "load_average": {"start": load, "end": os.getloadavg()[0]},
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    generated = generate_production(
        shots=args.shots, sequences=args.sequences, assets=args.assets, seed=args.seed
    )
    print(f"generated in {time.perf_counter() - started:.1f} s: {generated.describe()}")
    prefix = bench_prefix()
    results: list[dict[str, Any]] = []
    try:
        async with bench_database() as dsn:
            # The fake AYON behind a recorder of when each write committed.
            log = WriteLog(create_ayon(dsn))
            async with sync_bed(
                dsn, generated.kitsu, generated.project_id, ayon_app=log, reads=args.reads
            ) as bed:
                started = time.perf_counter()
                report = await reconcile_project(bed.ctx, generated.project_id)
                if report.failures:
                    raise SystemExit(f"the first full sync failed: {report.failures[:3]}")
                first_sync = time.perf_counter() - started
                print(f"first full sync (in-process, not timed below): {first_sync:.1f} s")
                env = bed.worker_env(REDIS_URL, prefix, WEBHOOK_SECRET)
                settings = worker_settings(env)
                celery = create_celery(settings)
                changes = Changes(generated, await kitsu_castings(bed), args.seed)
                with served_receiver(celery, settings, WEBHOOK_SECRET) as receiver_url:
                    async with httpx.AsyncClient(timeout=30) as client:
                        run = Run(
                            bed,
                            log,
                            changes,
                            Commits(log, changes),
                            receiver_url,
                            client,
                            settings,
                            prefix,
                            random.Random(args.seed),
                            args,
                        )
                        for count in args.workers:
                            results.append(await one_count(run, env, count))
                        run.broker.close()
                celery.close()
    finally:
        removed = delete_redis_keys(REDIS_URL, prefix)
        print(f"removed {removed} Redis keys under {prefix}")
    return {
        "command": " ".join(["bench/incremental.py", *args.argv]),
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "production": generated.describe(),
        "first_sync_seconds": first_sync,
        "settings": {
            "rate": args.rate,
            "duration": args.duration,
            "duplicates": args.duplicates,
            "backlog": args.backlog,
            "layout": args.layout,
            "reads": args.reads,
        },
        "runs": results,
    }


def _workers_list(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("worker counts: positive integers, comma-separated")
    return counts


def stream_options(parser: argparse.ArgumentParser, *, duration: float) -> None:
    """The options of the steady stream (shared with single_process.py)."""
    parser.add_argument("--rate", type=float, default=5.0, help="events per second")
    parser.add_argument("--duration", type=float, default=duration, help="seconds of steady stream")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds, not measured")
    parser.add_argument("--duplicates", type=float, default=0.2, help="share posted again")
    parser.add_argument("--drain-timeout", type=float, default=180.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=_workers_list, default=[1, 2, 4])
    parser.add_argument("--layout", choices=("separate", "prefork"), default="separate")
    parser.add_argument(
        "--reads",
        choices=("sql", "api"),
        default="sql",
        help="how the workers read AYON: its database (AYON_DB_DSN) or its API",
    )
    stream_options(parser, duration=60.0)
    parser.add_argument("--backlog", type=int, default=400, help="changes, on distinct shots")
    parser.add_argument("--bare-writes", type=int, default=200)
    parser.add_argument("--logs", help="keep the workers' logs in this folder")
    production_options(parser)
    parser.add_argument("--output", default=str(RESULTS / "incremental.json"))
    args = parser.parse_args()
    exit_on_sigterm()
    run_and_report(args, bench, print_report)


if __name__ == "__main__":
    main()
