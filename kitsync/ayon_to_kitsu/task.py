"""The AYON -> Kitsu half of a task key's reconcile: AYON's status and assignees, written to Kitsu
where AYON's changed since the last sync (see ``rules.decide``).

It runs first, under the key's lease, before the Kitsu -> AYON half (``reconcile_entity``): what
it writes to Kitsu is then read back by that half, which finds AYON already in step. Level-
triggered: it reads both servers now, whatever event brought it here, and writes to Kitsu only
what differs, so a duplicate or a replay writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from kitsync.ayon import AyonReads, AyonWriter
from kitsync.ayon_to_kitsu.rules import Decision, assignee_view, decide, kitsu_status_for
from kitsync.ayon_to_kitsu.state import Agreed, SyncState, TaskState
from kitsync.config import TwoWayField
from kitsync.errors import KitsyncError
from kitsync.kitsu import KitsuClient, KitsuNotFound
from kitsync.metrics import CONFLICTS, KITSU_WRITES
from kitsync.schemas import AyonTask, KitsuTask

CONFLICT_TOPIC = "kitsync.conflict"
_T = TypeVar("_T")


class UnmappedStatus(KitsyncError):
    """An AYON status that names no Kitsu task status: permanent until someone adds it to Kitsu
    (or changes the task in AYON), then ``kitsync dlq replay``."""


@dataclass(frozen=True)
class TwoWay:
    """The AYON -> Kitsu direction, on for these fields."""

    fields: frozenset[TwoWayField]
    state: SyncState


@dataclass(frozen=True)
class PushResult:
    changes: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # AYON assignees with no Kitsu person: the Kitsu -> AYON half must leave them in AYON.
    keep_assignees: tuple[str, ...] = ()
    # An AYON status Kitsu does not have: the key fails for good (after the rest was pushed).
    failure: str | None = None
    # The task is not in AYON yet: the Kitsu -> AYON half creates it (push again after, to
    # record the values both sides then have).
    not_in_ayon: bool = False
    # Fields the Kitsu -> AYON half must leave alone: pushed to Kitsu or found in step. Had a
    # person changed one in AYON since this push read it, writing Kitsu's value would undo that
    # change for good (its own event would then find both sides equal; found by the fault tier).
    hold: frozenset[TwoWayField] = frozenset()
    # Values Kitsu won (a person changed them in Kitsu): the base once the Kitsu -> AYON half
    # has written them to AYON, not before. Recorded at once, a failed write would leave AYON's
    # old value looking like a change made in AYON, and the retry would push it to Kitsu.
    agree_when_written: Agreed = field(default_factory=Agreed)


@dataclass(frozen=True)
class _Task:
    key: str
    project: str
    project_id: str
    kitsu: KitsuTask
    ayon: AyonTask
    state: TaskState

    @property
    def kitsu_changed_at(self) -> datetime | None:
        stamp = self.kitsu.updated_at
        return stamp.replace(tzinfo=UTC) if stamp and stamp.tzinfo is None else stamp

    @property
    def changed_by(self) -> str:
        return self.state.ayon_user or "an AYON user"


async def push_task(
    two_way: TwoWay,
    kitsu: KitsuClient,
    reader: AyonReads,
    writer: AyonWriter,
    project_id: str,
    kitsu_id: str,
) -> PushResult:
    """Write AYON's changes of one task to Kitsu; what it did."""
    key = f"{project_id}/task/{kitsu_id}"
    project = await reader.paired_project(project_id)
    if project is None:
        return PushResult()
    try:
        kitsu_task = await kitsu.get_entity("task", kitsu_id)
    except KitsuNotFound:
        return PushResult()  # gone from Kitsu: the Kitsu -> AYON half removes it from AYON
    ayon_task = (await reader.tasks_by_kitsu_ids(project, [kitsu_id])).get(kitsu_id)
    if ayon_task is None:
        return PushResult(not_in_ayon=True)
    task = _Task(key, project, project_id, kitsu_task, ayon_task, await two_way.state.get(key))
    pushes: list[Coroutine[Any, Any, PushResult]] = []
    if "status" in two_way.fields:
        pushes.append(_push_status(two_way.state, kitsu, writer, task))
    if "assignees" in two_way.fields:
        pushes.append(_push_assignees(two_way.state, kitsu, reader, writer, task))
    # gather, not a TaskGroup: the worker tells a transient error by its type, which an
    # ExceptionGroup would hide (found by the fault tier: Kitsu 5xx became dead letters).
    return _merged(list(await asyncio.gather(*pushes)))


async def _push_status(
    state: SyncState, kitsu: KitsuClient, writer: AyonWriter, task: _Task
) -> PushResult:
    statuses = await kitsu.task_statuses(task.project_id)
    mapped = kitsu_status_for(task.ayon.status, statuses)
    names = {status.id: status.name for status in statuses}
    current = task.kitsu.task_status_id
    # An AYON status with no Kitsu twin can never equal Kitsu's: it differs from the base too.
    ayon_value = mapped.id if mapped else f"ayon:{task.ayon.status}"
    decision = _decide(task, ayon_value, current, task.state.status)
    if decision.conflict:
        await _record_conflict(
            writer, task, "status", decision, task.ayon.status, names.get(current, current)
        )
    if decision.action == "to ayon":
        return PushResult(agree_when_written=Agreed(status=current))
    if decision.action != "to kitsu":
        await state.agree({task.key: Agreed(status=current)})
        return PushResult(hold=_held("status", decision))
    if mapped is None:
        return PushResult(
            failure=(
                f"AYON status {task.ayon.status!r} of task {task.ayon.name} has no Kitsu task "
                "status of that name or short name: add it in Kitsu or change the task in AYON, "
                f"then `kitsync dlq replay {task.key}`"
            )
        )
    text = f"Status set to {task.ayon.status} in AYON by {task.changed_by} (synced by kitsync)."
    await kitsu.comment_status(task.kitsu.id, mapped.id, text)
    KITSU_WRITES.labels("status").inc()
    await state.agree({task.key: Agreed(status=mapped.id)})
    return PushResult({"kitsu status": 1}, hold=_held("status", decision))


