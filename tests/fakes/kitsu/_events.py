"""Zou's durable event log and the paging/filter rules of ``GET /data/events/last``."""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._clock import Clock, show
from ._errors import bad_request, is_uuid, server_error

_NAME_PART = re.compile(r"^[a-z0-9-]+$")
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
# sic: Zou says "before argument" for ``after`` too, and misses the space
_DATE_ERROR = (
    "Wrong date format for before argument.Expected format: 2020-01-05T13:23:10 or 2020-01-05"
)
_FILE_EVENTS = ("preview-file:add-file",)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def jsonb_order(data: dict[str, Any]) -> dict[str, Any]:
    """Postgres JSONB key order (shorter keys first, then bytewise), which Zou hands back."""
    return {key: data[key] for key in sorted(data, key=lambda k: (len(k), k))}


@dataclass
class Event:
    id: str
    created_at: datetime  # full precision; shown to the second
    name: str
    user_id: str
    project_id: str | None  # the column the ``project_id`` filter reads
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": show(self.created_at),
            "name": self.name,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "data": copy.deepcopy(self.data),
        }


@dataclass
class EventLog:
    clock: Clock
    events: list[Event] = field(default_factory=list)  # oldest first
    known_names: set[str] = field(default_factory=set)  # names seen before the fixtures

    def add(self, event: Event) -> None:
        self.clock.observe(event.created_at)
        self.events.append(event)

    def emit(
        self,
        name: str,
        data: dict[str, Any],
        project_id: str | None,
        user_id: str,
        *,
        project_column: bool = True,
    ) -> Event:
        """Append an event; ``data`` gets ``project_id`` as Zou's ``events.emit`` adds it."""
        payload = dict(data)
        if project_id is not None:
            payload["project_id"] = project_id
        event = Event(
            id=str(uuid.uuid4()),
            created_at=self.clock.now(),
            name=name,
            user_id=user_id,
            project_id=project_id if project_column else None,
            data=jsonb_order(payload),
        )
        self.events.append(event)
        return event

    def names(self) -> list[str]:
        return sorted(self.known_names | {event.name for event in self.events})

    def last(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Answer ``GET /data/events/last`` with Zou 1.0.97's rules (newest first)."""
        after = _date(params, "after")
        before = _date(params, "before")
        limit = _limit(params)
        selected = self.events
        cursor_id = _one(params, "cursor_event_id")
        if cursor_id is not None:
            cursor = self._cursor(cursor_id)
            selected = [e for e in selected if e.created_at < cursor.created_at]
        project_id = _one(params, "project_id")
        if project_id is not None:
            if not is_uuid(project_id):
                raise bad_request("The project_id parameter is not a valid id")
            selected = [e for e in selected if e.project_id == project_id]
        if after is not None:
            selected = [e for e in selected if e.created_at > after]
        if before is not None:
            selected = [e for e in selected if e.created_at < before]
        name = _one(params, "name")
        if name is not None:
            selected = [e for e in selected if e.name == name]
        prefixes = _name_parts(params, "name_prefixes")
        if prefixes:
            selected = [e for e in selected if e.name.split(":")[0] in prefixes]
        suffixes = _name_parts(params, "name_suffixes")
        if suffixes:
            selected = [e for e in selected if e.name.split(":")[-1] in suffixes]
        if _one(params, "only_files") == "true":
            selected = [e for e in selected if _is_file_event(e.name)]
        person_ids = _person_ids(params)
        if person_ids:
            selected = [e for e in selected if e.user_id in person_ids]
        newest_first = sorted(selected, key=lambda e: e.created_at, reverse=True)
        return [event.to_json() for event in newest_first[:limit]]

    def _cursor(self, cursor_id: str) -> Event:
        if not is_uuid(cursor_id):
            raise bad_request("The cursor_event_id parameter is not a valid id")
        for event in self.events:
            if event.id == cursor_id:
                return event
        raise bad_request(f"No event found with id: {cursor_id}")


def _one(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def _date(params: dict[str, list[str]], key: str) -> datetime | None:
    value = _one(params, key)
    if value is None:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise bad_request(_DATE_ERROR)


def _limit(params: dict[str, list[str]]) -> int:
    value = _one(params, "limit")
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise bad_request("Wrong value for parameter limit.") from None
    if limit < 0:
        raise server_error()  # Zou passes it to SQL LIMIT, Postgres refuses
    return min(limit, MAX_LIMIT)


def _name_parts(params: dict[str, list[str]], key: str) -> set[str]:
    values = [part for value in params.get(key, []) for part in value.split(",")]
    if any(not _NAME_PART.match(value) for value in values):
        raise bad_request(f"The {key} parameter contains an invalid value")
    return set(values)


def _person_ids(params: dict[str, list[str]]) -> set[str]:
    values = [part for value in params.get("person_ids", []) for part in value.split(",")]
    if any(not is_uuid(value) for value in values):
        raise bad_request("The person_ids parameter contains an invalid id")
    return set(values)


def _is_file_event(name: str) -> bool:
    return name in _FILE_EVENTS or name.endswith(":set-thumbnail")
