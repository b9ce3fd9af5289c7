"""Load the recorded Zou state (tests/fixtures/kitsu) into a Store and an EventLog."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any, Literal

from tests.conftest import FIXTURES

from ._auth import ADMIN_EMAIL, ADMIN_PASSWORD, PERSON_PASSWORD
from ._clock import Clock, parse, show
from ._events import Event, EventLog
from ._store import Link, Store

Production = Literal["film", "tv", "all"]
Stage = Literal["after_build", "after_mutations"]

ROOT = FIXTURES / "kitsu"
_PROJECT_COMPUTED = ("descriptors", "project_status_name", "first_episode_id")
_COMMENT_VIEW = (
    "person",
    "task_status",
    "acknowledgements",
    "previews",
    "mentions",
    "department_mentions",
    "attachment_files",
)
_ENTITY_LISTS = ("episodes", "sequences", "shots", "assets", "edits", "concepts")
# Real order of the recorded writes; events of one second keep this order.
_LOGS = (
    ("global", "setup_log"),
    ("film", "build_log"),
    ("tv", "build_log"),
    ("film", "mutations_log"),
    ("tv", "mutations_log"),
)


def read(relative: str) -> Any:
    return json.loads((ROOT / relative).read_text())


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in copy.deepcopy(rows)}


def load_reference(store: Store, log: EventLog) -> None:
    """Global reference data: organisation, persons, types, statuses, departments."""
    store.organisation = read("global/auth_authenticated.json")["organisation"]
    store.persons = _by_id(read("global/persons.json"))
    store.passwords = {
        pid: ADMIN_PASSWORD if row["email"] == ADMIN_EMAIL else PERSON_PASSWORD
        for pid, row in store.persons.items()
    }
    store.project_statuses = _by_id(read("global/project_status.json"))
    store.entity_types = _by_id(read("global/entity_types.json"))
    store.asset_types = _by_id(read("global/asset_types.json"))
    store.task_types = _by_id(read("global/task_types.json"))
    store.task_statuses = _by_id(read("global/task_status.json"))
    store.departments = _by_id(read("global/departments.json"))
    store.login_logs = read("events/login_logs.json")
    log.known_names = set(read("global/events_names.json"))


def load(production: Production, stage: Stage, clock: Clock) -> tuple[Store, EventLog]:
    store, log = Store(), EventLog(clock)
    load_reference(store, log)
    productions = ("film", "tv") if production == "all" else (production,)
    if production == "all":
        _load_idle_projects(store)
    for name in productions:
        _load_production(store, name, stage)
    _sort_projects(store)
    logs = [
        entry
        for prod, log_name in _LOGS
        if prod in productions and (log_name == "build_log" or stage == "after_mutations")
        for entry in read(f"{prod}/{log_name}.json")
    ]
    _load_events(store, log, logs)
    return store, log


def admin_id(store: Store) -> str:
    admin = store.person_by_email(ADMIN_EMAIL)
    assert admin is not None
    return str(admin["id"])


def _load_idle_projects(store: Store) -> None:
    """Projects that existed on the server before the recording (no entities)."""
    recorded = {read(f"{p}/after_build/project.json")["id"] for p in ("film", "tv")}
    for project in read("global/projects_open.json"):
        if project["id"] not in recorded:
            store.projects[project["id"]] = _project_row(project)


def _project_row(project: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in project.items() if k not in _PROJECT_COMPUTED}


def _sort_projects(store: Store) -> None:
    # heap order: the most recently updated project comes last
    ordered = sorted(store.projects.values(), key=lambda p: p["updated_at"])
    store.projects = {p["id"]: p for p in ordered}


def _load_production(store: Store, production: str, stage: str) -> None:
    folder = f"{production}/{stage}"
    project = read(f"{folder}/project.json")
    store.projects[project["id"]] = _project_row(project)
    store.descriptors.update(_by_id(read(f"{folder}/project_metadata_descriptors.json")))
    for kind in _ENTITY_LISTS:
        for row in copy.deepcopy(read(f"{folder}/{kind}.json")):
            row.pop("entity_concept_links", None)
            store.entities[row["id"]] = row
    store.tasks.update(_by_id(read(f"{folder}/tasks.json")))
    store.notified_tasks.update(t["id"] for t in store.tasks.values() if t["assignees"])
    _load_links(store, folder)
    for path in sorted((ROOT / folder).glob("task_*_comments.json")):
        for row in json.loads(path.read_text()):
            store.comments[row["id"]] = {k: v for k, v in row.items() if k not in _COMMENT_VIEW}
    for path in sorted((ROOT / folder).glob("shot_*_versions.json")):
        store.versions.update(_by_id(json.loads(path.read_text())))


def _load_links(store: Store, folder: str) -> None:
    # the plain list has microsecond created_at; the pages have the updated_at seconds
    updated = {
        row["id"]: row["updated_at"]
        for page in sorted((ROOT / folder).glob("entity_links_page*.json"))
        for row in json.loads(page.read_text())["data"]
    }
    for row in read(f"{folder}/entity_links.json"):
        created = parse(row["created_at"])
        seen = updated.get(row["id"], show(created))
        # a link never updated was written a few microseconds after its creation
        touched = created + timedelta(microseconds=5) if seen == show(created) else parse(seen)
        store.links[row["id"]] = Link(
            id=row["id"],
            entity_in_id=row["entity_in_id"],
            entity_out_id=row["entity_out_id"],
            nb_occurences=row["nb_occurences"],
            label=row["label"],
            data=row["data"],
            created_at=created,
            updated_at=touched,
        )


def _load_events(store: Store, log: EventLog, entries: list[dict[str, Any]]) -> None:
    """Append the logged events; the seconds get microseconds that keep the real order."""
    project_ids = set(store.projects)
    last_second = ""
    rank = 0
    deleted_news: set[str] = set()
    for entry in entries:
        tasks_commented = []
        for raw in entry["events"]:
            if raw["data"].get("project_id") not in project_ids:
                continue
            rank = rank + 1 if raw["created_at"] == last_second else 1
            last_second = raw["created_at"]
            event = Event(
                id=raw["id"],
                created_at=parse(raw["created_at"]) + timedelta(microseconds=rank * 1000),
                name=raw["name"],
                user_id=raw["user_id"],
                project_id=raw["project_id"],
                data=copy.deepcopy(raw["data"]),
            )
            log.add(event)
            # news rows belong to the task of the comment of the same write
            if event.name == "comment:new":
                tasks_commented.append(event.data["task_id"])
            elif event.name == "news:new" and tasks_commented:
                store.news[event.data["news_id"]] = tasks_commented.pop(0)
            elif event.name == "news:delete":
                deleted_news.add(event.data["news_id"])
    for news_id in deleted_news:
        store.news.pop(news_id, None)
