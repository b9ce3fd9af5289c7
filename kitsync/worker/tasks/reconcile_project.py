"""``kitsync.reconcile_project(project_id)``: a full reconcile of one paired project, on its own
queue (``kitsync.reconcile``) so a long one never holds up events. Shown in AYON as one
``kitsync.sync`` event with its progress; keys that changed in Kitsu while it ran are queued
afterwards (its write is from its start's read).

One at a time per project, under a renewed lease: a run may last longer than the broker's
visibility timeout (an hour), after which Redis hands its message to another worker, and the
beat may queue the next one meanwhile; those find the lease held and stop. A run that dies frees
the lease within ``KITSYNC_LEASE_SECONDS``.
"""

from __future__ import annotations

import logging
from typing import Any

from kitsync.heap import release_freed_memory
from kitsync.reconcile import (
    ProjectNotPaired,
    ProjectReport,
    SyncContext,
    SyncProgress,
    reconcile_project,
)
from kitsync.worker import names
from kitsync.worker.failures import CELERY_BACKOFF, MAX_ATTEMPTS, TRANSIENT_ERRORS
from kitsync.worker.leases import RedisLease
from kitsync.worker.runtime import Runtime
from kitsync.worker.scheduling import trigger

log = logging.getLogger("kitsync.worker")

NAME = names.RECONCILE_PROJECT
# Generous: a 20,000-shot series takes minutes (bench/RESULTS.md); the limit only stops a hang.
TIME_LIMIT = 6 * 3600
OPTIONS: dict[str, Any] = {
    # Redis errors too: the project's anatomy lock lives there.
    "autoretry_for": TRANSIENT_ERRORS,
    **CELERY_BACKOFF,
    "max_retries": MAX_ATTEMPTS,
    "soft_time_limit": TIME_LIMIT,
    "time_limit": TIME_LIMIT + 60,
}


def run(runtime: Runtime, project_id: str) -> dict[str, Any]:
    try:
        return _run(runtime, project_id)
    finally:
        release_freed_memory()  # the project's reads and plan died with _run: give pages back


def _run(runtime: Runtime, project_id: str) -> dict[str, Any]:
    context = runtime.context()
    if runtime.single_process:
        report = runtime.run(_reconcile(context, project_id))  # one task at a time anyway
    else:
        lease = RedisLease(
            runtime.redis(),
            runtime.keys.project_lease(project_id),
            runtime.owner,
            runtime.settings.lease_seconds,
        )
        if not runtime.run(lease.acquire()):
            log.info("full reconcile of %s is running elsewhere: not started again", project_id)
            return {"project": project_id, "outcome": "running elsewhere"}
        report = runtime.run(lease.run(_reconcile(context, project_id)))
    if report.follow_ups:
        trigger(runtime, report.follow_ups)
        log.info("full reconcile: %s keys changed in Kitsu meanwhile", len(report.follow_ups))
    log.info("full reconcile: %s", report.describe())
    return {
        "project": report.project,
        "outcome": report.outcome,
        "changes": dict(report.changes),
        "failures": [failure.describe() for failure in report.failures],
    }


async def _reconcile(context: SyncContext, project_id: str) -> ProjectReport:
    project = await context.reader.paired_project(project_id)
    if project is None:
        raise ProjectNotPaired(f"Kitsu project {project_id} is not paired with AYON")
    shown = SyncProgress(context, project, project_id)
    await shown.start()
    try:
        report = await reconcile_project(context, project_id, progress=shown.update)
    except Exception as error:
        await shown.finish(f"failed: {type(error).__name__}", {"error": str(error)}, failed=True)
        raise
    await shown.finish(
        report.describe(),
        {"changes": dict(report.changes), "failures": [f.describe() for f in report.failures]},
        failed=bool(report.failures),
    )
    return report
