"""Routing of the events a real Zou emitted (recorded) to the keys they dirty."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from kitsync.core.production import Production
from kitsync.core.routing import Key, keys_changed_between, keys_for_event, route
from kitsync.schemas.kitsu import KitsuEntityLink, KitsuEvent
from tests.conftest import FIXTURES
from tests.unit.kitsu_production import Stage, recorded_production

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


def test_key_parse_rejects_garbage() -> None:
    for text in ("a/b", "p/planet/x", "/shot/x", "p/shot/"):
        with pytest.raises(ValueError):
            Key.parse(text)


def _film(stage: Stage) -> Production:
    links = json.loads((FIXTURES / "kitsu" / "film" / stage / "entity_links.json").read_text())
    return replace(
        recorded_production("film", stage),
        entity_links=[KitsuEntityLink.model_validate(link) for link in links],
    )


def test_keys_changed_between_two_reads_of_a_production() -> None:
    """What a full reconcile hands back to the event path: what Kitsu changed while it ran."""
    before, after = _film("after_build"), _film("after_mutations")
    assert keys_changed_between(FILM, before, before) == ()
    changed = {str(key) for key in keys_changed_between(FILM, before, after)}
    ids = {e.name: e.id for e in [*before.assets, *before.sequences, *before.shots]}
    ids |= {e.name: e.id for e in after.shots}
    for kind, name in [
        ("asset", "Villain"),  # renamed
        ("asset", "Goblet"),  # deleted
        ("asset", "Smoke"),  # canceled
        ("sequence", "SQ020"),  # renamed
        ("shot", "SH0080"),  # moved
        ("shot", "SH0070"),  # deleted
        ("shot", "SH0090"),  # created
    ]:
        assert f"{FILM}/{kind}/{ids[name]}" in changed, name
    assert f"{FILM}/casting/{ids['SH0070']}" in changed  # a container: its casting too
    assert f"{FILM}/sequence/{ids['SQ010']}" not in changed

    # Only an occurrence count changes: the container's casting, nothing else.
    assert before.entity_links
    link = before.entity_links[0]
    recast = [link.model_copy(update={"nb_occurences": link.nb_occurences + 1})]
    more = replace(before, entity_links=[*recast, *before.entity_links[1:]])
    assert keys_changed_between(FILM, before, more) == (Key(FILM, "casting", link.entity_in_id),)
