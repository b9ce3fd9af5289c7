"""In-memory tables of a Zou server: raw rows as Zou's models serialize them, plus lookups.

Rows are plain dicts in Zou's column order. Tables are insertion-ordered and a row moves to
the end when it is updated, which is how Postgres heap order makes the unordered Zou lists
(assets, tasks, projects) reshuffle after writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Row = dict[str, Any]

SHOT, SEQUENCE, EPISODE, EDIT, CONCEPT, ASSET = (
    "Shot",
    "Sequence",
    "Episode",
    "Edit",
    "Concept",
    "Asset",
)
NON_ASSET_TYPES = frozenset({SHOT, SEQUENCE, EPISODE, EDIT, CONCEPT, "Scene"})


@dataclass
class Link:
    """An ``entity_link`` row: ``entity_in`` (shot, episode, asset) contains ``entity_out``."""

    id: str
    entity_in_id: str
    entity_out_id: str
    nb_occurences: int
    label: str
    data: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class LinkTable(dict[str, Link]):
    """The ``entity_link`` table, indexed both ways by entity: a generated production's casting
    (150,000 links) would otherwise scan the whole table for every shot it casts."""

    def __init__(self) -> None:
        super().__init__()
        self._out: dict[str, dict[str, Link]] = {}  # entity_in_id -> its links, in table order
        self._in: dict[str, dict[str, Link]] = {}  # entity_out_id -> its links

    def __setitem__(self, link_id: str, link: Link) -> None:
        if link_id in self:
            del self[link_id]
        super().__setitem__(link_id, link)
        self._out.setdefault(link.entity_in_id, {})[link_id] = link
        self._in.setdefault(link.entity_out_id, {})[link_id] = link

    def __delitem__(self, link_id: str) -> None:
        link = self[link_id]
        super().__delitem__(link_id)
        del self._out[link.entity_in_id][link_id]
        del self._in[link.entity_out_id][link_id]

    def out_of(self, entity_in_id: str) -> list[Link]:
        return list(self._out.get(entity_in_id, {}).values())

    def into(self, entity_out_id: str) -> list[Link]:
        return list(self._in.get(entity_out_id, {}).values())


@dataclass
class Store:
    organisation: Row = field(default_factory=dict)
    persons: dict[str, Row] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # person id -> password
    project_statuses: dict[str, Row] = field(default_factory=dict)
    entity_types: dict[str, Row] = field(default_factory=dict)
    asset_types: dict[str, Row] = field(default_factory=dict)
    task_types: dict[str, Row] = field(default_factory=dict)
    task_statuses: dict[str, Row] = field(default_factory=dict)
    departments: dict[str, Row] = field(default_factory=dict)
    projects: dict[str, Row] = field(default_factory=dict)
    descriptors: dict[str, Row] = field(default_factory=dict)
    entities: dict[str, Row] = field(default_factory=dict)
    links: LinkTable = field(default_factory=LinkTable)
    tasks: dict[str, Row] = field(default_factory=dict)
    comments: dict[str, Row] = field(default_factory=dict)
    versions: dict[str, Row] = field(default_factory=dict)
    news: dict[str, str] = field(default_factory=dict)  # news id -> task id
    notified_tasks: set[str] = field(default_factory=set)  # ever assigned: notifications hold them
    login_logs: list[Row] = field(default_factory=list)

    # -- writes -------------------------------------------------------------------------
    @staticmethod
    def touch(table: dict[str, Any], row_id: str) -> None:
        """Move an updated row to the end (Postgres writes a new tuple at the heap's end)."""
        table[row_id] = table.pop(row_id)

    # -- lookups ------------------------------------------------------------------------
    def entity_type_name(self, entity: Row) -> str:
        return str(self.entity_types[entity["entity_type_id"]]["name"])

    def entity_type_id(self, name: str) -> str:
        for type_id, row in self.entity_types.items():
            if row["name"] == name:
                return type_id
        raise KeyError(name)

    def entities_of(self, kind: str, project_id: str | None = None) -> list[Row]:
        return [
            row
            for row in self.entities.values()
            if row["type"] == kind and project_id in (None, row["project_id"])
        ]

    def entity(self, entity_id: str, kind: str | None = None) -> Row | None:
        row = self.entities.get(entity_id)
        if row is None or (kind is not None and row["type"] != kind):
            return None
        return row

    def parent(self, entity: Row) -> Row | None:
        parent_id = entity.get("parent_id")
        return self.entities.get(parent_id) if parent_id else None

    def episode_of_shot(self, shot: Row) -> Row | None:
        sequence = self.parent(shot)
        return self.parent(sequence) if sequence else None

    def links_out(self, entity_id: str) -> list[Link]:
        return self.links.out_of(entity_id)

    def links_in(self, entity_id: str) -> list[Link]:
        return self.links.into(entity_id)

    def link(self, entity_in_id: str, entity_out_id: str) -> Link | None:
        for link in self.links.out_of(entity_in_id):
            if link.entity_out_id == entity_out_id:
                return link
        return None

    def drop_where(self, table: dict[str, Row], column: str, value: str) -> None:
        for row_id in [row_id for row_id, row in table.items() if row[column] == value]:
            del table[row_id]

    def tasks_of(self, entity_id: str) -> list[Row]:
        return [task for task in self.tasks.values() if task["entity_id"] == entity_id]

    def person_by_email(self, email: str) -> Row | None:
        for person in self.persons.values():
            if person["email"] == email:
                return person
        return None