async def _push_assignees(
    state: SyncState, kitsu: KitsuClient, reader: AyonReads, writer: AyonWriter, task: _Task
) -> PushResult:
    persons, ayon_emails = await asyncio.gather(
        kitsu.persons(), reader.user_emails(task.ayon.assignees)
    )
    email_of = {person.id: person.email for person in persons if person.email}
    assigned = list(task.kitsu.assignees or ())
    users_by_email = await reader.users_by_email(
        email_of[person] for person in assigned if person in email_of
    )
    view = assignee_view(task.ayon.assignees, ayon_emails, assigned, persons, users_by_email)
    notes = tuple(
        f"task {task.ayon.name}: AYON user {user} has no Kitsu person (by e-mail), skipped"
        for user in view.ayon_unknown
    )
    base = frozenset(task.state.assignees) if task.state.assignees is not None else None
    decision = _decide(task, view.ayon, view.kitsu, base)
    if decision.conflict:
        await _record_conflict(
            writer,
            task,
            "assignees",
            decision,
            sorted(email_of.get(p, p) for p in view.ayon),
            sorted(email_of.get(p, p) for p in view.kitsu),
        )
    if decision.action == "to ayon":
        return PushResult(
            notes=notes,
            keep_assignees=view.ayon_unknown,
            agree_when_written=Agreed(assignees=tuple(view.kitsu)),
        )
    if decision.action != "to kitsu":
        await state.agree({task.key: Agreed(assignees=tuple(view.kitsu))})
        return PushResult(
            notes=notes, keep_assignees=view.ayon_unknown, hold=_held("assignees", decision)
        )
    target = view.kitsu_target()
    added = sorted(target - set(assigned))
    removed = sorted(set(assigned) - target)
    # One request per person (Zou's routes take many tasks for one person, not the reverse).
    await asyncio.gather(
        *(kitsu.assign(person, [task.kitsu.id]) for person in added),
        *(kitsu.unassign(person, [task.kitsu.id]) for person in removed),
    )
    KITSU_WRITES.labels("assign").inc(len(added))
    KITSU_WRITES.labels("unassign").inc(len(removed))
    await state.agree({task.key: Agreed(assignees=tuple(view.ayon))})
    changes = {"kitsu assign": len(added), "kitsu unassign": len(removed)}
    return PushResult(
        {what: count for what, count in changes.items() if count},
        notes,
        view.ayon_unknown,
        hold=_held("assignees", decision),
    )


def _held(field_name: TwoWayField, decision: Decision) -> frozenset[TwoWayField]:
    """Only a field Kitsu wins is the Kitsu -> AYON half's to write."""
    return frozenset() if decision.action == "to ayon" else frozenset({field_name})


def _decide(task: _Task, ayon: Any, kitsu: Any, base: Any) -> Decision:
    return decide(
        ayon,
        kitsu,
        base,
        ayon_changed_at=task.state.ayon_changed_at,
        kitsu_changed_at=task.kitsu_changed_at,
    )


async def _record_conflict(
    writer: AyonWriter,
    task: _Task,
    field_name: str,
    decision: Decision,
    ayon_value: Any,
    kitsu_value: Any,
) -> None:
    """The loser of a conflict, as an AYON event a supervisor can find (topic
    ``kitsync.conflict``): both values, both change times, who won."""
    winner = decision.winner or "kitsu"
    loser = "kitsu" if winner == "ayon" else "ayon"
    CONFLICTS.labels(field_name, winner).inc()
    await writer.emit_event(
        CONFLICT_TOPIC,
        project=task.project,
        hash=None,
        description=(
            f"task {task.ayon.name}: {field_name} changed in both AYON and Kitsu; "
            f"{winner} won, {loser}'s value was replaced"
        ),
        summary={
            "key": task.key,
            "entityId": task.ayon.id,
            "field": field_name,
            "winner": winner,
            "ayonValue": ayon_value,
            "kitsuValue": kitsu_value,
            "ayonChangedAt": _iso(task.state.ayon_changed_at),
            "ayonUser": task.state.ayon_user,
            "kitsuChangedAt": _iso(task.kitsu_changed_at),
            "baseKnown": _has_base(task.state, field_name),
        },
    )


def _has_base(state: TaskState, field_name: str) -> bool:
    return (state.status if field_name == "status" else state.assignees) is not None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _merged(results: list[PushResult]) -> PushResult:
    changes: dict[str, int] = {}
    for result in results:
        changes.update(result.changes)
    return PushResult(
        changes,
        tuple(note for result in results for note in result.notes),
        tuple(user for result in results for user in result.keep_assignees),
        next((result.failure for result in results if result.failure), None),
        hold=frozenset().union(*(result.hold for result in results)),
        agree_when_written=Agreed(
            status=_first(result.agree_when_written.status for result in results),
            assignees=_first(result.agree_when_written.assignees for result in results),
        ),
    )


def _first(values: Iterable[_T | None]) -> _T | None:
    return next((value for value in values if value is not None), None)
