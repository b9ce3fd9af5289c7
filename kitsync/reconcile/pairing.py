"""Pairing a Kitsu project with an AYON project, and finding a project by what a user types.

The AYON project paired with a Kitsu project is the active one whose ``data.kitsuProjectId`` is
the Kitsu project's id (ayon-kitsu's convention). :func:`pair_project` creates the AYON project
when missing (AYON's default anatomy), adds the folder types kitsync writes and every task type
and status of the Kitsu project, then sets ``data.kitsuProjectId``, last, so a pairing that
fails half-way leaves an unpaired project that pairing again completes. It refuses to pair a
Kitsu project already paired elsewhere, or an AYON project paired with another Kitsu project.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from kitsync.ayon import ProjectSummary
from kitsync.core.anatomy import AnatomyNeeds, resolve_anatomy
from kitsync.core.desired import GENERIC_FOLDER_TYPE
from kitsync.core.names import slug
from kitsync.core.plan import Plan
from kitsync.errors import KitsyncError
from kitsync.kitsu import KitsuNotFound
from kitsync.reconcile._apply import apply_plan
from kitsync.reconcile.context import SyncContext
from kitsync.schemas import ENTITY_TYPE_NAMES, KitsuProject

# The folder types the mapping writes (roots and asset types are generic folders).
FOLDER_TYPES = frozenset({GENERIC_FOLDER_TYPE, *ENTITY_TYPE_NAMES.values()})
_PROJECT_NAME = re.compile(r"[a-zA-Z0-9_]+")
_NAME_LENGTH = 64
_CODE_LENGTH = 16
_SHOWN = 10  # project names listed in an "unknown project" message


class UnknownProject(KitsyncError):
    """No Kitsu project matches what the user gave."""


class PairingRefused(KitsyncError):
    """Pairing would take a project from another pairing, or the name is not usable."""


@dataclass(frozen=True)
class Pairing:
    kitsu_project: KitsuProject
    project: str  # the AYON project
    created: bool = False  # the AYON project was created now
    newly_paired: bool = False  # False: it was paired already

    def describe(self) -> str:
        kitsu = f"Kitsu project {self.kitsu_project.name} ({self.kitsu_project.id})"
        if not self.newly_paired:
            return f"{kitsu} is paired with AYON project {self.project}"
        made = "created AYON project" if self.created else "AYON project"
        return f"{kitsu} paired with {made} {self.project}"


async def find_kitsu_project(ctx: SyncContext, reference: str) -> KitsuProject:
    """The Kitsu project ``reference`` names: its id, its name (ignoring case), or the name of
    the AYON project paired with it."""
    if _is_uuid(reference):
        try:
            return await ctx.kitsu.project(reference)
        except KitsuNotFound:
            raise UnknownProject(f"no Kitsu project has the id {reference}") from None
    projects = await ctx.kitsu.projects()
    named = [p for p in projects if p.name.casefold() == reference.casefold()]
    if len(named) > 1:
        ids = ", ".join(p.id for p in named)
        raise UnknownProject(f"several Kitsu projects are named {reference!r}; use an id: {ids}")
    if named:
        return await ctx.kitsu.project(named[0].id)
    paired = await ctx.reader.paired_projects()
    for kitsu_id, project in paired.items():
        if project.casefold() == reference.casefold():
            return await ctx.kitsu.project(kitsu_id)
    names = ", ".join(sorted(p.name for p in projects)[:_SHOWN]) or "none visible"
    more = ", ..." if len(projects) > _SHOWN else ""
    raise UnknownProject(
        f"no Kitsu project named {reference!r}, and no AYON project of that name is paired "
        f"(Kitsu projects: {names}{more})"
    )


async def pair_project(
    ctx: SyncContext, kitsu_project: KitsuProject, ayon_project: str | None = None
) -> Pairing:
    """Pair ``kitsu_project`` with ``ayon_project`` (default: a name made from the Kitsu
    name), creating it if needed. Pairing again what is already paired only tops up the
    anatomy."""
    projects = await ctx.reader.projects()
    target = _target(projects, kitsu_project, ayon_project)
    created = target is None
    name = target.name if target is not None else ayon_project or project_name(kitsu_project)
    if target is None:
        code = unique_code(kitsu_project.code or name, [p.code for p in projects])
        # Labels are unique ignoring case too; none rather than a made-up one.
        labels = {p.label.casefold() for p in projects if p.label}
        label = kitsu_project.name if kitsu_project.name.casefold() not in labels else None
        await ctx.writer.create_project(name, code, label=label)
    await _add_anatomy(ctx, kitsu_project, name)
    paired = target is not None and target.kitsu_project_id == kitsu_project.id
    if not paired:
        await ctx.writer.update_project(name, {"data": {"kitsuProjectId": kitsu_project.id}})
    return Pairing(kitsu_project, name, created=created, newly_paired=not paired)


def project_name(kitsu_project: KitsuProject) -> str:
    """An AYON project name (``^[a-zA-Z0-9_]+$``) from the Kitsu project's name."""
    return slug(kitsu_project.name)[:_NAME_LENGTH].strip("_") or "kitsu"


