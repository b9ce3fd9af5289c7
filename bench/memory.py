"""Worker memory benchmark (issue 8, part 4): peak RSS of a worker alone during a full sync.

One generated production on the fake Kitsu, an empty paired AYON project on the fake AYON (both
served in threads of this process, over a Postgres database of its own), and one real
``kitsync worker -c 1`` process on the real Redis (db 12, a key prefix of its own). The full sync
is sent as the Celery task ``kitsync.reconcile_project``; the worker's prefork child runs it. Its
peak resident set is ``VmHWM`` in ``/proc/<child>/status``, read when the task has finished
(AYON's ``kitsync.sync`` event says ``finished``). Then, ``--no-ops`` times, the peak is reset
(``clear_refs``) and another ``kitsync.reconcile_project`` of the now in-step project gives the
no-op reconcile's peak (and shows whether the child's memory keeps growing).

Run from the repository root: ``.venv/bin/python bench/memory.py [--shots 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, bench_database, production_options, run_and_report
from _workers import (
    REDIS_URL,
    WEBHOOK_SECRET,
    bench_prefix,
    delete_redis_keys,
    exit_on_sigterm,
    running_workers,
)

from kitsync.worker.app import create_celery
from tests.integration.processes import worker_settings
from tests.integration.sync_bed import SyncBed, sync_bed
from tests.proc import children_of, proc_stat, status_mib
from tests.production_generator import generate_production


async def _sync_event(bed: SyncBed, after: int) -> tuple[str | None, str, str]:
    """Status, description and phase of the newest ``kitsync.sync`` event of the project after
    ``after`` (the full reconcile's progress, then its report)."""
    row = await bed.pool.fetchrow(
        "SELECT status, description, coalesce(summary->>'phase', "
        "CASE WHEN summary ? 'phases' THEN 'done' ELSE 'starting' END) AS phase "
        "FROM public.events WHERE topic = 'kitsync.sync' "
        "AND project_name = $1 AND creation_order > $2 ORDER BY creation_order DESC LIMIT 1",
        bed.project,
        after,
    )
    return (row["status"], row["description"], row["phase"]) if row else (None, "", "starting")


async def _last_event(bed: SyncBed) -> int:
    value = await bed.pool.fetchval("SELECT coalesce(max(creation_order), 0) FROM public.events")
    return int(value)


async def _run_task(
    bed: SyncBed, celery: Any, project_id: str, child: int, limit: float
) -> dict[str, Any]:
    """Send ``kitsync.reconcile_project`` and wait for its end; sample the child's RSS, also by
    the phase the reconcile's AYON event reports. That lags: the event is updated at each tenth
    of a phase, by a request that waits while the reconcile computes (planning the links keeps
    the label of the writes)."""
    mark = await _last_event(bed)
    before_cpu = _cpu(child)
    rss_before = status_mib(child, "VmRSS")
    started = time.perf_counter()
    celery.send_task("kitsync.reconcile_project", args=(project_id,))
    sampled = rss_before
    by_phase: dict[str, float] = {}
    while (event := await _sync_event(bed, mark))[0] not in ("finished", "failed"):
        rss = status_mib(child, "VmRSS")
        sampled = max(sampled, rss)
        by_phase[event[2]] = max(by_phase.get(event[2], 0.0), rss)
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"the full sync did not end in {limit:.0f} s")
        await asyncio.sleep(0.1)
    seconds = time.perf_counter() - started
    status, report, _ = await _sync_event(bed, mark)
    if status != "finished":
        raise RuntimeError(f"the full reconcile failed: {report}")
    return {
        "report": report,
        "seconds": seconds,
        "child_cpu_seconds": _cpu(child) - before_cpu,
        "rss_before_mib": rss_before,
        "peak_rss_mib": status_mib(child, "VmHWM"),
        "sampled_max_rss_mib": sampled,
        "sampled_max_rss_mib_by_phase": by_phase,
        "rss_after_mib": status_mib(child, "VmRSS"),
    }


