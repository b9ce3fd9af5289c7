"""The GET routes of Zou 1.0.97 (served at the root, no ``/api``) and their handlers.

Each handler runs under the state lock and returns the JSON body, or raises ZouError.
Malformed and unknown ids answer the way each recorded route does (README "Errors").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _casting as casting
from . import _entity_views as ev
from . import _views as views
from ._auth import bearer
from ._errors import ZouError, bad_request, forbidden, is_uuid, not_found, server_error
from ._state import FakeState
from ._store import ASSET, CONCEPT, EDIT, EPISODE, SEQUENCE, SHOT, Row, Store

_PRIVILEGED = frozenset({"admin", "manager"})  # may read events, entity-links, full persons


@dataclass
class Call:
    """One request as the handlers see it."""

    state: FakeState
    person: Row | None
    query: dict[str, list[str]]
    body: Any = None
    authorization: str | None = None
    # The answer's status: handlers of creating routes set 201, as Zou answers them.
    status: int = 200

    @property
    def store(self) -> Store:
        return self.state.store

    def arg(self, key: str) -> str | None:
        values = self.query.get(key)
        return values[0] if values else None

    def args(self) -> dict[str, str]:
        return {key: values[0] for key, values in self.query.items() if values}

    def privileged(self) -> bool:
        return self.person is not None and self.person["role"] in _PRIVILEGED


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool


ROUTES: list[Route] = []


def route(method: str, path: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, re.compile(f"^{regex}$"), handler, auth))
        return handler

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if found and candidate.method == method:
            return candidate, found.groupdict()
    return None


# -- lookups with each route family's answer for bad ids ----------------------------------
def _crud_id(value: str) -> str:
    """CRUD resources (entities, tasks, projects, persons, types) refuse malformed ids."""
    if not is_uuid(value):
        raise bad_request("Malformed ID.")
    return value


def _project(call: Call, project_id: str) -> Row:
    project = call.store.projects.get(project_id)
    if project is None:
        raise not_found()
    return project


def _entity(call: Call, entity_id: str, kind: str) -> Row:
    entity = call.store.entity(entity_id, kind)
    if entity is None:
        raise not_found()
    return entity


def _row(table: dict[str, Row], row_id: str) -> Row:
    row = table.get(_crud_id(row_id))
    if row is None:
        raise not_found()
    return row


def _project_filter(call: Call) -> str | None:
    project_id = call.arg("project_id")
    if project_id is not None and not is_uuid(project_id):
        raise bad_request(f"Invalid UUID value: {project_id}")
    return project_id


def _crud_list(call: Call, rows: list[Row]) -> list[Row]:
    filters = call.args()
    for key, value in filters.items():
        if key.endswith("_id") and not is_uuid(value):
            raise bad_request(f"Invalid UUID value: {value}")
    return views.filter_rows(rows, filters)


# -- root and auth ------------------------------------------------------------------------
@route("GET", "/", auth=False)
def api_root(call: Call) -> Any:
    return {"api": "Zou", "version": "1.0.97"}


@route("POST", "/auth/login", auth=False)
def auth_login(call: Call) -> Any:
    body = call.body if isinstance(call.body, dict) else {}
    found = call.store.person_by_email(str(body.get("email", "")))
    if found is None or call.store.passwords.get(found["id"]) != body.get("password"):
        raise ZouError(400, {"login": False, "message": "Wrong email or password."})
    access, refresh = call.state.tokens.issue(found["id"])
    call.store.login_logs.append(
        {
            "id": str(uuid.uuid4()),
            "created_at": call.state.clock.now_str(),
            "ip_address": "127.0.0.1",
            "person_id": found["id"],
            "origin": "script",
        }
    )
    return views.login(call.store, found["id"], access, refresh)


@route("GET", "/auth/logout")
def auth_logout(call: Call) -> Any:
    token = bearer(call.authorization)
    assert token is not None  # authenticated
    call.state.tokens.revoke(token)
    return {"logout": True}


@route("GET", "/auth/refresh-token", auth=False)
def auth_refresh(call: Call) -> Any:
    person_id = call.state.tokens.person_of(call.authorization, refresh=True)
    access, _ = call.state.tokens.issue(person_id)
    return {"access_token": access}


@route("GET", "/auth/authenticated")
def auth_authenticated(call: Call) -> Any:
    assert call.person is not None
    return views.authenticated(call.store, call.person["id"])


# -- reference data -----------------------------------------------------------------------
def _reference(path: str, table: Callable[[Call], dict[str, Row]]) -> None:
    route("GET", path)(lambda call: _crud_list(call, list(table(call).values())))
    route("GET", f"{path}/{{row_id}}")(lambda call, row_id: _row(table(call), row_id))


_reference("/data/asset-types", lambda call: call.store.asset_types)
_reference("/data/task-types", lambda call: call.store.task_types)
_reference("/data/task-status", lambda call: call.store.task_statuses)
_reference("/data/departments", lambda call: call.store.departments)
_reference("/data/entity-types", lambda call: call.store.entity_types)
_reference("/data/project-status", lambda call: call.store.project_statuses)


@route("GET", "/data/persons")
def persons(call: Call) -> Any:
    shape = views.person_plain if call.privileged() else views.person_minimal
    return [shape(p) for p in _crud_list(call, list(call.store.persons.values()))]


@route("GET", "/data/persons/{person_id}")
def person(call: Call, person_id: str) -> Any:
    return views.person(_row(call.store.persons, person_id))


# -- projects -----------------------------------------------------------------------------
@route("GET", "/data/projects")
def projects(call: Call) -> Any:
    return [views.project_row(p) for p in _crud_list(call, list(call.store.projects.values()))]


@route("GET", "/data/projects/open")
def projects_open(call: Call) -> Any:
    return [views.project_open(call.store, p) for p in call.store.projects.values()]


@route("GET", "/data/projects/all")
def projects_all(call: Call) -> Any:
    return [views.project_all(call.store, p) for p in call.store.projects.values()]


@route("GET", "/data/projects/{project_id}")
def project(call: Call, project_id: str) -> Any:
    return views.project_full(call.store, _row(call.store.projects, project_id))


@route("GET", "/data/projects/{project_id}/team")
def project_team(call: Call, project_id: str) -> Any:
    return views.project_team(call.store, _project(call, project_id))


@route("GET", "/data/projects/{project_id}/task-types")
def project_task_types(call: Call, project_id: str) -> Any:
    return views.project_task_types(call.store, _project(call, project_id))


@route("GET", "/data/projects/{project_id}/settings/task-status")
def project_task_statuses(call: Call, project_id: str) -> Any:
    return views.project_task_statuses(call.store, _project(call, project_id))


@route("GET", "/data/projects/{project_id}/asset-types")
def project_asset_types(call: Call, project_id: str) -> Any:
    return views.project_asset_types(call.store, _project(call, project_id))


@route("GET", "/data/projects/{project_id}/metadata-descriptors")
def project_descriptors(call: Call, project_id: str) -> Any:
    return views.descriptors(call.store, _project(call, project_id)["id"])


@route("GET", "/data/projects/{project_id}/assets")
def project_assets(call: Call, project_id: str) -> Any:
    # Zou answers 200 [] for an unknown project here (and 404 on the other lists)
    return [ev.raw(a) for a in call.store.entities_of(ASSET, project_id)]


@route("GET", "/data/projects/{project_id}/asset-types/{asset_type_id}/assets")
def project_assets_of_type(call: Call, project_id: str, asset_type_id: str) -> Any:
    _project(call, project_id)
    assets = call.store.entities_of(ASSET, project_id)
    return [ev.raw(a) for a in assets if a["entity_type_id"] == asset_type_id]


@route("GET", "/data/projects/{project_id}/shots")
def project_shots(call: Call, project_id: str) -> Any:
    _project(call, project_id)
    return [ev.raw(s) for s in ev.by_name(call.store.entities_of(SHOT, project_id))]


@route("GET", "/data/projects/{project_id}/sequences")
def project_sequences(call: Call, project_id: str) -> Any:
    _project(call, project_id)
    return [ev.raw(s) for s in ev.by_name(call.store.entities_of(SEQUENCE, project_id))]


@route("GET", "/data/projects/{project_id}/episodes")
def project_episodes(call: Call, project_id: str) -> Any:
    _project(call, project_id)
    return [ev.raw(e) for e in ev.by_name(call.store.entities_of(EPISODE, project_id))]


@route("GET", "/data/projects/{project_id}/edits")
def project_edits(call: Call, project_id: str) -> Any:
    _project(call, project_id)
    return [ev.raw(e) for e in call.store.entities_of(EDIT, project_id)]


@route("GET", "/data/projects/{project_id}/concepts")
def project_concepts(call: Call, project_id: str) -> Any:
    _project(call, project_id)
    return [ev.concept_row(c) for c in call.store.entities_of(CONCEPT, project_id)]


@route("GET", "/data/projects/{project_id}/tasks")
def project_tasks(call: Call, project_id: str) -> Any:
    _project(call, project_id)
    tasks = call.store.tasks.values()
    return [views.task(t) for t in tasks if t["project_id"] == project_id]


# -- casting and links --------------------------------------------------------------------
@route("GET", "/data/projects/{project_id}/entity-links")
def entity_links(call: Call, project_id: str) -> Any:
    _project(call, project_id)
    if not call.privileged():
        raise forbidden()
    return casting.entity_links(call.store, project_id, call.args())


@route("GET", "/data/projects/{project_id}/entities/{entity_id}/casting")
def entity_casting(call: Call, project_id: str, entity_id: str) -> Any:
    _project(call, project_id)
    casting.check_container(call.store, project_id, entity_id)
    return casting.entity_casting(call.store, entity_id)


@route("GET", "/data/projects/{project_id}/asset-types/{asset_type_id}/casting")
def asset_type_casting(call: Call, project_id: str, asset_type_id: str) -> Any:
    _project(call, project_id)
    return casting.asset_type_casting(call.store, project_id, asset_type_id)


# -- assets -------------------------------------------------------------------------------
def _asset(call: Call, asset_id: str) -> Row:
    if not is_uuid(asset_id):
        raise server_error()  # Zou lets Postgres choke on it
    return _entity(call, asset_id, ASSET)


@route("GET", "/data/assets/all")
def assets_all(call: Call) -> Any:
    return [ev.raw(a) for a in call.store.entities_of(ASSET, _project_filter(call))]


@route("GET", "/data/assets/with-tasks")
def assets_with_tasks(call: Call) -> Any:
    assets = call.store.entities_of(ASSET, _project_filter(call))
    return [ev.asset_with_tasks(call.store, a) for a in assets]


@route("GET", "/data/assets/{asset_id}")
def asset(call: Call, asset_id: str) -> Any:
    return ev.asset(call.store, _asset(call, asset_id))


@route("GET", "/data/assets/{asset_id}/tasks")
def asset_tasks(call: Call, asset_id: str) -> Any:
    entity = _asset(call, asset_id)
    return [views.task_named(call.store, t) for t in call.store.tasks_of(entity["id"])]


@route("GET", "/data/assets/{asset_id}/casting")
def asset_casting(call: Call, asset_id: str) -> Any:
    return casting.entity_casting(call.store, _asset(call, asset_id)["id"])


# -- shots, sequences, episodes, edits, concepts ------------------------------------------
@route("GET", "/data/shots/all")
def shots_all(call: Call) -> Any:
    shots = ev.by_name(call.store.entities_of(SHOT, _project_filter(call)))
    return [ev.shot_with_names(call.store, s) for s in shots]


@route("GET", "/data/shots/with-tasks")
def shots_with_tasks(call: Call) -> Any:
    shots = call.store.entities_of(SHOT, _project_filter(call))
    return [ev.shot_with_tasks(call.store, s) for s in shots]


@route("GET", "/data/shots/{shot_id}")
def shot(call: Call, shot_id: str) -> Any:
    return ev.shot(call.store, _entity(call, shot_id, SHOT))


@route("GET", "/data/shots/{shot_id}/tasks")
def shot_tasks(call: Call, shot_id: str) -> Any:
    entity = _entity(call, shot_id, SHOT)
    return [views.task_named(call.store, t) for t in call.store.tasks_of(entity["id"])]


@route("GET", "/data/shots/{shot_id}/assets")
def shot_assets(call: Call, shot_id: str) -> Any:
    return casting.cast_assets(call.store, _entity(call, shot_id, SHOT)["id"])


@route("GET", "/data/shots/{shot_id}/versions")
def shot_versions(call: Call, shot_id: str) -> Any:
    entity = _entity(call, shot_id, SHOT)
    versions = call.store.versions.values()
    return [views.pick(v, tuple(v)) for v in versions if v["entity_id"] == entity["id"]]


@route("GET", "/data/sequences")
def sequences(call: Call) -> Any:
    return [ev.raw(s) for s in _crud_list(call, ev.by_name(call.store.entities_of(SEQUENCE)))]


@route("GET", "/data/sequences/with-tasks")
def sequences_with_tasks(call: Call) -> Any:
    rows = ev.by_name(call.store.entities_of(SEQUENCE, _project_filter(call)))
    return [ev.container_with_tasks(call.store, s) for s in rows]


@route("GET", "/data/sequences/{sequence_id}")
def sequence(call: Call, sequence_id: str) -> Any:
    return ev.sequence(call.store, _entity(call, sequence_id, SEQUENCE))


@route("GET", "/data/sequences/{sequence_id}/shots")
def sequence_shots(call: Call, sequence_id: str) -> Any:
    _entity(call, sequence_id, SEQUENCE)
    shots = [s for s in call.store.entities_of(SHOT) if s["parent_id"] == sequence_id]
    return [ev.shot_with_names(call.store, s) for s in ev.by_name(shots)]


@route("GET", "/data/episodes")
def episodes(call: Call) -> Any:
    return [ev.raw(e) for e in _crud_list(call, ev.by_name(call.store.entities_of(EPISODE)))]


@route("GET", "/data/episodes/with-tasks")
def episodes_with_tasks(call: Call) -> Any:
    rows = call.store.entities_of(EPISODE, _project_filter(call))
    return [ev.container_with_tasks(call.store, e) for e in rows]


@route("GET", "/data/episodes/{episode_id}")
def episode(call: Call, episode_id: str) -> Any:
    return ev.episode(call.store, _entity(call, episode_id, EPISODE))


@route("GET", "/data/episodes/{episode_id}/sequences")
def episode_sequences(call: Call, episode_id: str) -> Any:
    _entity(call, episode_id, EPISODE)
    rows = [s for s in call.store.entities_of(SEQUENCE) if s["parent_id"] == episode_id]
    return [ev.raw(s) for s in ev.by_name(rows)]


@route("GET", "/data/episodes/{episode_id}/shots")
def episode_shots(call: Call, episode_id: str) -> Any:
    entity = _entity(call, episode_id, EPISODE)
    shots = call.store.entities_of(SHOT, entity["project_id"])
    return [ev.raw(s) for s in shots if call.store.episode_of_shot(s) is entity]


@route("GET", "/data/edits/{edit_id}")
def edit(call: Call, edit_id: str) -> Any:
    return ev.edit(call.store, _entity(call, edit_id, EDIT))


@route("GET", "/data/concepts/{concept_id}")
def concept(call: Call, concept_id: str) -> Any:
    return ev.concept(call.store, _entity(call, concept_id, CONCEPT))


@route("GET", "/data/entities/{entity_id}")
def entity(call: Call, entity_id: str) -> Any:
    return ev.with_relations(call.store, _row(call.store.entities, entity_id))


# -- tasks --------------------------------------------------------------------------------
@route("GET", "/data/tasks")
def tasks(call: Call) -> Any:
    return [views.task_crud(t) for t in _crud_list(call, list(call.store.tasks.values()))]


@route("GET", "/data/tasks/{task_id}")
def task(call: Call, task_id: str) -> Any:
    return views.task(_row(call.store.tasks, task_id))


@route("GET", "/data/tasks/{task_id}/full")
def task_full(call: Call, task_id: str) -> Any:
    return views.task_full(call.store, _row(call.store.tasks, task_id))


@route("GET", "/data/tasks/{task_id}/comments")
def task_comments(call: Call, task_id: str) -> Any:
    return views.task_comments(call.store, _row(call.store.tasks, task_id)["id"])


# -- events -------------------------------------------------------------------------------
@route("GET", "/data/events/last")
def events_last(call: Call) -> Any:
    if not call.privileged():
        raise forbidden()
    return call.state.log.last(call.query)


@route("GET", "/data/events/names")
def event_names(call: Call) -> Any:
    return call.state.log.names()


@route("GET", "/data/events/login-logs/last")
def login_logs(call: Call) -> Any:
    if not call.privileged():
        raise forbidden()
    limit = call.arg("limit")
    rows = sorted(call.store.login_logs, key=lambda r: r["created_at"], reverse=True)
    return rows[: int(limit)] if limit and limit.isdigit() else rows
