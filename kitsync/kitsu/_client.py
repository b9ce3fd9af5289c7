"""The async Kitsu (Zou) REST client: typed reads of entities, casting and the event log.

Routes were chosen from the Zou 1.0.97 recordings (tests/fixtures/kitsu/README.md):

- Assets, episodes, sequences, shots, edits and concepts are read by id through the raw row of
  ``/data/entities/<id>`` (the same shape as the project lists). The per-kind routes are served
  from caches that some writes do not clear: ``/data/assets/<id>`` and ``/data/episodes/<id>``
  kept a stale ``updated_at`` and links after casting writes, ``/data/shots/<id>`` a stale
  ``episode_name`` after an episode rename; ``/data/assets/<id>`` also drops ``source_id``.
- Tasks are listed with ``/data/projects/<id>/tasks``: the filtered ``/data/tasks`` and the
  per-entity task lists omit ``assignees``.
- Every list is returned sorted by id (casting entries by asset id), because Zou's orders are
  unreliable: by name only, or no ORDER BY at all.
- Listing an unknown project returns ``[]`` (Zou answers 200): check the project first where
  that matters. Canceled assets and shots stay in the lists with ``canceled=True``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeVar, overload

import httpx
from pydantic import ValidationError

from kitsync.budget import Budget
from kitsync.errors import ConfigError
from kitsync.gc_pause import collector_paused
from kitsync.heap import trim_after_parsing
from kitsync.kitsu import _events
from kitsync.kitsu._session import KitsuSession, check_id
from kitsync.kitsu.errors import KitsuBadResponse, KitsuNotFound
from kitsync.schemas.kinds import ENTITY_TYPE_NAMES
from kitsync.schemas.kitsu import (
    KitsuAsset,
    KitsuAssetType,
    KitsuCastingEntry,
    KitsuConcept,
    KitsuEdit,
    KitsuEntity,
    KitsuEntityLink,
    KitsuEpisode,
    KitsuEvent,
    KitsuKind,
    KitsuPerson,
    KitsuProject,
    KitsuRecord,
    KitsuSequence,
    KitsuShot,
    KitsuTask,
    KitsuTaskStatus,
    KitsuTaskType,
    parse_record,
    parse_records_json,
)


class _Identified(Protocol):
    """Something Zou stores under an id: a record, an entity link or an event."""

    @property
    def id(self) -> str: ...


M = TypeVar("M")  # a record or a model
R = TypeVar("R", bound=_Identified)

_ENTITY_MODELS: tuple[type[KitsuEntity], ...] = (
    KitsuAsset,
    KitsuEpisode,
    KitsuSequence,
    KitsuShot,
    KitsuEdit,
    KitsuConcept,
)
# kind -> (by-id route, model, Zou's "type" value of such a row)
_BY_ID: dict[KitsuKind, tuple[str, type[KitsuRecord], str]] = {
    "project": ("/data/projects/{id}", KitsuProject, "Project"),
    "asset_type": ("/data/asset-types/{id}", KitsuAssetType, "AssetType"),
    **{
        model.kind: ("/data/entities/{id}", model, ENTITY_TYPE_NAMES[model.kind])
        for model in _ENTITY_MODELS
    },
    "task": ("/data/tasks/{id}", KitsuTask, "Task"),
    "task_type": ("/data/task-types/{id}", KitsuTaskType, "TaskType"),
    "task_status": ("/data/task-status/{id}", KitsuTaskStatus, "TaskStatus"),
    "person": ("/data/persons/{id}", KitsuPerson, "Person"),
}
_MODEL_OF_TYPE_NAME: dict[object, type[KitsuEntity]] = {
    ENTITY_TYPE_NAMES[model.kind]: model for model in _ENTITY_MODELS
}


class KitsuClient:
    """Async client of one Zou server. Use as ``async with KitsuClient(...) as kitsu:``.

    ``base_url`` is where Zou's routes live: ``https://kitsu.example.com/api`` behind Kitsu's
    nginx, or the bare gunicorn root. Authenticate with ``email`` + ``password`` (logged in
    lazily, re-logged once when Zou rejects the token) or with a ``bot_token`` (never renewed).
    One pooled HTTP client is shared by all coroutines; use one instance per event loop.
    ``get_retries``: how many times a read Zou could not answer (5xx, timeout, lost connection)
    is sent again, after a short pause, before ``KitsuUnavailable`` is raised. With a
    ``budget``, every request waits for one of its slots (see ``kitsync.budget``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        email: str | None = None,
        password: str | None = None,
        bot_token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 20,
        get_retries: int = 0,
        budget: Budget | None = None,
    ) -> None:
        if bot_token and (email or password):
            raise ConfigError("Kitsu: give either a bot token or an email and password, not both")
        if not bot_token and not (email and password):
            raise ConfigError("Kitsu: a bot token, or both an email and a password, are required")
        self._session = KitsuSession(
            base_url,
            email=email,
            password=password,
            bot_token=bot_token,
            timeout=timeout,
            transport=transport,
            max_connections=max_connections,
            get_retries=get_retries,
            budget=budget,
        )

    def __repr__(self) -> str:
        return f"KitsuClient({self._session!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    # -- single records -------------------------------------------------------------------

    @overload
    async def get_entity(self, kind: Literal["project"], entity_id: str) -> KitsuProject: ...
    @overload
    async def get_entity(self, kind: Literal["asset_type"], entity_id: str) -> KitsuAssetType: ...
    @overload
    async def get_entity(self, kind: Literal["asset"], entity_id: str) -> KitsuAsset: ...
    @overload
    async def get_entity(self, kind: Literal["episode"], entity_id: str) -> KitsuEpisode: ...
    @overload
    async def get_entity(self, kind: Literal["sequence"], entity_id: str) -> KitsuSequence: ...
    @overload
    async def get_entity(self, kind: Literal["shot"], entity_id: str) -> KitsuShot: ...
    @overload
    async def get_entity(self, kind: Literal["edit"], entity_id: str) -> KitsuEdit: ...
    @overload
    async def get_entity(self, kind: Literal["concept"], entity_id: str) -> KitsuConcept: ...
    @overload
    async def get_entity(self, kind: Literal["task"], entity_id: str) -> KitsuTask: ...
    @overload
    async def get_entity(self, kind: Literal["task_type"], entity_id: str) -> KitsuTaskType: ...
    @overload
    async def get_entity(self, kind: Literal["task_status"], entity_id: str) -> KitsuTaskStatus: ...
    @overload
    async def get_entity(self, kind: Literal["person"], entity_id: str) -> KitsuPerson: ...
    @overload
    async def get_entity(self, kind: KitsuKind, entity_id: str) -> KitsuRecord: ...

    async def get_entity(self, kind: KitsuKind, entity_id: str) -> KitsuRecord:
        """The current state of one record. ``KitsuNotFound`` if it does not exist (or is of
        another kind). Canceled assets and shots are returned, with ``canceled=True``."""
        template, model, type_name = _BY_ID[kind]
        path = template.format(id=check_id(entity_id))
        raw = await self._session.get_json(path)
        if isinstance(raw, dict) and raw.get("type", type_name) != type_name:
            raise KitsuNotFound(f"Kitsu GET {path}: {entity_id} is a {raw['type']}, not {kind!r}")
        try:
            return parse_record(model, raw)
        except ValidationError as exc:
            raise _bad_body(path, exc) from None

    async def entity(self, entity_id: str) -> KitsuEntity:
        """An asset, episode, sequence, shot, edit or concept whose kind is not known yet (the
        entity of a task); its model tells the kind."""
        path = f"/data/entities/{check_id(entity_id)}"
        raw = await self._session.get_json(path)
        model = _MODEL_OF_TYPE_NAME.get(raw.get("type")) if isinstance(raw, dict) else None
        if model is None:
            raise KitsuNotFound(
                f"Kitsu GET {path}: {entity_id} is not an asset, episode, "
                "sequence, shot, edit or concept"
            )
        try:
            return parse_record(model, raw)
        except ValidationError as exc:
            raise _bad_body(path, exc) from None

    async def project(self, project_id: str) -> KitsuProject:
        return await self.get_entity("project", project_id)

    # -- lists --------------------------------------------------------------------------

    async def projects(self, *, open_only: bool = False) -> list[KitsuProject]:
        """Every project the account sees (``open_only``: the open ones)."""
        path = "/data/projects/open" if open_only else "/data/projects"
        return await self._list(path, KitsuProject)

    async def persons(self) -> list[KitsuPerson]:
        return await self._list("/data/persons", KitsuPerson)

    async def asset_types(self, project_id: str) -> list[KitsuAssetType]:
        return await self._list(_in_project(project_id, "asset-types"), KitsuAssetType)

    async def assets(self, project_id: str) -> list[KitsuAsset]:
        return await self._list(_in_project(project_id, "assets"), KitsuAsset)

    async def episodes(self, project_id: str) -> list[KitsuEpisode]:
        return await self._list(_in_project(project_id, "episodes"), KitsuEpisode)

    async def sequences(self, project_id: str) -> list[KitsuSequence]:
        return await self._list(_in_project(project_id, "sequences"), KitsuSequence)

    async def shots(self, project_id: str) -> list[KitsuShot]:
        return await self._list(_in_project(project_id, "shots"), KitsuShot)

    async def edits(self, project_id: str) -> list[KitsuEdit]:
        return await self._list(_in_project(project_id, "edits"), KitsuEdit)

    async def concepts(self, project_id: str) -> list[KitsuConcept]:
        return await self._list(_in_project(project_id, "concepts"), KitsuConcept)

    async def tasks(self, project_id: str) -> list[KitsuTask]:
        """Every task of the project, with ``assignees``."""
        return await self._list(_in_project(project_id, "tasks"), KitsuTask)

    async def task_types(self, project_id: str) -> list[KitsuTaskType]:
        return await self._list(_in_project(project_id, "task-types"), KitsuTaskType)

    async def task_statuses(self, project_id: str) -> list[KitsuTaskStatus]:
        return await self._list(_in_project(project_id, "settings/task-status"), KitsuTaskStatus)

    async def team(self, project_id: str) -> list[KitsuPerson]:
        return await self._list(_in_project(project_id, "team"), KitsuPerson)

    # -- casting --------------------------------------------------------------------------

    async def casting(self, project_id: str, entity_id: str) -> list[KitsuCastingEntry]:
        """What a shot, an episode or a container asset holds (canceled assets left out)."""
        path = _in_project(project_id, f"entities/{check_id(entity_id)}/casting")
        entries = _parse_list(path, KitsuCastingEntry, await self._session.get_json(path))
        return sorted(entries, key=_asset_id)

    async def entity_links(self, project_id: str) -> list[KitsuEntityLink]:
        """Every casting link of the project in one call. Unlike the casting routes this
        includes the links of canceled assets and shots: filter with the entity lists."""
        return await self._list(_in_project(project_id, "entity-links"), KitsuEntityLink)

    # -- events ---------------------------------------------------------------------------

    async def events_page(
        self,
        *,
        after: datetime | None,
        before: datetime | None = None,
        cursor_event_id: str | None = None,
        limit: int = 100,
        project_id: str | None = None,
    ) -> list[KitsuEvent]:
        """One raw page of ``/data/events/last``, **newest first**, as Zou returns it.

        ``after`` / ``before`` are sent as naive UTC whole seconds and compared strictly with
        ``S.000000``, so ``after=S`` includes second ``S``; ``cursor_event_id`` gives the
        events strictly older than that one. ``limit`` must be 1..1000. The ``project_id``
        filter never returns ``project:new``/``project:delete`` (their project column is null).
        """
        return await _events.fetch_page(
            self._session.get_json,
            after=after,
            before=before,
            cursor_event_id=cursor_event_id,
            limit=limit,
            project_id=project_id,
        )

    async def iter_events_since(
        self, after: datetime, *, project_id: str | None = None, page_size: int = 100
    ) -> AsyncIterator[KitsuEvent]:
        """Every event stamped in second ``after`` or later, **oldest first**, each id once.

        Pages by cursor until exhausted before yielding anything. Second ``after`` itself is
        included, so a caller resuming from its high-water second sees some events again and
        must dedupe by id.
        """
        events = await _events.events_since(
            self._session.get_json, after, project_id=project_id, page_size=page_size
        )
        for event in events:
            yield event

    # -- writes (the AYON -> Kitsu direction) ---------------------------------------------

    async def comment_status(self, task_id: str, task_status_id: str, text: str) -> str:
        """Set a task's status the way Kitsu's own UI does: a comment carrying the status
        (``POST /actions/tasks/<id>/comment``; Zou emits ``comment:new``, ``task:update``,
        ``task:status-changed``, ``news:new``). Returns the comment's id."""
        path = f"/actions/tasks/{check_id(task_id)}/comment"
        body = {
            "task_status_id": check_id(task_status_id),
            "comment": text,
            "checklist": [],
            "links": [],
            "for_client": False,
        }
        answer = await self._session.write_json("POST", path, body)
        comment_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(comment_id, str):
            raise KitsuBadResponse(f"Kitsu POST {path}: the answer has no comment id")
        return comment_id

    async def assign(self, person_id: str, task_ids: Sequence[str]) -> None:
        """``PUT /actions/persons/<id>/assign``: add the person to the tasks' assignees
        (``task:assign`` + ``task:update`` per task)."""
        path = f"/actions/persons/{check_id(person_id)}/assign"
        await self._session.write_json("PUT", path, {"task_ids": [check_id(t) for t in task_ids]})

    async def unassign(self, person_id: str, task_ids: Sequence[str]) -> None:
        """``PUT /actions/tasks/clear-assignation``: remove the person from the tasks'
        assignees (``task:unassign`` + ``task:update`` per task)."""
        body = {"task_ids": [check_id(t) for t in task_ids], "person_id": check_id(person_id)}
        await self._session.write_json("PUT", "/actions/tasks/clear-assignation", body)

    # -- helpers --------------------------------------------------------------------------

    async def _list(self, path: str, model: type[R]) -> list[R]:
        response = await self._session.get(path)
        try:
            with collector_paused():
                records = parse_records_json(model, response.content)
            trim_after_parsing(len(response.content))
        except ValidationError:
            # Whatever is wrong, the slower path names it exactly as it always has.
            raw = self._session.json_of("GET", path, None, response)
            records = _parse_list(path, model, raw)
        return sorted(records, key=_record_id)


def _in_project(project_id: str, tail: str) -> str:
    return f"/data/projects/{check_id(project_id)}/{tail}"


def _parse_list(path: str, model: type[M], raw: Any) -> list[M]:
    if not isinstance(raw, list):
        raise KitsuBadResponse(f"Kitsu GET {path}: expected a list, got {type(raw).__name__}")
    try:
        return [parse_record(model, row) for row in raw]
    except ValidationError as exc:
        raise _bad_body(path, exc) from None


def _bad_body(path: str, exc: ValidationError) -> KitsuBadResponse:
    return KitsuBadResponse(f"Kitsu GET {path}: unexpected body: {exc}")


def _record_id(record: _Identified) -> str:
    return record.id


def _asset_id(entry: KitsuCastingEntry) -> str:
    return entry.asset_id
