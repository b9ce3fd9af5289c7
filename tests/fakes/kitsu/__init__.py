"""A fake Kitsu (Zou 1.0.97) server for kitsync's fast tests.

State comes from the recordings in ``tests/fixtures/kitsu`` (ids as recorded); reads answer
with the recorded response shapes and quirks; writes go through Python methods that also
log the events a real Zou logs for them. Serve ``FakeKitsu.app`` with
``tests.fakes.serve.serve`` or ``httpx.ASGITransport``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.applications import Starlette

from .._failure_rate import FailureRate
from . import _views as views
from ._app import build_app
from ._auth import ADMIN_EMAIL, ADMIN_PASSWORD, BOT_TOKEN, PERSON_PASSWORD
from ._clock import Clock
from ._events import EventLog
from ._fixtures import Production, Stage, admin_id, load, load_reference
from ._state import FakeState
from ._store import Row, Store

__all__ = [
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "BOT_TOKEN",
    "PERSON_PASSWORD",
    "FakeKitsu",
]


class FakeKitsu:
    """One fake Zou server: its ASGI ``app`` plus the controls and writes tests use."""

    def __init__(self, store: Store, log: EventLog, clock: Clock) -> None:
        self._state = FakeState(store, log, clock, admin_id(store))
        self.app: Starlette = build_app(self._state)

    @classmethod
    def from_fixtures(cls, production: Production, stage: Stage) -> FakeKitsu:
        """The recorded state of ``film``, ``tv`` or ``all`` (every recorded project).

        The event log holds the recorded events of the loaded projects up to ``stage``.
        """
        clock = Clock()
        store, log = load(production, stage, clock)
        return cls(store, log, clock)

    @classmethod
    def empty(cls) -> FakeKitsu:
        """No projects; reference data (types, statuses, persons) only."""
        clock = Clock()
        store, log = Store(), EventLog(clock)
        load_reference(store, log)
        return cls(store, log, clock)

    # -- test controls ------------------------------------------------------------------
    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(METHOD, path)`` of every request received, in order."""
        return self._state.requests

    def inject_failures(self, count: int, status: int = 503) -> None:
        """The next ``count`` requests answer ``status``."""
        with self._state.lock:
            self._state.faults.failures.extend([status] * count)

    def inject_delay(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` requests wait ``seconds`` before answering."""
        with self._state.lock:
            self._state.faults.delays.extend([seconds] * count)

    def failure_rate(
        self,
        rate: float,
        statuses: Sequence[int] = (500, 502, 503),
        *,
        timeout_share: float = 0.0,
        stall: float = 0.0,
        seed: int | None = None,
    ) -> dict[str, int]:
        """From now on each request fails with probability ``rate`` (seeded: the same ``seed``
        draws the same outcomes for the same sequence of requests); ``rate=0`` ends it.

        A failure stalls ``stall`` seconds and is then answered normally with probability
        ``timeout_share`` (a client timeout), else answers one of ``statuses``. Queued failures
        and delays come first. Returns the live counts of outcomes drawn (ok, status, timeout).
        """
        drawn = FailureRate(
            rate, tuple(statuses), timeout_share=timeout_share, stall=stall, seed=seed
        )
        with self._state.lock:
            self._state.faults.rate = drawn if rate else None
        return drawn.drawn

    def revoke_tokens(self) -> None:
        """Every login token issued so far now gets 401 ``Token has been revoked``."""
        with self._state.lock:
            self._state.tokens.revoke_all()

    def issue_token(self, email: str = ADMIN_EMAIL) -> str:
        """An access token for ``email``, as ``POST /auth/login`` would give."""
        with self._state.lock:
            found = self._state.store.person_by_email(email)
            if found is None:
                raise KeyError(email)
            return self._state.tokens.issue(found["id"])[0]

    def events(self) -> list[dict[str, Any]]:
        """The whole event log, oldest first, as ``/data/events/last`` shows events."""
        with self._state.lock:
            return [event.to_json() for event in self._state.log.events]

    def backdate_newest_events(self, count: int, to: datetime) -> list[str]:
        """Stamp the newest ``count`` events ``to``: as a commit that landed late shows up in
        Zou's log, stamped when its request began (or by another Zou server's clock)."""
        with self._state.lock:
            newest = self._state.log.events[-count:]
            for event in newest:
                event.created_at = to
            return [event.id for event in newest]

    def clear_events(self) -> None:
        """An empty event log, as on a Zou that has recorded nothing yet."""
        with self._state.lock:
            self._state.log.events.clear()

    def project_id(self, name: str) -> str:
        with self._state.lock:
            for project in self._state.store.projects.values():
                if project["name"] == name:
                    return str(project["id"])
        raise KeyError(name)

    # -- writes (each logs the events Zou logs for it) ----------------------------------
    def _write(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._state.lock:
            result = getattr(self._state.mutations, method)(*args, **kwargs)
            return copy.deepcopy(result)

    def create_project(self, name: str, production_type: str = "featurefilm", **fields: Any) -> Row:
        """A tvshow gets episode E01; ``episode:new`` is logged before ``project:new``."""
        with self._state.lock:
            project = self._state.mutations.create_project(name, production_type, **fields)
            return views.project_full(self._state.store, project)

    def update_project(self, project_id: str, **fields: Any) -> Row:
        return views.project_row(self._write("update_project", project_id, **fields))

    def add_project_settings(
        self,
        project_id: str,
        *,
        asset_type_ids: Iterable[str] = (),
        task_type_ids: Iterable[str] = (),
        task_status_ids: Iterable[str] = (),
        person_ids: Iterable[str] = (),
    ) -> None:
        self._write(
            "add_project_settings",
            project_id,
            asset_type_ids=asset_type_ids,
            task_type_ids=task_type_ids,
            task_status_ids=task_status_ids,
            person_ids=person_ids,
        )

    def create_episode(self, project_id: str, name: str, **fields: Any) -> Row:
        return dict(self._write("create_episode", project_id, name, **fields))

    def create_sequence(
        self, project_id: str, name: str, episode_id: str | None = None, **fields: Any
    ) -> Row:
        return dict(self._write("create_sequence", project_id, name, episode_id, **fields))

    def create_shot(self, project_id: str, sequence_id: str, name: str, **fields: Any) -> Row:
        """``fields``: ``nb_frames``, ``data`` (frame_in/frame_out/fps...), ``description``."""
        return dict(self._write("create_shot", project_id, sequence_id, name, **fields))

    def create_asset(self, project_id: str, asset_type_id: str, name: str, **fields: Any) -> Row:
        """``fields``: ``description``, ``data``, ``source_id`` (the asset's episode)."""
        return dict(self._write("create_asset", project_id, asset_type_id, name, **fields))

    def create_edit(
        self, project_id: str, name: str, episode_id: str | None = None, **fields: Any
    ) -> Row:
        return dict(self._write("create_edit", project_id, name, episode_id, **fields))

    def create_concept(self, project_id: str, name: str, **fields: Any) -> Row:
        return dict(self._write("create_concept", project_id, name, **fields))

    def create_task(
        self,
        entity_id: str,
        task_type_id: str,
        name: str = "main",
        task_status_id: str | None = None,
        **fields: Any,
    ) -> Row:
        return dict(
            self._write("create_task", entity_id, task_type_id, name, task_status_id, **fields)
        )

    def update_entity(self, entity_id: str, *, replace_data: bool = False, **fields: Any) -> Row:
        """Rename, frame range (``data`` merges), move (``parent_id``), episode (``source_id``).

        ``replace_data=True`` mirrors ``PUT /data/shots/<id>``, which replaces ``data``.
        """
        return dict(self._write("update_entity", entity_id, replace_data=replace_data, **fields))

    def set_casting(
        self, project_id: str, entity_id: str, casting: Sequence[Mapping[str, Any]]
    ) -> None:
        """Full replacement, as ``PUT /data/projects/<p>/entities/<id>/casting``."""
        self._write("set_casting", project_id, entity_id, casting)

    def cast_asset(
        self,
        project_id: str,
        asset_id: str,
        entity_ids: Sequence[str],
        nb_occurences: int,
        label: str = "",
    ) -> None:
        """``PUT /data/projects/<p>/entities/casting/assets/<id>`` (0 occurrences uncasts)."""
        self._write("cast_asset", project_id, asset_id, entity_ids, nb_occurences, label)

    def delete_entity(self, entity_id: str, force: bool = False) -> None:
        """Without force an entity with tasks is canceled; otherwise it is deleted."""
        self._write("delete_entity", entity_id, force)

    def delete_task(self, task_id: str, force: bool = False) -> None:
        """A task ever assigned needs ``force`` (else ZouError 400, as Zou's FK error)."""
        self._write("delete_task", task_id, force)

    def set_task_status(
        self,
        task_id: str,
        task_status_id: str,
        person_id: str | None = None,
        comment: str = "",
    ) -> Row:
        """Status change through a comment; returns the comment row."""
        return dict(self._write("set_task_status", task_id, task_status_id, person_id, comment))

    def assign(self, task_id: str, person_ids: Iterable[str]) -> Row:
        return views.task(self._write("assign", task_id, list(person_ids)))

    def unassign(self, task_id: str, person_id: str) -> Row:
        return views.task(self._write("unassign", task_id, person_id))

    def set_assignees(self, task_id: str, person_ids: Sequence[str]) -> Row:
        return views.task(self._write("set_assignees", task_id, list(person_ids)))

    def update_shared(self, kind: str, record_id: str, **fields: Any) -> Row:
        """Rename or recolour an asset type, task type or status, or edit a person (kind:
        ``asset-type``, ``task-type``, ``task-status``, ``person``); logs ``<kind>:update``
        without a project, as Zou does."""
        return dict(self._write("update_shared", kind, record_id, **fields))

    def add_person(
        self,
        first_name: str,
        last_name: str,
        email: str,
        *,
        role: str = "user",
        password: str = PERSON_PASSWORD,
        via_api: bool = False,
    ) -> Row:
        """As the CSV import (no event) or, ``via_api``, ``POST /data/persons`` (person:new)."""
        return dict(
            self._write(
                "add_person",
                first_name,
                last_name,
                email,
                role=role,
                password=password,
                via_api=via_api,
            )
        )
