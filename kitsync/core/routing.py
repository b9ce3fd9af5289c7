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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from kitsync.schemas.kitsu import KitsuEvent

KeyKind = Literal["asset", "episode", "sequence", "shot", "edit", "concept", "task", "casting"]
KEY_KINDS: frozenset[str] = frozenset(get_args(KeyKind))
_ENTITY_KINDS = ("asset", "episode", "sequence", "shot", "edit", "concept")
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


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _one(project: str, kind: KeyKind, kitsu_id: object) -> tuple[Key, ...]:
    text = _text(kitsu_id)
    return (Key(project, kind, text),) if text else ()
