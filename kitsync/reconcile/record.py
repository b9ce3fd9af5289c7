"""What kitsync did, recorded as AYON events, so a TD can follow it in AYON's event viewer.

- ``kitsu.event``: one per Kitsu event processed, with the keys it dirtied. Its hash is derived
  from the Kitsu event id, so recording the same event twice is a 409 that is ignored.
- ``kitsync.reconcile``: one per reconcile that changed AYON (what changed), or that failed for
  good (status ``failed``, with the error).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from kitsync.ayon import AyonError, AyonUnavailable
from kitsync.core.routing import Key, keys_for_event
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.progress import PhaseMeter
from kitsync.reconcile.result import ReconcileResult
from kitsync.schemas import KitsuEvent

KITSU_EVENT_TOPIC = "kitsu.event"
RECONCILE_TOPIC = "kitsync.reconcile"
# An event record AYON could not take (a 503, a timeout) is tried again on the spot, then given
# up: the record is an audit trail, and must never hold up or repeat the ingest it belongs to.
RECORD_ATTEMPTS = 3
RECORD_RETRY_DELAY = 0.5  # seconds, times the attempt

log = logging.getLogger("kitsync.record")


def kitsu_event_hash(event_id: str) -> str:
    return f"kitsu.event.{event_id}"


@dataclass(frozen=True)
class Recorded:
    """What became of a batch of ``kitsu.event`` records."""

    new: int  # recorded now
    failed: int  # given up after RECORD_ATTEMPTS (AYON down, or refusing them)


async def record_kitsu_events(ctx: SyncContext, events: Sequence[KitsuEvent]) -> Recorded:
    """Record the events of paired projects, each tried ``RECORD_ATTEMPTS`` times when AYON is
    unavailable; a record AYON refuses or keeps failing is counted and logged, never raised.

    The requests wait for the AYON client's connections (its pool is the process's limit on
    requests in flight), so a batch of thousands queues instead of timing out.
    """
    paired = await ctx.reader.paired_projects()

    async def record(event: KitsuEvent) -> bool:
        project_id = event.project_id or event.data.get("project_id")
        project = paired.get(project_id) if isinstance(project_id, str) else None
        if project is None:
            return False
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                created = await ctx.writer.emit_event(
                    KITSU_EVENT_TOPIC,
                    project=project,
                    hash=kitsu_event_hash(event.id),
                    description=f"Kitsu {event.name}",
                    summary={
                        "kitsuEventId": event.id,
                        "name": event.name,
                        "kitsuProjectId": project_id,
                        "createdAt": event.created_at.isoformat(),
                        "keys": [str(key) for key in keys_for_event(event)],
                    },
                    payload={"data": event.data},
                )
            except AyonUnavailable:
                if attempt == RECORD_ATTEMPTS:
                    raise
                await asyncio.sleep(RECORD_RETRY_DELAY * attempt)
            else:
                return created is not None
        raise AssertionError("unreachable")

    outcomes = await asyncio.gather(*(record(event) for event in events), return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    for failure in failures:
        if not isinstance(failure, AyonError):
            raise failure
    if failures:
        log.warning(
            "%s of %s Kitsu events not recorded in AYON's events: %s",
            len(failures),
            len(events),
            failures[0],
        )
    return Recorded(sum(outcome is True for outcome in outcomes), len(failures))


async def record_reconcile(
    ctx: SyncContext, key: Key, result: ReconcileResult | None, error: str | None = None
) -> None:
    """Record a reconcile that changed something (``result``) or failed for good (``error``)."""
    if error is None and (result is None or result.outcome != "changed"):
        return
    project = await ctx.reader.paired_project(key.project_id)
    if project is None:
        return
    if error is None and result is not None:
        await ctx.writer.emit_event(
            RECONCILE_TOPIC,
            project=project,
            hash=None,
            description=result.describe(),
            summary={"key": str(key), "changes": dict(result.changes), "notes": list(result.notes)},
        )
        return
    event_id = await ctx.writer.emit_event(
        RECONCILE_TOPIC,
        project=project,
        hash=None,
        description=f"{key}: failed",
        summary={"key": str(key)},
        finished=False,
    )
    if event_id is not None:
        await ctx.writer.update_event(
            event_id, status="failed", summary={"key": str(key), "error": error}
        )


SYNC_TOPIC = "kitsync.sync"


class SyncProgress:
    """A full reconcile shown as one AYON event: pending, in progress (at each phase and every
    tenth of the writes, with counts and rates: ``kitsync.reconcile.progress``), then finished
    or failed with the report and the phases' figures. ``update`` is the reconcile's progress
    callback.

    The event is an audit trail, as the reconcile records are: when AYON fails to take it (down,
    timing out), that is logged and the reconcile goes on; it is never a reason to run the whole
    reconcile again.
    """

    def __init__(self, ctx: SyncContext, project: str, project_id: str) -> None:
        self._ctx = ctx
        self._project = project
        self._project_id = project_id
        self._event_id: str | None = None
        self._shown = -1
        self._meter = PhaseMeter()
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        try:
            self._event_id = await self._ctx.writer.emit_event(
                SYNC_TOPIC,
                project=self._project,
                hash=None,
                description=f"full sync of Kitsu project {self._project_id}",
                summary={"kitsuProjectId": self._project_id},
                finished=False,
            )
        except AyonError as error:
            log.warning("could not show the full sync of %s in AYON: %s", self._project, error)

    def update(self, done: int, total: int, phase: str) -> None:
        ended = self._meter.update(done, total, phase)
        tenth = done * 10 // total if total else 10
        if self._event_id is None or (ended is None and tenth == self._shown):
            return
        self._shown = tenth
        current = self._meter.current
        summary = {
            "kitsuProjectId": self._project_id,
            **(current.summary() if current else {}),
            "phases": self._phases(),
        }
        task = asyncio.create_task(
            self._ctx.writer.update_event(self._event_id, status="in_progress", summary=summary)
        )
        self._pending.add(task)
        task.add_done_callback(self._updated)

    def _phases(self) -> list[dict[str, object]]:
        """Every phase so far, with its count, time and rate."""
        return [stats.summary() for stats in self._meter.phases]

    def _updated(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        # Retrieved here: a task that failed before ``finish`` gathers it is no longer pending.
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.warning("could not show the progress of %s in AYON: %s", self._project, error)

    async def finish(self, description: str, summary: dict[str, object], *, failed: bool) -> None:
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._event_id is None:
            return
        try:
            await self._ctx.writer.update_event(
                self._event_id,
                status="failed" if failed else "finished",
                summary={"kitsuProjectId": self._project_id, **summary, "phases": self._phases()},
                description=description,
            )
        except AyonError as error:
            log.warning("could not show the end of the full sync of %s: %s", self._project, error)