def unique_code(base: str, taken: Collection[str]) -> str:
    """A project code from ``base``, unlike every code in ``taken`` ignoring case."""
    stem = slug(base)[:_CODE_LENGTH].strip("_") or "kitsu"
    used = {code.casefold() for code in taken}
    number = 1
    code = stem
    while code.casefold() in used:
        number += 1
        suffix = f"_{number}"
        code = stem[: _CODE_LENGTH - len(suffix)] + suffix
    return code


def _target(
    projects: list[ProjectSummary], kitsu_project: KitsuProject, wanted: str | None
) -> ProjectSummary | None:
    """The existing AYON project to pair with, None to create ``wanted`` (or the derived
    name); refuses what would break another pairing."""
    kitsu = f"Kitsu project {kitsu_project.name!r} ({kitsu_project.id})"
    paired = [p for p in projects if p.active and p.kitsu_project_id == kitsu_project.id]
    if paired:
        if wanted is not None and wanted.casefold() != paired[0].name.casefold():
            raise PairingRefused(
                f"{kitsu} is already paired with AYON project {paired[0].name}; "
                f"unpair it there first (remove data.kitsuProjectId) to pair it with {wanted}"
            )
        return paired[0]
    name = wanted if wanted is not None else project_name(kitsu_project)
    if not _PROJECT_NAME.fullmatch(name) or len(name) > _NAME_LENGTH:
        raise PairingRefused(
            f"{name!r} cannot be an AYON project name: use up to {_NAME_LENGTH} letters, "
            "digits and underscores (e.g. my_show)"
        )
    found = next((p for p in projects if p.name.casefold() == name.casefold()), None)
    if found is None:
        return None
    if found.kitsu_project_id and found.kitsu_project_id != kitsu_project.id:
        raise PairingRefused(
            f"AYON project {found.name} is paired with another Kitsu project "
            f"({found.kitsu_project_id}); choose another with --ayon-project"
        )
    if not found.active:
        raise PairingRefused(f"AYON project {found.name} is inactive; activate it in AYON first")
    return found


async def _add_anatomy(ctx: SyncContext, kitsu_project: KitsuProject, project: str) -> None:
    """The folder types kitsync writes and every task type and status of the Kitsu project."""
    task_types, statuses, anatomy = await asyncio.gather(
        ctx.kitsu.task_types(kitsu_project.id),
        ctx.kitsu.task_statuses(kitsu_project.id),
        ctx.reader.anatomy(project),
    )
    needs = AnatomyNeeds(
        folder_types=set(FOLDER_TYPES),
        task_types={task_type.name for task_type in task_types},
        statuses={status.name for status in statuses},
    )
    resolved = resolve_anatomy(anatomy, needs, task_types, statuses)
    await apply_plan(
        ctx,
        project,
        Plan(
            folder_types=resolved.new_folder_types,
            task_types=resolved.new_task_types,
            statuses=resolved.new_statuses,
        ),
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
