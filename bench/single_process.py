"""Event-to-commit latency of ``kitsync run`` without Redis against the Redis path, in one run.

The same generated production, fakes and change stream as ``bench/incremental.py`` (its parts
are reused), in rounds that alternate two modes, so that the machine's load weighs on both:

- **redis**: one ``kitsync worker -c 1`` on the real Redis, fed by the webhook receiver served
  in this process (``incremental.py``'s set-up with one worker);
- **single**: one ``kitsync run`` process, no Redis (kombu's file broker under a state folder,
  the key queue in the process), fed through its own receiver.

In each round and mode: a warm-up stream (not measured; ``kitsync run`` first runs its start-up
full reconcile), then ``--duration`` seconds of changes at ``--rate`` events per second, each
change's latency measured from the Kitsu write to AYON's commit as ``incremental.py`` does. The
table gives the p50/p95 per mode and the ratio single/redis of the p50s, per round and over all.

Run from the repository root: ``.venv/bin/python bench/single_process.py [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _changes import Change, Changes, Commits, kitsu_castings
from _common import RESULTS, bench_database, production_options, run_and_report
from _stats import latency_summary
from _workers import (
    REDIS_URL,
    WEBHOOK_SECRET,
    Workers,
    bench_prefix,
    delete_redis_keys,
    exit_on_sigterm,
    running_process,
    running_workers,
)
from _write_log import WriteLog
from incremental import Run, stream, stream_options

from kitsync.reconcile import reconcile_project
from kitsync.worker.app import create_celery
from tests.fakes.ayon import create_app as create_ayon
from tests.fakes.serve import free_port
from tests.integration.processes import served_receiver, worker_settings
from tests.integration.sync_bed import sync_bed
from tests.production_generator import generate_production

MODES = ("redis", "single")


async def _measured(run: Run, workers: Workers) -> list[Change]:
    args = run.args
    await stream(run, workers, args.rate, args.warmup, 0.0)
    made, _ = await stream(run, workers, args.rate, args.duration, args.duplicates)
    return made


async def _redis_round(run: Run, env: dict[str, str], logs: Path) -> list[Change]:
    with running_workers(1, 1, env, logs) as workers:
        return await _measured(run, workers)


async def _single_round(run: Run, env: dict[str, str], logs: Path) -> list[Change]:
    port = free_port()
    redis_only = ("KITSYNC_REDIS_URL", "KITSYNC_REDIS_PREFIX")
    single = {k: v for k, v in env.items() if k not in redis_only}
    # The webhook is the only way in, as in the Redis mode (no beat runs there).
    single |= {"KITSYNC_STATE_DIR": str(logs / "state"), "KITSYNC_POLL_INTERVAL": "3600"}
    command = [sys.executable, "-m", "kitsync", "run", "--host", "127.0.0.1", "--port", str(port)]
    log = logs / "run.log"
    with running_process(command, single, logs, log) as process:
        workers = Workers([process], [log])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            workers.check_alive()
            try:
                if (await run.client.get(f"{url}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"kitsync run not healthy after 90 s\n{workers.tails()}")
            await asyncio.sleep(0.2)
        run.receiver_url = url
        return await _measured(run, workers)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    generated = generate_production(
        shots=args.shots, sequences=args.sequences, assets=args.assets, seed=args.seed
    )
    print(generated.describe())
    prefix = bench_prefix()
    rounds: list[dict[str, Any]] = []
    try:
        async with (
            bench_database() as dsn,
            sync_bed(
                dsn,
                generated.kitsu,
                generated.project_id,
                ayon_app=(log := WriteLog(create_ayon(dsn))),
            ) as bed,
        ):
            report = await reconcile_project(bed.ctx, generated.project_id)
            if report.failures:
                raise SystemExit(f"the first full sync failed: {report.failures[:3]}")
            env = bed.worker_env(REDIS_URL, prefix, WEBHOOK_SECRET)
            settings = worker_settings(env)
            celery = create_celery(settings)
            changes = Changes(generated, await kitsu_castings(bed), args.seed)
            commits = Commits(log, changes)
            rng = random.Random(args.seed)
            with served_receiver(celery, settings, WEBHOOK_SECRET) as receiver_url:
                async with httpx.AsyncClient(timeout=30) as client:
                    run = Run(
                        bed,
                        log,
                        changes,
                        commits,
                        receiver_url,
                        client,
                        settings,
                        prefix,
                        rng,
                        args,
                    )
                    for number in range(args.rounds):
                        for mode in MODES:
                            run.receiver_url = receiver_url
                            go = _redis_round if mode == "redis" else _single_round
                            with tempfile.TemporaryDirectory(prefix="kitsync-bench-") as logs:
                                made = await go(run, env, Path(logs))
                            summary = latency_summary(made)
                            rounds.append({"round": number + 1, "mode": mode} | summary)
                            print(
                                f"round {number + 1} {mode}: {summary['changes']} changes, "
                                f"p50 {summary['p50_ms']:.0f} ms, p95 {summary['p95_ms']:.0f} ms"
                            )
                    run.broker.close()
            celery.close()
    finally:
        delete_redis_keys(REDIS_URL, prefix)
    return {
        "command": " ".join(["bench/single_process.py", *args.argv]),
        "production": generated.describe(),
        "settings": {"rate": args.rate, "duration": args.duration, "rounds": args.rounds},
        "rounds": rounds,
    }


def _print(result: dict[str, Any]) -> None:
    print(f"\n{result['production']}; {result['settings']}")
    print(f"{'round':>5} {'mode':>7} {'changes':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    p50s: dict[str, list[float]] = {mode: [] for mode in MODES}
    for row in result["rounds"]:
        p50s[row["mode"]].append(row["p50_ms"])
        print(
            f"{row['round']:>5} {row['mode']:>7} {row['changes']:>8} {row['p50_ms']:>7.0f} "
            f"{row['p95_ms']:>7.0f} {row['p99_ms']:>7.0f}"
        )
    ratios = [single / redis for redis, single in zip(p50s["redis"], p50s["single"], strict=True)]
    print("p50 single / redis, per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(
        "median p50: redis {:.0f} ms, single {:.0f} ms, ratio {:.2f}".format(
            statistics.median(p50s["redis"]),
            statistics.median(p50s["single"]),
            statistics.median(p50s["single"]) / statistics.median(p50s["redis"]),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both modes")
    stream_options(parser, duration=30.0)
    production_options(parser)
    parser.add_argument("--output", default=str(RESULTS / "single_process.json"))
    args = parser.parse_args()
    exit_on_sigterm()
    run_and_report(args, bench, _print)


if __name__ == "__main__":
    main()
