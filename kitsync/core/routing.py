"""Which keys a Kitsu event dirties. Pure.

An event is only a hint: it names what changed, never the new state (the reconciler reads that).
Side effects of a real Zou that emit nothing of their own are covered by the shape of the tree or
by the reconcilers, not here: renaming a sequence moves its shots' paths because their folders
are nested in its folder; a hard asset delete removes the links touching its folder (the entity
reconcile's delete path), and Zou emits the containers' ``*:casting-update`` anyway; a tvshow
shot's casting change is followed by its episode's casting (the casting reconcile asks for it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from kitsync.core.casting import project_castings
from kitsync.core.production import Production
from kitsync.schemas.kitsu import KitsuEvent, KitsuRecord

KeyKind = Literal["asset", "episode", "sequence", "shot", "edit", "concept", "task", "casting"]
KEY_KINDS: frozenset[str] = frozenset(get_args(KeyKind))
_ENTITY_KINDS = ("asset", "episode", "sequence", "shot", "edit", "concept")
_CONTAINERS = frozenset({"asset", "episode", "shot"})  # kinds whose folders hold cast links
_TASK_EVENTS = frozenset(
    {"new", "update", "delete", "assign", "unassign", "status-changed", "to-review"}
)


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
        project_id, kind, kitsu_id = text.split("/")
        if kind not in KEY_KINDS or not project_id or not kitsu_id:
            raise ValueError(f"not a kitsync key: {text!r}")
        return cls(project_id, kind, kitsu_id)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Routed:
    keys: tuple[Key, ...]
    ignored: Counter[str]


def keys_for_event(event: KitsuEvent) -> tuple[Key, ...]:
    """The keys an event dirties; empty for an event kitsync does not act on."""
    project = event.project_id or _text(event.data.get("project_id"))
    entity, _, action = event.name.partition(":")
    if project is None:
        return ()
    if entity in _ENTITY_KINDS and action in ("new", "update", "delete"):
        return _one(project, entity, event.data.get(f"{entity}_id"))  # type: ignore[arg-type]
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


def keys_changed_between(project_id: str, before: Production, after: Production) -> tuple[Key, ...]:
    """The keys two reads of a production differ by: entities and tasks added, removed or
    changed (any field: Zou stamps ``updated_at`` to the second only), and the casting of
    containers whose casting differs (when both reads hold the entity links) or whose record
    changed. For a full reconcile that wrote from the first read: an event reconcile of one of
    these may have run before that write, which then put the older state back."""
    groups: tuple[tuple[KeyKind, Sequence[KitsuRecord], Sequence[KitsuRecord]], ...] = (
        ("asset", before.assets, after.assets),
        ("episode", before.episodes, after.episodes),
        ("sequence", before.sequences, after.sequences),
        ("shot", before.shots, after.shots),
        ("edit", before.edits, after.edits),
        ("concept", before.concepts, after.concepts),
        ("task", before.tasks, after.tasks),
    )
    keys: dict[Key, None] = {}
    for kind, old, new in groups:
        was = {record.id: record for record in old}
        now = {record.id: record for record in new}
        for kitsu_id in sorted(was.keys() | now.keys()):
            if was.get(kitsu_id) != now.get(kitsu_id):
                keys[Key(project_id, kind, kitsu_id)] = None
                if kind in _CONTAINERS:
                    keys[Key(project_id, "casting", kitsu_id)] = None
    if before.entity_links is not None and after.entity_links is not None:
        was_cast = project_castings(before.entity_links, before.assets)
        now_cast = project_castings(after.entity_links, after.assets)
        for container in sorted(was_cast.keys() | now_cast.keys()):
            if was_cast.get(container, {}) != now_cast.get(container, {}):
                keys[Key(project_id, "casting", container)] = None
    return tuple(keys)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _one(project: str, kind: KeyKind, kitsu_id: object) -> tuple[Key, ...]:
    text = _text(kitsu_id)
    return (Key(project, kind, text),) if text else ()
