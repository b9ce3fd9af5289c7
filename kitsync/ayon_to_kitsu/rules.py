"""The pure rules of the AYON -> Kitsu direction: which AYON events count, how an AYON status
names a Kitsu status, and who wins when a task field differs between the two servers.

Values are compared in Kitsu's terms: a status as the Kitsu status id it maps to, assignees as
the set of Kitsu person ids. The last value both sides agreed on (the *base*, kept by kitsync
after every reconcile of the task) tells which side changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from kitsync.ayon import SENDER, SENDER_TYPE
from kitsync.config import TwoWayField
from kitsync.schemas.ayon import AyonEventRecord, Operation
from kitsync.schemas.kitsu import KitsuPerson, KitsuTask, KitsuTaskStatus

# AYON's wire name of each field in a task update.
WIRE_NAMES: Mapping[TwoWayField, str] = {"status": "status", "assignees": "assignees"}
TOPICS: Mapping[TwoWayField, str] = {
    "status": "entity.task.status_changed",
    "assignees": "entity.task.assignees_changed",
}

V = TypeVar("V")
Action = Literal["in step", "to kitsu", "to ayon"]


def is_own_write(event: AyonEventRecord) -> bool:
    """An AYON change kitsync made itself (or another Kitsu-side service: ayon-kitsu sends the
    same sender type). Never sent back to Kitsu."""
    return event.sender == SENDER or event.sender_type == SENDER_TYPE


def kitsu_status_for(
    ayon_status: str, statuses: Iterable[KitsuTaskStatus]
) -> KitsuTaskStatus | None:
    """The Kitsu status an AYON status names: same name, else same short name, ignoring case
    (kitsync adds Kitsu's statuses to AYON by name; ayon-kitsu's short names also match)."""
    wanted = ayon_status.casefold()
    candidates = list(statuses)
    for status in candidates:
        if status.name.casefold() == wanted:
            return status
    for status in candidates:
        if status.short_name and status.short_name.casefold() == wanted:
            return status
    return None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    # Both sides changed since the last sync (or kitsync has no record of one): the loser's
    # value is recorded as a ``kitsync.conflict`` event.
    conflict: bool = False

    @property
    def winner(self) -> Literal["ayon", "kitsu"] | None:
        if self.action == "in step":
            return None
        return "ayon" if self.action == "to kitsu" else "kitsu"


def decide(
    ayon: V,
    kitsu: V,
    base: V | None,
    *,
    ayon_changed_at: datetime | None,
    kitsu_changed_at: datetime | None,
) -> Decision:
    """Which way one field flows.

    - Equal: in step.
    - Only one side differs from the base: that side changed, it wins.
    - Both differ from the base (or there is no base): a conflict; the later change wins by the
      two servers' own clocks (AYON's event time against Kitsu's ``updated_at`` of the task).
      Without an AYON change time, or on a tie, Kitsu wins: it is the side kitsync has always
      followed.
    """
    if ayon == kitsu:
        return Decision("in step")
    if base is not None:
        if kitsu == base:
            return Decision("to kitsu")
        if ayon == base:
            return Decision("to ayon")
    ayon_later = ayon_changed_at is not None and (
        kitsu_changed_at is None or ayon_changed_at > kitsu_changed_at
    )
    return Decision("to kitsu" if ayon_later else "to ayon", conflict=True)


@dataclass(frozen=True, slots=True)
class AssigneeView:
    """A task's assignees seen from both sides, in Kitsu person ids."""

    ayon: frozenset[str]  # AYON's assignees that have a Kitsu person (by e-mail)
    kitsu: frozenset[str]  # Kitsu's assignees that have an AYON user (AYON can show them)
    kitsu_hidden: frozenset[str]  # Kitsu's assignees with no AYON user: never touched
    ayon_unknown: tuple[str, ...]  # AYON users with no Kitsu person: reported, skipped

    def kitsu_target(self) -> frozenset[str]:
        """Kitsu's assignees once AYON's are written: exactly AYON's, plus those AYON cannot
        show (removing them would be a change nobody made)."""
        return self.ayon | self.kitsu_hidden


def assignee_view(
    ayon_users: Iterable[str],
    ayon_emails: Mapping[str, str],
    kitsu_assignees: Iterable[str],
    persons: Iterable[KitsuPerson],
    ayon_users_by_email: Mapping[str, str],
) -> AssigneeView:
    """Both sides' assignees in Kitsu person ids.

    ``ayon_emails``: AYON user name -> e-mail; ``ayon_users_by_email``: lower-cased e-mail ->
    AYON user name (for Kitsu's assignees); ``persons``: Kitsu's persons.
    """
    person_by_email = {p.email.lower(): p.id for p in persons if p.email}
    email_of_person = {p.id: p.email.lower() for p in persons if p.email}
    ayon: set[str] = set()
    unknown: list[str] = []
    for user in ayon_users:
        person = person_by_email.get(ayon_emails.get(user, ""))
        if person is None:
            unknown.append(user)
        else:
            ayon.add(person)
    visible: set[str] = set()
    hidden: set[str] = set()
    for person_id in kitsu_assignees:
        email = email_of_person.get(person_id)
        (visible if email and email in ayon_users_by_email else hidden).add(person_id)
    return AssigneeView(frozenset(ayon), frozenset(visible), frozenset(hidden), tuple(unknown))


def hold_back(
    operations: Iterable[Operation], fields: Iterable[TwoWayField]
) -> tuple[tuple[Operation, ...], frozenset[str]]:
    """Task updates without the two-way ``fields``, and the AYON ids of the tasks they were
    taken from.

    A full reconcile writes Kitsu's values: for a field AYON may have changed (not yet read
    from its events), that would undo a person's change. Those tasks get a key reconcile
    instead, which applies the conflict rule; a key reconcile's Kitsu -> AYON half holds back
    the fields its AYON -> Kitsu half did not give to Kitsu's side. New tasks keep every field
    (nothing to undo).
    """
    wire = {WIRE_NAMES[field] for field in fields}
    kept: list[Operation] = []
    held: set[str] = set()
    for op in operations:
        touched = wire & set(op.data or ()) if op.type == "update" else set()
        if op.entity_type != "task" or not touched or op.entity_id is None:
            kept.append(op)
            continue
        held.add(op.entity_id)
        rest = {key: value for key, value in (op.data or {}).items() if key not in touched}
        if rest:
            kept.append(op.model_copy(update={"data": rest}))
    return tuple(kept), frozenset(held)


def kitsu_values(
    tasks: Iterable[KitsuTask],
    persons: Iterable[KitsuPerson],
    ayon_users_by_email: Mapping[str, str],
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per Kitsu task id: its status id and the assignees AYON can show (persons with an AYON
    user), as a task key's reconcile compares them; what a full reconcile records as the bases
    of the tasks it leaves in step."""
    email_of = {p.id: p.email.lower() for p in persons if p.email}
    return {
        task.id: (
            task.task_status_id,
            tuple(
                sorted(p for p in task.assignees or () if email_of.get(p) in ayon_users_by_email)
            ),
        )
        for task in tasks
    }
