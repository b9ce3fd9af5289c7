"""Reading AYON's task changes durably: AYON's own job queue over its events (``POST
/api/enroll``), turned into task keys for the key queue.

Each job is one AYON event (``entity.task.status_changed`` / ``assignees_changed``) with no
finished ``kitsync.ayon_to_kitsu`` event yet. AYON keeps that record, so nothing is lost while
kitsync is down, and hands an unfinished job back to the sender that took it: a drain killed
mid-job gets it again (at-least-once; the reconcile is idempotent). kitsync's own writes carry
``X-Sender-Type: kitsu`` and are never handed out (``ignoreSenderTypes``).

A job is finished only after its key is in the key queue. Several lanes (sender names) take jobs
at once, as AYON lets non-sequential senders skip each other's open jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kitsync.ayon import AyonNotFound, AyonReads, AyonWriter
from kitsync.ayon_to_kitsu.rules import TOPICS, is_own_write
from kitsync.ayon_to_kitsu.state import DrainRecord, SyncState
from kitsync.config import TwoWayField
from kitsync.metrics import AYON_EVENTS, AYON_EVENTS_LAG
from kitsync.schemas.ayon import AyonEventRecord, EnrollRequest

TARGET_TOPIC = "kitsync.ayon_to_kitsu"
LANES = 4
# Jobs per drain: a drain is one beat-run task, and must end well inside its time limit.
BUDGET = 2000

QueueKeys = Callable[[Sequence[str]], Awaitable[None]]
"""Puts task keys in the key queue (and schedules their reconciles)."""


@dataclass(frozen=True)
class DrainOutcome:
    jobs: int
    queued: int
    ignored: int
    lag_seconds: float

    def describe(self) -> str:
        return (
            f"{self.jobs} AYON events: {self.queued} queued, {self.ignored} ignored; "
            f"lag {self.lag_seconds:.0f} s"
        )


def enroll_request(fields: frozenset[TwoWayField]) -> EnrollRequest:
    return EnrollRequest(
        source_topic=sorted(TOPICS[f] for f in fields),
        target_topic=TARGET_TOPIC,
        description="kitsync: AYON task change -> Kitsu",
        ignore_sender_types=["kitsu"],
    )


class _Drain:
    def __init__(
        self,
        writer: AyonWriter,
        reader: AyonReads,
        state: SyncState,
        queue_keys: QueueKeys,
        budget: int,
    ) -> None:
        self.writer = writer
        self.reader = reader
        self.state = state
        self.queue_keys = queue_keys
        self.left = budget
        self.jobs = self.queued = self.ignored = 0
        self.emptied = False
        self.newest_seen: datetime | None = None
        self._paired: dict[str, str] | None = None

    async def lane(self, request: EnrollRequest, sender: str) -> None:
        while self.left > 0:
            self.left -= 1
            job = await self.writer.enroll(request, sender=sender)
            if job is None:
                self.emptied = True
                return
            event = await self.writer.event(job.depends_on)
            key, outcome = await self.key_of(event)
            if key is not None:
                await self.state.ayon_changed(key, event.created_at, event.user)
                await self.queue_keys([key])
                self.queued += 1
            else:
                self.ignored += 1
            AYON_EVENTS.labels(outcome).inc()
            self.jobs += 1
            if self.newest_seen is None or event.created_at > self.newest_seen:
                self.newest_seen = event.created_at
            await self.writer.update_event(
                job.id, status="finished", sender=sender, summary={"key": key, "outcome": outcome}
            )

    async def key_of(self, event: AyonEventRecord) -> tuple[str | None, str]:
        """The task key an AYON event dirties, or None and why it is ignored."""
        if is_own_write(event):
            return None, "own write"
        if self._paired is None:
            paired = await self.reader.paired_projects()
            self._paired = {name: kitsu_id for kitsu_id, name in paired.items()}
        project_id = self._paired.get(event.project or "")
        task_id = event.summary.get("entityId")
        if project_id is None or event.project is None:
            return None, "unpaired project"
        if not isinstance(task_id, str):
            return None, "no task"
        try:
            task = (await self.reader.tasks_by_ids(event.project, [task_id])).get(task_id)
        except (AyonNotFound, ValueError):
            return None, "no task"  # the project went away, or a malformed id
        if task is None:
            return None, "no task"  # deleted since
        if task.kitsu_id is None:
            return None, "not from Kitsu"
        return f"{project_id}/task/{task.kitsu_id}", "queued"


async def drain_ayon_events(
    writer: AyonWriter,
    reader: AyonReads,
    state: SyncState,
    fields: frozenset[TwoWayField],
    queue_keys: QueueKeys,
    *,
    lanes: int = LANES,
    budget: int = BUDGET,
    sender_prefix: str = "kitsync-ayon-events",
) -> DrainOutcome:
    """Take AYON's waiting task events until none is left (or ``budget`` jobs), queue their keys.

    Sender names are stable (``<prefix>-<lane>``): after a crash the next drain gets the jobs
    the last one left open. Run one drain at a time (the beat task holds a lock).
    """
    drain = _Drain(writer, reader, state, queue_keys, budget)
    request = enroll_request(fields)
    async with asyncio.TaskGroup() as group:
        for lane in range(lanes):
            group.create_task(drain.lane(request, f"{sender_prefix}-{lane}"))
    now = datetime.now(UTC)
    lag = 0.0 if drain.emptied or drain.newest_seen is None else _age(now, drain.newest_seen)
    AYON_EVENTS_LAG.set(lag)
    await state.drained(DrainRecord(now, drain.jobs, lag))
    return DrainOutcome(drain.jobs, drain.queued, drain.ignored, lag)


def _age(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then).total_seconds())
