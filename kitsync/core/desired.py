"""What AYON should hold for Kitsu entities: folder and task specs, computed from Kitsu alone.

The tree follows ayon-kitsu so a studio can switch without a path changing: ``assets/<asset
type>/<asset>``, ``episodes/<episode>``, sequences and edits under their episode else
``sequences/`` and ``edits/``, shots under their sequence else ``shots/``, ``concepts/``
(docs/DESIGN.md has the table). Root folders are keyed by the Kitsu
kind (``data.kitsuId = "asset"`` ...), which is what ayon-kitsu writes on the roots it creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kitsync.schemas.kinds import ENTITY_TYPE_NAMES, EntityKind
from kitsync.schemas.kitsu import (
    KitsuAsset,
    KitsuAssetType,
    KitsuConcept,
    KitsuEdit,
    KitsuEntity,
    KitsuEpisode,
    KitsuSequence,
    KitsuShot,
    KitsuTask,
    KitsuTaskStatus,
    KitsuTaskType,
)

# Root key (the kind of what it holds) -> label. Roots use AYON's generic "Folder" type, as
# ayon-kitsu's do.
ROOTS: Mapping[EntityKind, str] = {
    "asset": "Assets",
    "episode": "Episodes",
    "sequence": "Sequences",
    "shot": "Shots",
    "edit": "Edits",
    "concept": "Concepts",
}
GENERIC_FOLDER_TYPE = "Folder"
MAIN_TASK = "main"  # the name Kitsu gives a task unless told otherwise

# Attributes kitsync owns on a folder: their AYON value follows Kitsu's exactly, and a value
# Kitsu does not have is removed so AYON's inherited one shows. Other attributes are untouched.
SHOT_ATTRIBS = frozenset(
    {"fps", "frameStart", "frameEnd", "resolutionWidth", "resolutionHeight", "description"}
)
ENTITY_ATTRIBS = frozenset({"description"})


@dataclass(frozen=True, slots=True)
class FolderSpec:
    """One folder as Kitsu wants it. ``key`` is what ``data.kitsuId`` holds."""

    key: str
    kitsu_type: str
    kitsu_name: str
    label: str
    folder_type: str
    parent_key: str | None
    attrib: Mapping[str, Any] = field(default_factory=dict)
    managed_attribs: frozenset[str] = frozenset()
    active: bool = True
    created: str = ""
    # An ancestor known only by name (e.g. from a shot's flattened read): create it when it is
    # missing, never update it from this partial view; its own reconcile does that.
    create_only: bool = False


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task as Kitsu wants it; type and status are Kitsu names, assignees emails. A task of
    a canceled entity is inactive, as its folder is."""

    key: str
    folder_key: str
    kitsu_name: str
    label: str
    task_type: str
    status: str
    assignee_emails: tuple[str, ...] = ()
    created: str = ""
    active: bool = True
    # AYON user names kept among the assignees whatever Kitsu says (users the AYON -> Kitsu
    # direction could not give to Kitsu).
    kept_assignees: tuple[str, ...] = ()


def root_spec(kind: EntityKind) -> FolderSpec:
    label = ROOTS[kind]
    return FolderSpec(
        key=kind,
        kitsu_type="Root",
        kitsu_name=label,
        label=label,
        folder_type=GENERIC_FOLDER_TYPE,
        parent_key=None,
    )


def asset_type_spec(asset_type: KitsuAssetType) -> FolderSpec:
    return FolderSpec(
        key=asset_type.id,
        kitsu_type="AssetType",
        kitsu_name=asset_type.name,
        label=asset_type.name,
        folder_type=GENERIC_FOLDER_TYPE,
        parent_key="asset",
    )


def _created(entity: KitsuEntity | KitsuTask) -> str:
    return entity.created_at.isoformat() if entity.created_at else ""


def _resolution(data: Mapping[str, Any]) -> tuple[int, int] | None:
    raw = data.get("resolution")
    if not isinstance(raw, str) or "x" not in raw.lower():
        return None
    width, _, height = raw.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        return None


def shot_attrib(shot: KitsuShot) -> dict[str, Any]:
    """fps, frame range, resolution and description of a shot; None where Kitsu has none."""
    frame_end = shot.frame_out
    if frame_end is None and shot.frame_in is not None and shot.nb_frames:
        frame_end = shot.frame_in + shot.nb_frames - 1
    size = _resolution(shot.data)
    return {
        "fps": shot.fps,
        "frameStart": shot.frame_in,
        "frameEnd": frame_end,
        "resolutionWidth": size[0] if size else None,
        "resolutionHeight": size[1] if size else None,
        "description": shot.description or None,
    }


def entity_spec(entity: KitsuEntity) -> FolderSpec:
    """The folder of an asset, episode, sequence, shot, edit or concept; an asset's parent is
    its asset type's folder, an edit's its episode's (a tvshow's). A canceled entity is an
    inactive folder."""
    attrib: dict[str, Any] = {"description": entity.description or None}
    managed = ENTITY_ATTRIBS
    parent_key: str
    match entity:
        case KitsuAsset():
            parent_key = entity.entity_type_id
        case KitsuSequence():  # no parent: under the root of its kind
            parent_key = entity.parent_id or entity.kind
        case KitsuShot():
            parent_key = entity.parent_id or entity.kind
            attrib, managed = shot_attrib(entity), SHOT_ATTRIBS
        case KitsuEdit():  # a tvshow's edit under its episode, as ayon-kitsu places it
            parent_key = entity.parent_id or entity.kind
        case KitsuEpisode() | KitsuConcept():
            parent_key = entity.kind
    kitsu_type = ENTITY_TYPE_NAMES[entity.kind]
    return FolderSpec(
        key=entity.id,
        kitsu_type=kitsu_type,
        kitsu_name=entity.name,
        label=entity.name,
        folder_type=kitsu_type,
        parent_key=parent_key,
        attrib=attrib,
        managed_attribs=managed,
        active=not entity.canceled,
        created=_created(entity),
    )


def task_name(task: KitsuTask, task_type: KitsuTaskType) -> str:
    """ayon-kitsu's name for a task, before the slug: its own Kitsu name, except Kitsu's
    default ``main`` (or no name), which stands for its type's name, lower-cased. The AYON
    label is this too, as ayon-kitsu writes it."""
    if task.name and task.name != MAIN_TASK:
        return task.name
    return task_type.name.lower()


def task_spec(
    task: KitsuTask,
    task_type: KitsuTaskType,
    status: KitsuTaskStatus,
    emails_by_person: Mapping[str, str],
    *,
    active: bool = True,
) -> TaskSpec:
    """A Kitsu task, named as ayon-kitsu names it (``task_name``); assignees by email;
    ``active``: its entity is not canceled."""
    emails = tuple(
        sorted({emails_by_person[p].lower() for p in task.assignees or () if p in emails_by_person})
    )
    name = task_name(task, task_type)
    return TaskSpec(
        key=task.id,
        folder_key=task.entity_id,
        kitsu_name=name,
        label=name,
        task_type=task_type.name,
        status=status.name,
        assignee_emails=emails,
        created=_created(task),
        active=active,
    )
