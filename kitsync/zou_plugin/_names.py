"""The Zou event names forwarded to kitsync.

The same list as ``kitsync.schemas.kitsu.FORWARDED_EVENT_NAMES``, kept here because Zou's
virtualenv has no kitsync; a unit test checks that the two stay equal.
"""

from __future__ import annotations

_ENTITY_KINDS = ("asset", "episode", "sequence", "shot", "edit", "concept", "task")
_REFERENCE_KINDS = ("asset-type", "task-type", "task-status", "person", "project")
_CASTING_KINDS = ("asset", "episode", "sequence", "shot", "edit")
_CHANGES = ("new", "update", "delete")

FORWARDED_EVENT_NAMES: frozenset[str] = frozenset(
    [f"{kind}:{change}" for kind in _ENTITY_KINDS + _REFERENCE_KINDS for change in _CHANGES]
    + [f"{kind}:casting-update" for kind in _CASTING_KINDS]
    + [f"entity-link:{change}" for change in _CHANGES]
    + ["task:assign", "task:unassign", "task:status-changed"]
)
