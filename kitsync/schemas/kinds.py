"""The kinds of Kitsu things kitsync reconciles, spelled once for routing, keys, specs and models.

A kind is Zou's own lower-case name (``shot``, as in ``shot:update`` and ``shot_id``); its type
name (``Shot``) is Zou's ``type`` of such a row, and also the AYON folder type and the
``data.kitsuType`` kitsync writes on its folder (as ayon-kitsu does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

EntityKind = Literal["asset", "episode", "sequence", "shot", "edit", "concept"]
"""What Zou keeps in its ``entity`` table and kitsync makes an AYON folder of; each also keys
the root folder its kind lives under (``data.kitsuId = "shot"``)."""
ENTITY_KINDS: tuple[EntityKind, ...] = get_args(EntityKind)

ContainerKind = Literal["asset", "episode", "shot"]
"""Entities that can be cast into: their folders hold the breakdown links."""
CONTAINER_KINDS: frozenset[ContainerKind] = frozenset(get_args(ContainerKind))

EntityOrTaskKind = Literal[EntityKind, "task", "asset-type"]
"""What one entity reconcile converges: a folder (an asset type's grouping folder too), or a
task."""

SharedKind = Literal["asset-type", "task-type", "task-status", "person"]
"""Kitsu records every project shares (Zou's event prefix: ``task-type:update``): their events
name no project."""
SHARED_KINDS: frozenset[SharedKind] = frozenset(get_args(SharedKind))

SettingKind = Literal["project", "task-type", "task-status", "person"]
"""What a project's AYON settings or its tasks follow, not a folder: the project's attributes,
its anatomy's task types and statuses, the assignees of a person's tasks."""
SETTING_KINDS: frozenset[SettingKind] = frozenset(get_args(SettingKind))

KeyKind = Literal[EntityKind, "task", "casting", "project", SharedKind]
"""The kind of a key (``project/kind/kitsu_id``); ``casting`` names a container's links,
``project`` the project's own attributes; an ``asset-type`` key its grouping folder."""
KEY_KINDS: frozenset[KeyKind] = frozenset(get_args(KeyKind))

ALL_PROJECTS = "*"
"""The project of a key of a shared record (``*/task-type/<id>``): its reconcile writes nothing
and queues the record's key in every paired project."""

ENTITY_TYPE_NAMES: Mapping[EntityKind, str] = {
    "asset": "Asset",
    "episode": "Episode",
    "sequence": "Sequence",
    "shot": "Shot",
    "edit": "Edit",
    "concept": "Concept",
}
"""Zou's ``type`` of an entity row, AYON's folder type and ``data.kitsuType``, by kind."""
KIND_OF_TYPE_NAME: Mapping[str, EntityKind] = {
    name: kind for kind, name in ENTITY_TYPE_NAMES.items()
}
