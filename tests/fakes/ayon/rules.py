"""AYON 1.16's integrity rules, in one place for both fakes of AYON.

The fake server (``create_app``) keeps AYON's data in Postgres, whose constraints enforce most of
them (``project.sql``); ``MemoryAyon`` (``memory.py``) keeps a project in memory for the planner's
unit tests and checks the same rules in Python. The rules:

- names are unique ignoring case among active siblings (folders under one parent, tasks of one
  folder): ``name_key``; ``project.sql``'s ``*_unique_name_*`` indexes;
- a folder's type, a task's type and every status are names of the project's anatomy, spelled
  exactly; a parent or a task's folder exists (foreign keys);
- deleting a folder deletes its subfolders and their tasks (``ON DELETE CASCADE``), and a folder
  under which products exist cannot be deleted;
- a new entity without a status gets ``default_status``;
- a PATCH of ``attrib`` or ``data`` merges key by key: ``merge_patch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def name_key(name: str) -> str:
    """What AYON compares when it checks that sibling names are unique (``LOWER(name)``)."""
    return name.lower()


def default_status(
    statuses: Iterable[tuple[str, list[str] | None]], entity_type: str
) -> str | None:
    """The status of a new ``entity_type`` entity that names none: the first of the anatomy's
    ``(name, scope)`` statuses whose scope includes it (no scope: every type)."""
    for name, scope in statuses:
        if scope is None or entity_type in scope:
            return name
    return None


def merge_patch(old: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """How AYON PATCHes attrib and data: key by key at the top level; a null deletes the key."""
    merged = dict(old)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
