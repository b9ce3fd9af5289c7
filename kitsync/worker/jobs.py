"""kitsync's Celery tasks: thin shells that run the async reconcilers under the key queue.

- ``kitsync.ingest(events, source)``: route events to keys, queue each key once, mark the events
  processed.
- ``kitsync.reconcile(key)``: claim the key (one worker at a time), reconcile, release; a trigger
  during the run makes it run once more; transient failures retry with backoff, the rest (and
  transient ones past ``MAX_ATTEMPTS``) become dead letters.
- ``kitsync.poll()``: the catch-up poller (beat), one at a time.
- ``kitsync.recover()``: re-schedules keys whose task was lost (beat).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from celery import Celery, Task

from kitsync.ayon import AyonError
from kitsync.config import Settings
from kitsync.core.routing import Key, keys_for_event, route
from kitsync.metrics import KEYS, LATENCY, POLLER_LAG, RECONCILES
from kitsync.schemas import KitsuEvent
from kitsync.tasks.context import SyncContext
from kitsync.tasks.dispatch import reconcile_key
from kitsync.tasks.poll import PollOutcome, poll_once
from kitsync.tasks.project import ProjectNotPaired, ProjectReport
from kitsync.tasks.project import reconcile_project as run_full_reconcile
from kitsync.tasks.record import SyncProgress, record_kitsu_events, record_reconcile
from kitsync.tasks.result import ReconcileResult
from kitsync.worker.cursor import PollLock
from kitsync.worker.keyqueue import Claim, KeyQueue
from kitsync.worker.leases import LeaseLost, while_holding
from kitsync.worker.retries import (
    MAX_ATTEMPTS,
    MAX_DELAY,
    REPUBLISH_POLICY,
    TRANSIENT_ERRORS,
    backoff,
    is_transient,
)
from kitsync.worker.runtime import Runtime
from kitsync.worker.sink import CelerySink

log = logging.getLogger("kitsync.worker")

SEEN_TTL = 7 * 24 * 3600
# Celery's own retries (ingest, full reconciles): exponential, capped, with jitter.
BACKOFF: dict[str, Any] = {
    "retry_backoff": True,
    "retry_backoff_max": int(MAX_DELAY),
    "retry_jitter": True,
}
PROJECT_TIME_LIMIT = 3600
DELETE_RECHECK = "delete-recheck"
DELETE_RECHECK_AFTER = 5.0


def _utc_now() -> datetime:
    """Naive UTC, as Kitsu stamps its events."""
    return datetime.now(UTC).replace(tzinfo=None)


def _earliest_events(events: Iterable[KitsuEvent]) -> dict[str, datetime]:
    """For each key, when the oldest event that dirtied it happened (for the latency metric)."""
    earliest: dict[str, datetime] = {}
    for event in events:
        for key in map(str, keys_for_event(event)):
            if key not in earliest or event.created_at < earliest[key]:
                earliest[key] = event.created_at
    return earliest


def owner_name(hostname: str | None) -> str:
    return f"{hostname or socket.gethostname()}:{os.getpid()}"


def register(app: Celery, settings: Settings, runtime: Runtime) -> None:
    prefix = settings.redis_prefix
    lease = settings.lease_seconds

    def schedule(
        keys: Iterable[str],
        countdown: float | None = None,
        since: Mapping[str, datetime] | None = None,
    ) -> None:
        """One reconcile task per key; ``since``: when the Kitsu event behind it happened."""
        for key in keys:
            when = (since or {}).get(key)
            kwargs = {"since": when.isoformat()} if when else {}
            app.send_task("kitsync.reconcile", args=(key,), kwargs=kwargs, countdown=countdown)

    def trigger(keys: Iterable[str]) -> None:
        """Keys found to need a reconcile while another ran: queued like an event's."""
        schedule(runtime.run(runtime.queue().add(list(keys))))

    @app.task(
        shared=False,
        name="kitsync.ingest",
        autoretry_for=(Exception,),
        dont_autoretry_for=(ValueError,),
        retry_kwargs={"retry_policy": REPUBLISH_POLICY},
        **BACKOFF,
        max_retries=None,
    )
    def ingest(events: list[dict[str, Any]], source: str) -> dict[str, Any]:
        parsed = [KitsuEvent.model_validate(event) for event in events]
        routed = route(parsed)
        queue = runtime.queue()
        scheduled = runtime.run(queue.add([str(key) for key in routed.keys]))
        schedule(scheduled, since=_earliest_events(parsed))
        if source != DELETE_RECHECK:
            # Zou emits asset:delete before it deletes the row, so the first reconcile can still
            # find the asset: look at every delete once more a little later.
            deletes = [event for event in events if str(event.get("name", "")).endswith(":delete")]
            if deletes:
                app.send_task(
                    "kitsync.ingest", args=(deletes, DELETE_RECHECK), countdown=DELETE_RECHECK_AFTER
                )
        recorded = runtime.run(record_kitsu_events(runtime.context(), parsed))
        # Only now: a failure above retries this task with the events still unseen.
        runtime.run(queue.first_seen([event.id for event in parsed], SEEN_TTL))
        summary = {
            "source": source,
            "events": len(parsed),
            "keys": len(routed.keys),
            "scheduled": len(scheduled),
            "recorded": recorded,
            "ignored": dict(routed.ignored),
        }
        log.info(
            "ingest from %s: %s events -> %s keys, %s scheduled",
            source,
            len(parsed),
            len(routed.keys),
            len(scheduled),
        )
        return summary

    @app.task(name="kitsync.reconcile", bind=True, shared=False)
    def reconcile(task: Task, key: str, since: str | None = None) -> dict[str, Any]:
        owner = owner_name(task.request.hostname)
        queue = runtime.queue()
        claim = runtime.run(queue.claim(key, owner, lease))
        if claim is Claim.NOT_QUEUED and runtime.single_process:
            # The in-process queue forgot this task's key in a restart; the task is the truth.
            runtime.run(queue.add([key]))
            claim = runtime.run(queue.claim(key, owner, lease))
        if claim is Claim.NOT_QUEUED:
            return {"key": key, "outcome": "duplicate delivery, dropped"}
        if claim is Claim.NOT_DUE:
            return {"key": key, "outcome": "retry not due yet (its task is scheduled), dropped"}
        if claim is Claim.BUSY:
            schedule([key], countdown=lease / 4)
            return {"key": key, "outcome": "busy elsewhere, retrying later"}
        log.debug("claimed %s as %s", key, owner)
        kind = key.split("/")[1] if key.count("/") == 2 else "unknown"
        try:
            result = _reconcile_holding(queue, key, owner)
        except LeaseLost as lost:
            log.warning("%s", lost)
            return {"key": key, "outcome": "lease lost, taken over"}
        except Exception as error:
            failed = _failed(queue, key, owner, error)
            RECONCILES.labels(kind, failed["outcome"]).inc()
            return failed
        if runtime.run(queue.done(key, owner)):
            schedule([key])
        if result.follow_ups:
            trigger(result.follow_ups)
        RECONCILES.labels(kind, result.outcome).inc()
        if since is not None and result.outcome == "changed":
            LATENCY.observe((_utc_now() - datetime.fromisoformat(since)).total_seconds())
        log.info("reconciled %s", result.describe())
        _record(Key.parse(key), result, None)
        return {
            "key": key,
            "outcome": result.outcome,
            "changes": dict(result.changes),
            "notes": list(result.notes),
        }

    def _reconcile_holding(queue: KeyQueue, key: str, owner: str) -> ReconcileResult:
        work = reconcile_key(runtime.context(), Key.parse(key))
        try:
            return runtime.run(while_holding(queue, key, owner, lease, work))
        finally:
            # Before the key is released: the span logged lies within the lease (tests check
            # that no key is reconciled twice at once from these lines).
            log.debug("ended %s as %s", key, owner)

    def _failed(queue: KeyQueue, key: str, owner: str, error: Exception) -> dict[str, Any]:
        message = f"{type(error).__name__}: {error}"
        attempts = runtime.run(queue.attempts(key))
        if is_transient(error) and attempts < MAX_ATTEMPTS:
            delay = backoff(attempts)
            if runtime.run(queue.fail(key, owner, message, retry_in=delay)):
                schedule([key], countdown=delay)
            log.warning(
                "reconcile %s failed (attempt %s), retrying in %.0f s: %s",
                key,
                attempts,
                delay,
                message,
            )
            return {"key": key, "outcome": "retrying", "error": message}
        if runtime.run(queue.fail(key, owner, message, retry_in=None)):
            schedule([key])
        with suppress(ValueError):
            _record(Key.parse(key), None, message)
        log.error(
            "reconcile %s failed for good after %s attempts, dead-lettered: %s",
            key,
            attempts,
            message,
        )
        return {"key": key, "outcome": "dead letter", "error": message}

    def _record(key: Key, result: ReconcileResult | None, error: str | None) -> None:
        # The AYON record is an audit trail: failing to write it must not re-run the reconcile.
        try:
            runtime.run(record_reconcile(runtime.context(), key, result, error))
        except AyonError as failure:
            log.warning("could not record %s in AYON's events: %s", key, failure)

    @app.task(name="kitsync.poll", bind=True, shared=False)
    def poll(task: Task) -> dict[str, Any]:
        context = runtime.context()  # made (on the loop) before the loop runs _poll
        return runtime.run(_poll(owner_name(task.request.hostname), context))

    async def _poll(owner: str, context: SyncContext) -> dict[str, Any]:
        sink = CelerySink(app, runtime.queue())

        async def submit(events: Sequence[KitsuEvent]) -> int:
            return (await sink.submit(events, source="poller")).accepted

        async def poll() -> PollOutcome:
            return await poll_once(
                context.kitsu,
                runtime.cursor(),
                submit,
                now=_utc_now(),
            )

        if runtime.single_process:
            outcome = await poll()  # one process, one beat: nothing to race with
        else:
            redis = runtime.redis()
            ttl = int(settings.poll_interval * 6) + 60
            lock = PollLock(redis, prefix, owner, ttl_seconds=ttl)
            if not await lock.acquire():
                return {"outcome": "another poll is running"}
            try:
                outcome = await poll()
                await redis.set(f"{prefix}poll:last", datetime.now(UTC).isoformat())
            finally:
                await lock.release()
        POLLER_LAG.set(max(0.0, (_utc_now() - outcome.cursor).total_seconds()))
        stats = await runtime.queue().stats()
        for state, count in (
            ("queued", stats.queued),
            ("processing", len(stats.processing)),
            ("dirty", stats.dirty),
            ("dead", stats.dead),
        ):
            KEYS.labels(state).set(count)
        log.info("poll: %s", outcome.describe())
        return {"read": outcome.read, "new": outcome.new, "cursor": outcome.cursor.isoformat()}

    @app.task(
        name="kitsync.reconcile_project",
        shared=False,
        # Redis errors too: the project's anatomy lock lives there.
        autoretry_for=TRANSIENT_ERRORS,
        **BACKOFF,
        max_retries=MAX_ATTEMPTS,
        soft_time_limit=PROJECT_TIME_LIMIT,
        time_limit=PROJECT_TIME_LIMIT + 60,
    )
    def reconcile_project(project_id: str) -> dict[str, Any]:
        context = runtime.context()
        report = runtime.run(_reconcile_project(context, project_id))
        if report.follow_ups:
            trigger(report.follow_ups)
            log.info("full reconcile: %s keys changed in Kitsu meanwhile", len(report.follow_ups))
        log.info("full reconcile: %s", report.describe())
        return {
            "project": report.project,
            "outcome": report.outcome,
            "changes": dict(report.changes),
            "failures": [failure.describe() for failure in report.failures],
        }

    async def _reconcile_project(context: SyncContext, project_id: str) -> ProjectReport:
        project = await context.reader.paired_project(project_id)
        if project is None:
            raise ProjectNotPaired(f"Kitsu project {project_id} is not paired with AYON")
        shown = SyncProgress(context, project, project_id)
        await shown.start()
        try:
            report = await run_full_reconcile(context, project_id, progress=shown.update)
        except Exception as error:
            await shown.finish(
                f"failed: {type(error).__name__}", {"error": str(error)}, failed=True
            )
            raise
        await shown.finish(
            report.describe(),
            {"changes": dict(report.changes), "failures": [f.describe() for f in report.failures]},
            failed=bool(report.failures),
        )
        return report

    @app.task(name="kitsync.reconcile_all", shared=False)
    def reconcile_all() -> dict[str, Any]:
        """Queue a full reconcile of every paired project (beat, and `kitsync run` at start)."""
        paired = runtime.run(runtime.context().reader.paired_projects())
        for project_id in sorted(paired):
            app.send_task("kitsync.reconcile_project", args=(project_id,))
        return {"queued": sorted(paired.values())}

    @app.task(name="kitsync.recover", shared=False)
    def recover() -> dict[str, Any]:
        keys = runtime.run(runtime.queue().recover(settings.recover_after))
        schedule(keys)
        if keys:
            log.warning("re-scheduled %s keys whose task was lost", len(keys))
        return {"rescheduled": keys}
