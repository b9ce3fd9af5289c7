"""AYON project names: checked before they become an SQL identifier or a URL path segment."""

from __future__ import annotations

import re

from kitsync.ayon.errors import UnsafeProjectName

_PROJECT_NAME = re.compile(r"^[a-zA-Z0-9_]+$")


def safe_project_name(project: str) -> str:
    """``project`` if it follows AYON's project-name rule, else :class:`UnsafeProjectName`."""
    if not _PROJECT_NAME.fullmatch(project):
        raise UnsafeProjectName(
            f"unsafe AYON project name {project!r}: must match {_PROJECT_NAME.pattern}"
        )
    return project


def project_schema(project: str) -> str:
    """``project_<name>``, the schema of a project's tables, for a validated project name.

    Left unquoted on purpose: AYON writes it unquoted too, so PostgreSQL folds both to lower case.
    """
    return f"project_{safe_project_name(project)}"
