"""The Kitsu models parse every recorded Zou 1.0.97 response that holds what they model.

Driven by tests/fixtures/kitsu/index.json: each recorded 200 response is mapped by its route to a
model, so a model cannot drift from the real server, and a route nobody mapped fails the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import is_dataclass
from datetime import datetime
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel, TypeAdapter

from kitsync.schemas.kitsu import (
    FORWARDED_EVENT_NAMES,
    KitsuAsset,
    KitsuAssetType,
    KitsuCastingEntry,
    KitsuConcept,
    KitsuEdit,
    KitsuEntityLink,
    KitsuEpisode,
    KitsuEvent,
    KitsuPerson,
    KitsuProject,
    KitsuRecord,
    KitsuSequence,
    KitsuShot,
    KitsuTask,
    KitsuTaskStatus,
    KitsuTaskType,
    parse_record,
)
from tests.conftest import FIXTURES

KITSU = FIXTURES / "kitsu"
INDEX: list[dict[str, Any]] = json.loads((KITSU / "index.json").read_text())
IDS: dict[str, Any] = json.loads((KITSU / "ids.json").read_text())
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Parser = Callable[[Any], list[object]]
M = TypeVar("M")
R = TypeVar("R", bound=KitsuRecord)


def load(name: str) -> Any:
    entry = next(e for e in INDEX if e["file"] == name)
    body = json.loads((KITSU / name).read_text())
    return body["body"] if entry["wrapped"] else body


def many(model: type[M], name: str) -> list[M]:
    adapter = TypeAdapter(model)
    return [adapter.validate_python(row) for row in load(name)]


def keyed(model: type[R], name: str) -> dict[str, R]:
    return {record.id: record for record in many(model, name)}


def rows(model: type[object]) -> Parser:
    """A list (or single object) of ``model`` (a model or a pydantic dataclass); tasks nested
    in entity rows are checked too."""
    adapter = TypeAdapter(model)

    def parse(body: Any) -> list[object]:
        parsed: list[object] = []
        for row in body if isinstance(body, list) else [body]:
            parsed.append(adapter.validate_python(row))
            parsed += [parse_record(KitsuTask, task) for task in row.get("tasks", [])]
        return parsed

    return parse


def generic_entity(body: Any) -> list[BaseModel]:
    """``/data/entities/<id>`` returns the raw row of any kind: pick the model by ``type``."""
    models: dict[str, type[BaseModel]] = {"Asset": KitsuAsset, "Shot": KitsuShot}
    return [parse_record(models[body["type"]], body)]


def casting_map(body: Any) -> list[BaseModel]:
    assert isinstance(body, dict)
    return [KitsuCastingEntry.model_validate(e) for entries in body.values() for e in entries]


def entity_links(body: Any) -> list[BaseModel]:
    return rows(KitsuEntityLink)(body["data"] if isinstance(body, dict) else body)


ROUTES: list[tuple[str, Parser]] = [
    (r"/data/projects(/all|/open)?", rows(KitsuProject)),
    (r"/data/projects/ID", rows(KitsuProject)),
    (r"/data/asset-types(/ID)?|/data/projects/ID/asset-types", rows(KitsuAssetType)),
    (
        r"/data/projects/ID/assets|/data/assets/(all|ID|with-tasks)"
        r"|/data/projects/ID/asset-types/ID/assets|/data/shots/ID/assets",
        rows(KitsuAsset),
    ),
    (r"/data/entities/ID", generic_entity),
    (r"/data/projects/ID/episodes|/data/episodes(/ID|/with-tasks)?", rows(KitsuEpisode)),
    (
        r"/data/projects/ID/sequences|/data/sequences(/ID|/with-tasks)?|/data/episodes/ID/sequences",
        rows(KitsuSequence),
    ),
    (
        r"/data/projects/ID/shots|/data/shots/(all|ID|with-tasks)"
        r"|/data/(sequences|episodes)/ID/shots",
        rows(KitsuShot),
    ),
    (r"/data/projects/ID/edits|/data/edits/ID", rows(KitsuEdit)),
    (r"/data/projects/ID/concepts|/data/concepts/ID", rows(KitsuConcept)),
    (
        r"/data/projects/ID/tasks|/data/tasks(/ID(/full)?)?|/data/(shots|assets)/ID/tasks",
        rows(KitsuTask),
    ),
    (r"/data/task-types(/ID)?|/data/projects/ID/task-types", rows(KitsuTaskType)),
    (
        r"/data/task-status(/ID)?|/data/projects/ID/settings/task-status",
        rows(KitsuTaskStatus),
    ),
    (r"/data/persons(/ID)?|/data/projects/ID/team", rows(KitsuPerson)),
    (
        r"/data/projects/ID/entities/ID/casting|/data/assets/ID/casting",
        rows(KitsuCastingEntry),
    ),
    (
        r"/data/projects/ID/(sequences/(ID|all)|episodes(/ID/sequences/all)?"
        r"|asset-types/ID)/casting",
        casting_map,
    ),
    (r"/data/projects/ID/entity-links", entity_links),
    (r"/data/events/last", rows(KitsuEvent)),
]
# Recorded routes kitsync does not read; listed so that a new recording must be classified.
NOT_MODELLED = re.compile(
    r"/|/auth/.*|/data/(departments|entity-types|project-status|events/(names|login-logs/last))"
    r"|/data/projects/ID/metadata-descriptors|/data/shots/ID/versions|/data/tasks/ID/comments"
    r"|/data/assets/ID/cast-in"
)


def route_of(entry: dict[str, Any]) -> str:
    return _UUID.sub("ID", entry["path"])


def parser_for(route: str) -> Parser | None:
    return next((parse for pattern, parse in ROUTES if re.fullmatch(pattern, route)), None)


RESPONSES = [
    e
    for e in INDEX
    if e["status"] == 200 and e["method"] == "GET" and not e["file"].endswith("_log.json")
]


@pytest.mark.parametrize("entry", RESPONSES, ids=[e["file"] for e in RESPONSES])
def test_every_recorded_response_parses(entry: dict[str, Any]) -> None:
    route = route_of(entry)
    parse = parser_for(route)
    if parse is None:
        assert NOT_MODELLED.fullmatch(route), f"route {route} is neither modelled nor excluded"
        return
    body = load(entry["file"])
    parsed = parse(body)
    expected = sum(len(v) for v in body.values()) if parse is casting_map else None
    if expected is not None:
        assert len(parsed) == expected
    assert all(isinstance(m, BaseModel) or is_dataclass(m) for m in parsed)
    if isinstance(body, list) and body:
        assert parsed, "a non-empty body parsed to nothing"


LOGS = ["global/setup_log.json"] + [
    f"{show}/{step}_log.json" for show in ("film", "tv") for step in ("build", "mutations")
]


@pytest.mark.parametrize("name", LOGS)
def test_every_logged_event_parses(name: str) -> None:
    entries = json.loads((KITSU / name).read_text())
    events = [KitsuEvent.model_validate(e) for entry in entries for e in entry["events"]]
    if name.startswith("global"):
        assert events == []  # person creation through the CSV import emits nothing
        return
    assert events
    for event in events:
        assert event.created_at.microsecond == 0 and event.created_at.tzinfo is None
    # project:new and the project:update of PUT /data/projects carry the project only in data.
    orphans = [e for e in events if e.project_id is None]
    assert all(e.name.startswith("project:") for e in orphans)
    assert all(isinstance(e.data.get("project_id"), str) for e in orphans)


def test_forwarded_event_names_cover_what_the_mutations_emitted() -> None:
    emitted = {
        e["name"]
        for show in ("film", "tv")
        for step in ("build", "mutations")
        for entry in json.loads((KITSU / f"{show}/{step}_log.json").read_text())
        for e in entry["events"]
    }
    ignored = {
        "comment:new",
        "news:new",
        "news:delete",
        "task:to-review",
        "metadata-descriptor:new",
    }
    assert emitted - ignored <= FORWARDED_EVENT_NAMES
    assert not (ignored & FORWARDED_EVENT_NAMES)
    known = set(json.loads((KITSU / "global/events_names.json").read_text()))
    assert {"shot:casting-update", "entity-link:new", "task:assign", "person:new"} <= known
    assert KitsuEvent(id="x", name="shot:update", created_at=datetime(2026, 1, 1)).forwarded


# -- the quirks the models normalise -----------------------------------------------------------


def test_project_fps_string_and_resolution() -> None:
    film = parse_record(KitsuProject, load("film/after_mutations/project.json"))
    assert film.fps == 25.0 and film.resolution_size == (2048, 858)
    assert film.production_type == "featurefilm" and film.data == {}
    assert film.task_types is not None and len(film.task_types) == 7
    tv = parse_record(KitsuProject, load("tv/after_build/project.json"))
    assert tv.production_type == "tvshow"
    # The id lists are only on GET /data/projects/<id>: absent means "not returned".
    listed = many(KitsuProject, "global/projects_all.json")
    assert listed and all(p.team is None and p.task_types is None for p in listed)


def test_shot_frame_range_is_read_from_data_on_every_route() -> None:
    listed = keyed(KitsuShot, "film/after_build/shots.json")
    sh0070 = IDS["film_build"]["shots"]["SQ020/SH0070"]
    assert listed[sh0070].fps == pytest.approx(23.976)  # recorded as the string "23.976"
    sh0020 = parse_record(KitsuShot, load("film/after_mutations/shot_SQ010_SH0020.json"))
    # PUT /data/shots replaced data wholesale: only frame_in is left; nb_frames is stale.
    assert (sh0020.frame_in, sh0020.frame_out, sh0020.fps, sh0020.nb_frames) == (
        993,
        None,
        None,
        80,
    )
    for name in ("film/after_mutations", "tv/after_mutations"):
        by_list = keyed(KitsuShot, f"{name}/shots.json")
        for entry in INDEX:
            if entry["file"].startswith(f"{name}/shot_") and route_of(entry) == "/data/shots/ID":
                single = parse_record(KitsuShot, load(entry["file"]))
                same = by_list[single.id]
                assert (single.fps, single.frame_in, single.frame_out, single.sequence_id) == (
                    same.fps,
                    same.frame_in,
                    same.frame_out,
                    same.sequence_id,
                )


def test_asset_episode_and_type_from_every_route_spelling() -> None:
    ball = IDS["tv_build"]["assets"]["Ball"]
    listed = keyed(KitsuAsset, "tv/after_mutations/assets.json")
    cached = parse_record(KitsuAsset, load("tv/after_mutations/asset_Ball.json"))  # episode_id
    entity = parse_record(KitsuAsset, load("tv/after_mutations/entity_asset_Ball.json"))
    assert listed[ball].episode_id == cached.episode_id == entity.episode_id is not None
    assert listed[ball].asset_type_id == cached.asset_type_id == entity.asset_type_id
    film_by_id = parse_record(KitsuAsset, load("film/after_mutations/asset_Hero.json"))
    assert film_by_id.episode_id is None  # recorded as ""
    with_tasks = many(KitsuAsset, "film/after_mutations/assets_with_tasks.json")
    assert all(a.project_id is None and a.asset_type_name for a in with_tasks)


def test_canceled_rows_stay_readable() -> None:
    shot = parse_record(KitsuShot, load("errors/200_canceled_shot_SH0060.json"))
    assert shot.canceled
    smoke = IDS["film_build"]["assets"]["Smoke"]
    assets = keyed(KitsuAsset, "film/after_mutations/assets.json")
    assert assets[smoke].canceled


def test_sequence_parent_is_the_episode_on_every_route() -> None:
    listed = many(KitsuSequence, "tv/after_mutations/sequences.json")
    with_tasks = keyed(KitsuSequence, "tv/after_mutations/sequences_with_tasks.json")
    assert all(s.episode_id for s in listed)
    assert all(with_tasks[s.id].episode_id == s.episode_id for s in listed)
    film = many(KitsuSequence, "film/after_mutations/sequences_with_tasks.json")
    assert all(s.episode_id is None for s in film)  # recorded as "None"


def test_task_assignees_absent_is_not_empty() -> None:
    full = keyed(KitsuTask, "film/after_mutations/tasks.json")
    filtered = many(KitsuTask, "film/after_mutations/tasks_filtered.json")
    assert all(t.assignees is None for t in filtered)
    castle = full[IDS["film_build"]["tasks"]["Castle|Modeling"]]
    assert castle.assignees == (IDS["persons"]["chloe.castel@example.com"],)  # after M22


def test_person_minimal_shape_has_no_email() -> None:
    persons = many(KitsuPerson, "errors/user_view_persons.json")
    assert persons and all(p.email is None for p in persons)
    team = many(KitsuPerson, "film/after_build/project_team.json")
    assert {p.email for p in team} == set(IDS["persons"])


def test_task_type_and_status_fields() -> None:
    types = many(KitsuTaskType, "film/after_build/project_task_types.json")
    assert {t.for_entity for t in types} == {"Asset", "Shot"}
    assert all(t.color and t.color.startswith("#") for t in types)
    statuses = many(KitsuTaskStatus, "film/after_build/project_task_statuses.json")
    assert {s.short_name for s in statuses} == {"todo", "ready", "wip", "wfa", "retake", "done"}


def test_casting_fields() -> None:
    shot = many(KitsuCastingEntry, "film/after_mutations/casting/shot_SQ010_SH0010.json")
    assert {(e.asset_name, e.nb_occurences, e.label) for e in shot} == {
        ("Hero", 3, "animate"),
        ("Forest", 1, "fixed"),
        ("Sword", 1, "animate"),
    }


def test_entity_links_every_mode_has_the_same_links() -> None:
    plain = many(KitsuEntityLink, "film/after_mutations/entity_links.json")
    paged = [
        row
        for page in ("page1", "page2")
        for row in load(f"film/after_mutations/entity_links_{page}.json")["data"]
    ]
    pages = TypeAdapter(list[KitsuEntityLink]).validate_python(paged)
    assert {link.id for link in plain} == {link.id for link in pages}
    # Paged mode drops the microseconds of created_at (a column kitsync does not read).
    assert any("." in row["created_at"] for row in load("film/after_mutations/entity_links.json"))
    assert all("." not in row["created_at"] for row in paged)


def test_events_pages_are_second_precision_and_newest_first() -> None:
    page = many(KitsuEvent, "events/all_since_start_p01.json")
    assert len(page) == 100
    stamps = [e.created_at for e in page]
    assert stamps == sorted(stamps, reverse=True)
    assert all(s.microsecond == 0 for s in stamps)
