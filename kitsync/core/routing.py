"""Which keys a Kitsu event dirties. Pure.

An event is only a hint: it names what changed, never the new state (the reconciler reads that).
Side effects of a real Zou that emit nothing of their own are covered by the shape of the tree or
by the reconcilers, not here: renaming a sequence moves its shots' paths because their folders
are nested in its folder; a hard asset delete removes the links touching its folder (the entity
reconcile's delete path), and Zou emits the containers' ``*:casting-update`` anyway; a tvshow
shot's casting change is followed by its episode's casting (the casting reconcile asks for it).

Records every project shares (asset types, task types, statuses, persons) are changed without a
project: their key is ``*/<kind>/<id>`` (:data:`ALL_PROJECTS`), whose reconcile queues the same
key in every paired project. What each forwarded event does, and why some do nothing, is the
table in docs/DESIGN.md ("Events").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from kitsync.schemas.kinds import (
    ALL_PROJECTS,
    ENTITY_KINDS,
    KEY_KINDS,
    SHARED_KINDS,
    KeyKind,
)
from kitsync.schemas.kitsu import KitsuEvent

_TASK_EVENTS = frozenset(
    {"new", "update", "delete", "assign", "unassign", "status-changed", "to-review"}
)
# A new asset type, task type, status or person is used by nothing yet (the first asset, task or
# assignment brings it in); kitsync never removes anatomy items or AYON users, and Zou refuses
# to delete a type or status still in use. So only these act on a shared record:
_SHARED_EVENTS = {
    "asset-type": frozenset({"update", "delete"}),  # the grouping folder: renamed, or removed
    "task-type": frozenset({"update"}),
    "task-status": frozenset({"update"}),
    "person": frozenset({"update"}),
}


@dataclass(frozen=True, order=True, slots=True)
class Key:
    """What one reconcile converges: ``<kitsu project>/<kind>/<kitsu id>``."""

    project_id: str
    kind: KeyKind
    kitsu_id: str

    def __str__(self) -> str:
        return f"{self.project_id}/{self.kind}/{self.kitsu_id}"

    @classmethod
    def parse(cls, text: str) -> Key:
        parts = text.split("/")
        if len(parts) != 3:
            raise ValueError(f"not a kitsync key: {text!r}")
        project_id, kind, kitsu_id = parts
        if kind not in KEY_KINDS or not project_id or not kitsu_id:
            raise ValueError(f"not a kitsync key: {text!r}")
        return cls(project_id, kind, kitsu_id)


@dataclass(frozen=True)
class Routed:
    keys: tuple[Key, ...]
    ignored: Counter[str]


def keys_for_event(event: KitsuEvent) -> tuple[Key, ...]:
    """The keys an event dirties; empty for an event kitsync does not act on."""
    project = _text(event.project_id) or _text(event.data.get("project_id"))
    entity, _, action = event.name.partition(":")
    if entity in SHARED_KINDS and action in _SHARED_EVENTS[entity]:
        record_id = event.data.get(f"{entity.replace('-', '_')}_id")
        return _one(project or ALL_PROJECTS, entity, record_id)
    if project is None:
        return ()
    if event.name == "project:update":
        # A new project is not paired yet (``kitsync pair`` syncs it whole); a deleted one
        # keeps its AYON project: kitsync never deletes one.
        return (Key(project, "project", project),)
    if entity in ENTITY_KINDS and action in ("new", "update", "delete"):
        return _one(project, entity, event.data.get(f"{entity}_id"))
    if entity == "task" and action in _TASK_EVENTS:
        return _one(project, "task", event.data.get("task_id"))
    if action == "casting-update":
        return _one(project, "casting", event.data.get(f"{entity}_id"))
    if event.name == "entity-link:new":
        # Always followed by a casting-update of the same container; the keys collapse.
        return _one(project, "casting", event.data.get("entity_in_id"))
    return ()


def route(events: Iterable[KitsuEvent]) -> Routed:
    """The distinct keys of many events, in first-seen order, and counts of ignored names."""
    keys: dict[Key, None] = {}
    ignored: Counter[str] = Counter()
    for event in events:
        found = keys_for_event(event)
        if not found:
            ignored[event.name] += 1
        keys.update(dict.fromkeys(found))
    return Routed(tuple(keys), ignored)


def _text(value: object) -> str | None:
    """``value`` if it can be part of a key: an id with no "/" (a key made of one would not
    parse back, and its task would fail on every delivery); else None, as if absent."""
    if isinstance(value, str) and value and "/" not in value and value.isprintable():
        return value
    return None


def _one(project: str, kind: KeyKind, kitsu_id: object) -> tuple[Key, ...]:
    text = _text(kitsu_id)
    return (Key(project, kind, text),) if text else ()
