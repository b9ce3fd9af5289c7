"""The pure rules of the AYON -> Kitsu direction: loop guard, status mapping, assignee views and
the conflict rule. Event rows are the recorded ones (tests/fixtures/ayon/events_stream/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kitsync.ayon_to_kitsu.events import enroll_request
from kitsync.ayon_to_kitsu.rules import (
    Decision,
    assignee_view,
    decide,
    hold_back,
    is_own_write,
    kitsu_status_for,
)
from kitsync.schemas.ayon import AyonEventRecord, Operation
from kitsync.schemas.kitsu import KitsuPerson, KitsuTaskStatus, parse_record
from tests.conftest import FIXTURES

STREAM = FIXTURES / "ayon" / "events_stream"
T0 = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)


def _row_as_event(row: dict[str, Any]) -> AyonEventRecord:
    """A recorded ``public.events`` row as ``GET /api/events/{id}`` shows it."""
    return AyonEventRecord.model_validate(
        {
            "id": row["id"],
            "topic": row["topic"],
            "sender": row["sender"],
            "senderType": row["sender_type"],
            "project": row["project_name"],
            "user": row["user_name"],
            "status": row["status"],
            "summary": row["summary"],
            "payload": row["payload"],
            "createdAt": row["created_at"],
        }
    )


def _recorded_rows(name: str) -> list[dict[str, Any]]:
    doc = json.loads((STREAM / f"{name}.json").read_text())
    rows: list[dict[str, Any]] = doc["observed_after"]["events_rows"]
    return rows


def test_a_persons_change_is_not_an_own_write_and_the_services_is() -> None:
    person = _recorded_rows("admin_task_status")
    service = _recorded_rows("service_task_status")
    # The recorder ran as "kitsync-test"; kitsync sends X-Sender "kitsync", type "kitsu".
    assert service[0]["sender_type"] == "kitsu"
    assert not is_own_write(_row_as_event(person[0]))
    assert is_own_write(_row_as_event(service[0]))
    ours = _row_as_event({**person[0], "sender": "kitsync", "sender_type": "api"})
    assert is_own_write(ours)


def test_the_recorded_get_event_answer_parses() -> None:
    doc = json.loads((STREAM / "rest_event_get_status_changed.json").read_text())
    event = AyonEventRecord.model_validate(doc["response"]["json"])
    assert event.topic == "entity.task.status_changed"
    assert event.summary["entityId"] == "d1eee853b7185168916414605dd11d40"
    assert event.sender_type == "api" and event.user == "admin"


def test_enroll_asks_for_the_enabled_fields_and_never_for_kitsyncs_own_writes() -> None:
    body = enroll_request(frozenset({"status"})).to_wire()
    assert body["sourceTopic"] == ["entity.task.status_changed"]
    assert body["ignoreSenderTypes"] == ["kitsu"]
    assert "*" not in body["targetTopic"]
    both = enroll_request(frozenset({"status", "assignees"})).to_wire()["sourceTopic"]
    assert both == ["entity.task.assignees_changed", "entity.task.status_changed"]


def _status(name: str, short: str, status_id: str) -> KitsuTaskStatus:
    return parse_record(
        KitsuTaskStatus, {"id": status_id, "name": name, "short_name": short, "type": "TaskStatus"}
    )


STATUSES = [
    _status("Work In Progress", "wip", "s-wip"),
    _status("Waiting For Approval", "wfa", "s-wfa"),
    _status("WIP", "w", "s-w"),
]


@pytest.mark.parametrize(
    ("ayon", "expected"),
    [
        ("Work In Progress", "s-wip"),
        ("work in progress", "s-wip"),
        ("WFA", "s-wfa"),
        ("wip", "s-w"),  # a name match wins over another status's short name
        ("Pending review", None),
    ],
)
def test_an_ayon_status_names_a_kitsu_status_by_name_else_short_name(
    ayon: str, expected: str | None
) -> None:
    found = kitsu_status_for(ayon, STATUSES)
    assert (found.id if found else None) == expected


def test_a_field_changed_only_in_ayon_goes_to_kitsu_whatever_the_clocks_say() -> None:
    # Kitsu's task was touched later (a description edit), but its status is the base.
    decision = decide("wfa", "wip", "wip", ayon_changed_at=T0, kitsu_changed_at=T0 + timedelta(1))
    assert decision == Decision("to kitsu") and decision.winner == "ayon"


def test_a_field_changed_only_in_kitsu_goes_to_ayon() -> None:
    decision = decide("wip", "done", "wip", ayon_changed_at=T0 + timedelta(1), kitsu_changed_at=T0)
    assert decision == Decision("to ayon") and decision.winner == "kitsu"


def test_equal_values_are_in_step_even_without_a_base() -> None:
    assert decide("x", "x", None, ayon_changed_at=None, kitsu_changed_at=None).action == "in step"


@pytest.mark.parametrize("base", ["wip", None])
def test_both_changed_the_later_change_wins_and_it_is_a_conflict(base: str | None) -> None:
    later_ayon = decide("wfa", "done", base, ayon_changed_at=T0 + timedelta(seconds=2),
                        kitsu_changed_at=T0)  # fmt: skip
    assert later_ayon == Decision("to kitsu", conflict=True)
    later_kitsu = decide("wfa", "done", base, ayon_changed_at=T0,
                         kitsu_changed_at=T0 + timedelta(seconds=2))  # fmt: skip
    assert later_kitsu == Decision("to ayon", conflict=True)


def test_a_tie_or_an_unknown_ayon_time_lets_kitsu_win() -> None:
    assert decide("a", "b", "c", ayon_changed_at=T0, kitsu_changed_at=T0).winner == "kitsu"
    assert decide("a", "b", None, ayon_changed_at=None, kitsu_changed_at=None).winner == "kitsu"


def _person(person_id: str, email: str | None) -> KitsuPerson:
    return parse_record(
        KitsuPerson, {"id": person_id, "first_name": person_id, "last_name": "", "email": email}
    )


def test_assignees_map_by_email_and_what_the_other_side_cannot_show_is_left_alone() -> None:
    persons = [
        _person("p-anna", "Anna@Example.com"),
        _person("p-bob", "bob@example.com"),
        _person("p-zoe", "zoe@example.com"),  # no AYON user
    ]
    view = assignee_view(
        ayon_users=["anna", "ghost"],  # ghost: no Kitsu person
        ayon_emails={"anna": "anna@example.com", "ghost": "ghost@example.com"},
        kitsu_assignees=["p-bob", "p-zoe"],
        persons=persons,
        ayon_users_by_email={"anna@example.com": "anna", "bob@example.com": "bob"},
    )
    assert view.ayon == {"p-anna"}
    assert view.kitsu == {"p-bob"}
    assert view.kitsu_hidden == {"p-zoe"}
    assert view.ayon_unknown == ("ghost",)
    # Kitsu becomes exactly AYON's (bob out, anna in), zoe untouched: AYON cannot show her.
    assert view.kitsu_target() == {"p-anna", "p-zoe"}


def test_a_full_reconcile_holds_back_the_two_way_fields_of_task_updates_only() -> None:
    task, other, folder = "a" * 32, "b" * 32, "c" * 32
    operations = [
        Operation(type="update", entity_type="task", entity_id=task,
                  data={"status": "Done", "assignees": ["alice"], "label": "Layout"}),
        Operation(type="update", entity_type="task", entity_id=other, data={"status": "Done"}),
        Operation(type="create", entity_type="task", entity_id="d" * 32,
                  data={"name": "fx", "status": "Done", "folderId": folder}),
        Operation(type="update", entity_type="folder", entity_id=folder, data={"status": "Done"}),
    ]  # fmt: skip
    kept, held = hold_back(operations, ["status"])
    assert held == {task, other}
    assert [(op.entity_id, op.data) for op in kept] == [
        (task, {"assignees": ["alice"], "label": "Layout"}),
        ("d" * 32, {"name": "fx", "status": "Done", "folderId": folder}),
        (folder, {"status": "Done"}),
    ]
    assert hold_back(operations, []) == (tuple(operations), frozenset())