def _cpu(pid: int) -> float:
    stat = proc_stat(f"/proc/{pid}/stat")
    return stat.cpu_seconds if stat else 0.0


def _reset_peak(pid: int) -> None:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0: ``5`` in ``clear_refs``)."""
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    generated = generate_production(
        shots=args.shots, sequences=args.sequences, assets=args.assets, seed=args.seed
    )
    print(f"generated in {time.perf_counter() - started:.1f} s: {generated.describe()}")
    prefix = bench_prefix()
    result: dict[str, Any] = {"production": generated.describe()}
    try:
        async with (
            bench_database() as dsn,
            sync_bed(dsn, generated.kitsu, generated.project_id) as bed,
        ):
            env = bed.worker_env(REDIS_URL, prefix, WEBHOOK_SECRET)
            settings = worker_settings(env)
            celery = create_celery(settings)
            with (
                tempfile.TemporaryDirectory(prefix="kitsync-bench-") as logs,
                running_workers(1, 1, env, Path(logs)) as workers,
            ):
                main_pid = workers.processes[0].pid
                (child,) = children_of(main_pid)
                print(f"worker {main_pid}, prefork child {child}: full sync as a Celery task")
                full = await _run_task(bed, celery, generated.project_id, child, args.timeout)
                print(f"full sync: {full['seconds']:.1f} s, {full['report']}")
                tree = await bed.tree()
                tasks = await bed.tasks()
                if len(tree) != generated.folders or len(tasks) != generated.tasks:
                    raise RuntimeError(
                        f"AYON has {len(tree)} folders and {len(tasks)} tasks, "
                        f"expected {generated.folders} and {generated.tasks}"
                    )
                no_ops = []
                for number in range(1, args.no_ops + 1):
                    _reset_peak(child)
                    no_op = await _run_task(bed, celery, generated.project_id, child, args.timeout)
                    no_ops.append(no_op)
                    print(f"no-op reconcile {number}: {no_op['seconds']:.1f} s, {no_op['report']}")
                main_peak = status_mib(main_pid, "VmHWM")
            celery.close()
    finally:
        delete_redis_keys(REDIS_URL, prefix)
    result |= {
        "command": " ".join(["bench/memory.py", *args.argv]),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "counts": {"folders": generated.folders, "tasks": generated.tasks},
        "full_sync": full,
        "no_ops": no_ops,
        "worker_main_process_peak_rss_mib": main_peak,
    }
    return result


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _print(result: dict[str, Any]) -> None:
    print(f"\n{result['production']}  ({result['counts']})")
    print("kitsync worker -c 1, its prefork child (MiB):")
    columns = ("seconds", "CPU s", "RSS before", "peak RSS", "RSS after")
    print(f"{'':26}" + "".join(f"{name:>12}" for name in columns))
    rows = [("full sync (empty AYON)", result["full_sync"])]
    rows += [(f"no-op reconcile {i}", m) for i, m in enumerate(result["no_ops"], start=1)]
    for label, m in rows:
        print(
            f"{label:26}{m['seconds']:12.1f}{m['child_cpu_seconds']:12.1f}"
            f"{m['rss_before_mib']:12.0f}{m['peak_rss_mib']:12.0f}{m['rss_after_mib']:12.0f}"
        )
        phases = ", ".join(f"{k} {v:.0f}" for k, v in m["sampled_max_rss_mib_by_phase"].items())
        print(f"{'':26}sampled RSS by phase: {phases}")
    print(
        f"peak RSS of the worker's main process (no task runs there): "
        f"{result['worker_main_process_peak_rss_mib']:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    production_options(parser)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per reconcile")
    parser.add_argument("--no-ops", type=int, default=2, help="no-op reconciles after the sync")
    parser.add_argument("--output", default=str(RESULTS / "memory.json"))
    args = parser.parse_args()
    exit_on_sigterm()
    run_and_report(args, bench, _print)


if __name__ == "__main__":
    main()
