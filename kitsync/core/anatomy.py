"""Project anatomy: which folder types, task types and statuses a plan needs AYON to have.

AYON matches these names exactly (case included) while keeping them unique ignoring case, so
a Kitsu name is mapped to the AYON item that equals it ignoring case, and only a name with no
such item is added, with Kitsu's colour and short name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kitsync.schemas.ayon import AnatomyItem, AyonProjectAnatomy
from kitsync.schemas.kitsu import KitsuTaskStatus, KitsuTaskType


@dataclass(frozen=True)
class AnatomyNeeds:
    folder_types: set[str] = field(default_factory=set)
    task_types: set[str] = field(default_factory=set)
    statuses: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ResolvedAnatomy:
    """Kitsu names -> the AYON names to write, plus the items to add to the project."""

    folder_types_by_lower: Mapping[str, str]
    task_types_by_lower: Mapping[str, str]
    statuses_by_lower: Mapping[str, str]
    new_folder_types: tuple[AnatomyItem, ...] = ()
    new_task_types: tuple[AnatomyItem, ...] = ()
    new_statuses: tuple[AnatomyItem, ...] = ()

    def folder_type(self, name: str) -> str:
        return self.folder_types_by_lower[name.lower()]

    def task_type(self, name: str) -> str:
        return self.task_types_by_lower[name.lower()]

    def status(self, name: str) -> str:
        return self.statuses_by_lower[name.lower()]


def _short(name: str, short: str) -> str:
    return short or name[:4].lower()


def _state(status: KitsuTaskStatus) -> str:
    if status.is_done:
        return "done"
    if status.is_wip or status.is_retake or status.is_feedback_request:
        return "in_progress"
    return "not_started"


def task_type_item(kitsu: KitsuTaskType) -> AnatomyItem:
    """The AYON task type a Kitsu task type stands for: its name, short name and colour."""
    return _task_type_item(kitsu.name, kitsu)


def status_item(kitsu: KitsuTaskStatus) -> AnatomyItem:
    """The AYON status a Kitsu task status stands for: name, short name, colour, state."""
    return _status_item(kitsu.name, kitsu)


# What a Kitsu rename or recolour changes on the AYON item it maps to; its scope, state and icon
# may have been set in AYON and are left alone.
_FOLLOWED = ("color", "shortName")


def item_to_write(existing: Sequence[AnatomyItem], wanted: AnatomyItem) -> AnatomyItem | None:
    """What to send so that an anatomy list holds ``wanted``: all of it when no item has its
    name (ignoring case, as AYON); its colour and short name, under the name AYON has, when
    those differ; None when the list is in step."""
    have = next((i for i in existing if i.name.casefold() == wanted.name.casefold()), None)
    if have is None:
        return wanted
    fields, own = wanted.model_extra or {}, have.model_extra or {}
    changed = {
        key: fields[key] for key in _FOLLOWED if key in fields and own.get(key) != fields[key]
    }
    return AnatomyItem(name=have.name, **changed) if changed else None


def _task_type_item(name: str, kitsu: KitsuTaskType | None) -> AnatomyItem:
    extra = {"shortName": _short(name, kitsu.short_name if kitsu else "")}
    if kitsu is not None and kitsu.color:
        extra["color"] = kitsu.color
    return AnatomyItem(name=name, **extra)


def _status_item(name: str, kitsu: KitsuTaskStatus | None) -> AnatomyItem:
    extra: dict[str, object] = {
        "shortName": _short(name, kitsu.short_name if kitsu else ""),
        "state": _state(kitsu) if kitsu else "not_started",
        "scope": ["task"],
    }
    if kitsu is not None and kitsu.color:
        extra["color"] = kitsu.color
    return AnatomyItem(name=name, **extra)


def _resolve(
    existing: Sequence[AnatomyItem], needed: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    by_lower = {item.name.lower(): item.name for item in existing}
    missing: list[str] = []
    for name in sorted(needed):
        if name.lower() not in by_lower:
            by_lower[name.lower()] = name
            missing.append(name)
    return by_lower, missing


def resolve_anatomy(
    anatomy: AyonProjectAnatomy,
    needs: AnatomyNeeds,
    task_types: Iterable[KitsuTaskType] = (),
    statuses: Iterable[KitsuTaskStatus] = (),
) -> ResolvedAnatomy:
    kitsu_types = {t.name.lower(): t for t in task_types}
    kitsu_statuses = {s.name.lower(): s for s in statuses}
    folder_types, new_folder_types = _resolve(anatomy.folder_types, needs.folder_types)
    task_type_names, new_task_types = _resolve(anatomy.task_types, needs.task_types)
    status_names, new_statuses = _resolve(anatomy.statuses, needs.statuses)
    return ResolvedAnatomy(
        folder_types_by_lower=folder_types,
        task_types_by_lower=task_type_names,
        statuses_by_lower=status_names,
        new_folder_types=tuple(AnatomyItem(name=name) for name in new_folder_types),
        new_task_types=tuple(
            _task_type_item(name, kitsu_types.get(name.lower())) for name in new_task_types
        ),
        new_statuses=tuple(
            _status_item(name, kitsu_statuses.get(name.lower())) for name in new_statuses
        ),
    )
