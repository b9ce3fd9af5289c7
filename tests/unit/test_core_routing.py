"""Routing of the events a real Zou emitted (recorded) to the keys they dirty."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kitsync.core.routing import Key, keys_for_event, route
from kitsync.schemas.kitsu import KitsuEvent
from tests.conftest import FIXTURES

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"


def _steps(path: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = json.loads((FIXTURES / "kitsu" / path).read_text())
    return steps


def _step(label_start: str) -> list[KitsuEvent]:
    for step in _steps("film/mutations_log.json"):
        if step["step"].startswith(label_start):
            return [KitsuEvent.model_validate(e) for e in step["events"]]
    raise KeyError(label_start)


@pytest.mark.parametrize(
    "path",
    [
        "film/build_log.json",
        "film/mutations_log.json",
        "tv/build_log.json",
        "tv/mutations_log.json",
    ],
)
def test_every_recorded_event_routes_or_is_ignored(path: str) -> None:
    for step in _steps(path):
        for raw in step["events"]:
            event = KitsuEvent.model_validate(raw)
            for key in keys_for_event(event):
                assert Key.parse(str(key)) == key
                assert key.project_id == (event.project_id or event.data["project_id"])
                assert key.kitsu_id in json.dumps(event.data)


def test_rename_move_and_frame_range_dirty_the_shot() -> None:
    for step in ("M02", "M03", "M04", "M05", "M13"):
        (key,) = route(_step(step)).keys
        assert key.kind == "shot"


def test_casting_change_collapses_to_one_casting_key() -> None:
    routed = route(_step("M06"))
    assert [k.kind for k in routed.keys] == ["casting"]
    assert routed.keys[0].kitsu_id == "f48bffdc-4a40-4304-98f1-80af0adefec9"


def test_cast_asset_route_dirties_each_container_even_without_ids_on_link_update() -> None:
    routed = route(_step("M08"))
    assert {k.kind for k in routed.keys} == {"casting"} and len(routed.keys) == 2
    assert routed.ignored == {"entity-link:update": 1}


def test_hard_asset_delete_dirties_the_asset_and_its_containers_casting() -> None:
    kinds = [k.kind for k in route(_step("M11")).keys]
    assert kinds == ["asset", "casting"]


def test_forced_shot_delete_dirties_each_task_then_the_shot() -> None:
    kinds = [k.kind for k in route(_step("M14")).keys]
    assert kinds == ["task"] * 4 + ["shot"]


def test_comments_and_news_are_ignored_and_counted() -> None:
    events = [
        KitsuEvent.model_validate(e)
        for step in _steps("film/build_log.json")
        if step["step"].startswith("set Hero Modeling status")
        for e in step["events"]
    ]
    routed = route(events)
    assert [k.kind for k in routed.keys] == ["task"]
    assert routed.ignored == {"comment:new": 1, "news:new": 1}


def test_project_events_without_project_column_use_data() -> None:
    event = KitsuEvent.model_validate(
        {
            "id": "e1",
            "name": "shot:update",
            "created_at": "2026-11-27T21:12:40",
            "project_id": None,
            "data": {"project_id": FILM, "shot_id": "s1"},
        }
    )
    assert keys_for_event(event) == (Key(FILM, "shot", "s1"),)


def test_recorded_project_update_without_project_column_dirties_the_project_key() -> None:
    (event,) = _step("M24")  # PUT /data/projects/<id>: fps 24 -> 25
    assert event.name == "project:update" and event.project_id is None
    assert keys_for_event(event) == (Key(FILM, "project", FILM),)


def test_settings_project_updates_collapse_to_one_project_key() -> None:
    build = [
        KitsuEvent.model_validate(e) for s in _steps("film/build_log.json") for e in s["events"]
    ]
    updates = [event for event in build if event.name == "project:update"]
    assert len(updates) > 10  # one per asset type, task type, status and team member added
    assert route(updates).keys == (Key(FILM, "project", FILM),)


def _event(name: str, data: dict[str, Any], project_id: str | None = None) -> KitsuEvent:
    return KitsuEvent.model_validate(
        {"id": "e", "name": name, "created_at": "2026-11-27T21:12:40", "project_id": project_id}
        | {"data": data}
    )


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("asset-type:update", "asset_type_id"),
        ("asset-type:delete", "asset_type_id"),
        ("task-type:update", "task_type_id"),
        ("task-status:update", "task_status_id"),
        ("person:update", "person_id"),
    ],
)
def test_shared_record_changes_dirty_their_key_in_every_project(name: str, field: str) -> None:
    # Zou's CRUD logs these with no project (crud/base.py, crud/entity_type.py).
    kind = name.partition(":")[0]
    assert keys_for_event(_event(name, {field: "r1"})) == (Key("*", kind, "r1"),)  # type: ignore[arg-type]
    assert Key.parse(f"*/{kind}/r1") == Key("*", kind, "r1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "project:new",  # not paired yet: `kitsync pair` syncs it whole
        "project:delete",  # kitsync never deletes an AYON project
        "asset-type:new",  # no asset of it yet
        "task-type:new",
        "task-status:new",
        "task-type:delete",  # Zou refuses while tasks use it; anatomy items are never removed
        "task-status:delete",
        "person:new",  # no assignment yet
        "person:delete",  # AYON users are never removed
        "entity-link:update",  # no container id; the casting-update that follows has it
    ],
)
def test_events_that_change_nothing_are_ignored(name: str) -> None:
    data = {"project_id": FILM, "person_id": "p", "task_type_id": "t", "entity_link_id": "l"}
    assert keys_for_event(_event(name, data | {"asset_type_id": "a", "task_status_id": "s"})) == ()


def test_key_parse_rejects_garbage() -> None:
    for text in ("a/b", "p/planet/x", "/shot/x", "p/shot/", "p/shot/a/b"):
        with pytest.raises(ValueError, match="not a kitsync key"):
            Key.parse(text)


@pytest.mark.parametrize(
    ("data", "project_id"),
    [
        ({"shot_id": "a/b"}, FILM),
        ({"shot_id": "s1\n"}, FILM),
        ({"shot_id": "s1"}, "p/x"),
        ({"shot_id": "s1", "project_id": "p/x"}, None),
    ],
)
def test_an_id_that_cannot_be_part_of_a_key_is_ignored(
    data: dict[str, Any], project_id: str | None
) -> None:
    """Its key would not parse back: its task would fail on every delivery, and the periodic
    recovery of lost tasks would stop at it."""
    assert keys_for_event(_event("shot:update", data, project_id)) == ()
