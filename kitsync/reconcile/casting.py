"""``reconcile_casting``: make a container's AYON breakdown links equal its Kitsu casting.

Level-triggered like ``reconcile_entity``: it reads the casting from Kitsu (one call) and the
container's links from AYON's database (one query), and applies the exact difference (deletes by
id, creates in one ``/links/bulk`` call). In step, it sends AYON no request at all. Folders the
links need are made first by ``reconcile_entity``; the link type is added to the project anatomy
only when AYON's database shows it missing.

In a tvshow Zou also casts a shot's assets into its episode, and logs nothing for the episode,
so the reconcile of a shot asks for its episode's casting key as a follow-up (two more Kitsu
calls, the shot and its sequence, find the episode). It never writes the episode's links itself:
those change only under the episode's key, so a stale read of a shot's run cannot put back a link
the episode's own run just removed.

``reconcile_project_casting`` does every container of a project at once, from Kitsu's entity
links and one read of all the project's breakdown links.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kitsync.ayon import index_by_kitsu_id
from kitsync.core.casting import (
    CastingDiff,
    casting_of,
    diff_casting,
    diff_project_casting,
    project_castings,
)
from kitsync.core.ids import link_id
from kitsync.core.production import Production
from kitsync.core.routing import Key
from kitsync.gc_pause import collector_paused
from kitsync.kitsu import KitsuClient, KitsuNotFound
from kitsync.reconcile._apply import add_to_anatomy, converge
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.entity import reconcile_entity
from kitsync.reconcile.result import ReconcileResult
from kitsync.schemas import (
    BREAKDOWN,
    CONTAINER_KINDS,
    AyonFolder,
    AyonLink,
    EntityKind,
    KitsuEntityLink,
    LinkTypeItem,
)

# AYON's own look for the type, as a default project has it.
BREAKDOWN_TYPE = LinkTypeItem(name=BREAKDOWN, data={"color": "#6edd72", "style": "solid"})
_UNPAIRED = "Kitsu project not paired with AYON"


@dataclass
class _Report:
    """What a reconcile did so far: counts of changes and notes."""

    changes: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    follow_ups: list[Key] = field(default_factory=list)
    applied: list[CastingDiff] = field(default_factory=list)  # what was written, in order

    def merge(self, result: ReconcileResult) -> None:
        self.changes.update(result.changes)
        self.notes.extend(result.notes)
        self.follow_ups.extend(result.follow_ups)

    def result(self, key: str, label: str = "") -> ReconcileResult:
        changes = {what: count for what, count in sorted(self.changes.items()) if count}
        return ReconcileResult(
            key,
            "changed" if changes else "in step",
            changes,
            tuple(self.notes),
            tuple(self.follow_ups),
            label,
        )


async def reconcile_casting(
    ctx: SyncContext, project_id: str, container_id: str
) -> ReconcileResult:
    """Converge the breakdown links into one container (shot, episode or asset); a shot in an
    episode has the episode's casting key follow. A container Kitsu no longer has loses all its
    links."""
    key = f"{project_id}/casting/{container_id}"
    project = await ctx.reader.paired_project(project_id)
    if project is None:
        return ReconcileResult(key, "skipped", notes=(_UNPAIRED,))
    report = _Report()
    folder = await _converge(ctx, project_id, project, container_id, report)
    if folder is not None and _may_be_in_episode(folder):
        episode = await _episode_of_shot(ctx.kitsu, container_id)
        if episode is not None:
            report.follow_ups.append(Key(project_id, "casting", episode))
    where = f" /{folder.path}" if folder is not None and folder.path else ""
    return report.result(key, f"casting of {project}{where}")


async def plan_project_casting(
    ctx: SyncContext,
    project_id: str,
    project: str,
    production: Production | None = None,
    folders: Iterable[AyonFolder] | None = None,
    links: Sequence[AyonLink] | None = None,
) -> CastingDiff:
    """The links to create and delete over every container of the project.

    Reads Kitsu's entity links (one call; unlike the casting routes they list canceled assets,
    which are dropped here as the casting routes drop them) and the asset, shot and episode
    lists, unless ``production`` holds them (every one of those is a container whose links are
    converged, cast or not), then AYON's folders (unless ``folders`` holds every folder of the
    project as it is now) and all its breakdown links (unless ``links`` holds them; one query
    each). Links into other folders are looked at only when there are some (one more query):
    those into a folder that no longer exists, or into the folder of a Kitsu container Kitsu no
    longer has, go, as a reconcile of that container would remove them.
    """
    castings = await kitsu_castings(ctx.kitsu, project_id, production)
    kitsu_ids = {*castings, *(asset for casting in castings.values() for asset in casting)}
    existing: Sequence[AyonLink]
    if folders is None:
        found, existing = await asyncio.gather(
            ctx.reader.folders_by_kitsu_ids(project, kitsu_ids),
            _breakdown_links(ctx, project, links),
        )
    else:
        found = index_by_kitsu_id(folders, kitsu_ids)
        existing = await _breakdown_links(ctx, project, links)
    folder_ids = _ids(found)
    cleared = await _cleared_outputs(ctx, project, existing, set(folder_ids.values()))
    with collector_paused():
        return diff_project_casting(castings, folder_ids, existing, cleared)


async def _breakdown_links(
    ctx: SyncContext, project: str, known: Sequence[AyonLink] | None
) -> Sequence[AyonLink]:
    return await ctx.reader.links_of_type(project, BREAKDOWN) if known is None else known


async def kitsu_castings(
    kitsu: KitsuClient, project_id: str, production: Production | None = None
) -> dict[str, dict[str, int]]:
    """Every container's casting (:func:`project_castings`), from Kitsu's entity links and the
    asset, shot and episode lists: those ``production`` holds are not read again."""
    links: Sequence[KitsuEntityLink]
    if production is None:
        links, assets, shots, episodes = await asyncio.gather(
            kitsu.entity_links(project_id),
            kitsu.assets(project_id),
            kitsu.shots(project_id),
            kitsu.episodes(project_id),
        )
        containers = [*assets, *shots, *episodes]
    else:
        links_read = production.entity_links
        links = await kitsu.entity_links(project_id) if links_read is None else links_read
        assets = list(production.assets)
        containers = [*production.assets, *production.shots, *production.episodes]
    with collector_paused():
        return project_castings(links, assets, (entity.id for entity in containers))


async def reconcile_project_casting(
    ctx: SyncContext,
    project_id: str,
    production: Production | None = None,
    folders: Iterable[AyonFolder] | None = None,
    on_applied: Callable[[CastingDiff], None] | None = None,
) -> ReconcileResult:
    """Converge the breakdown links of every container of a project (see
    :func:`plan_project_casting`; ``folders``, if given, serve its first plan only: a plan
    again after a 409 reads them afresh). Folders are not created here: links that need a
    missing folder are left out and noted (the full reconcile syncs entities first).
    ``on_applied`` is told each part written (the deletes, the creates), to list them."""
    key = f"{project_id}/casting"
    project = await ctx.reader.paired_project(project_id)
    if project is None:
        return ReconcileResult(key, "skipped", notes=(_UNPAIRED,))
    report = _Report()
    known = folders

    async def plan() -> CastingDiff:
        nonlocal known
        given, known = known, None
        return await plan_project_casting(ctx, project_id, project, production, given)

    diff = await _apply_fresh(ctx, project, plan, report)
    if diff.missing:
        report.notes.append(
            f"{len(diff.missing)} cast Kitsu entities have no AYON folder, their links are "
            f"left out: {', '.join(diff.missing)}"
        )
    if on_applied is not None:
        for part in report.applied:
            on_applied(part)
    return report.result(key)


async def _cleared_outputs(
    ctx: SyncContext, project: str, existing: Iterable[AyonLink], managed: set[str]
) -> set[str]:
    """The folders outside ``managed`` whose breakdown links all go: gone folders (AYON leaves
    the links of a deleted folder's descendants) and folders of containers Kitsu has no more
    (deactivated, or not reconciled yet)."""
    strangers = {link.output_id for link in existing} - managed
    if not strangers:
        return set()
    found = await ctx.reader.folders_by_ids(project, strangers)
    return {
        output
        for output in strangers
        if output not in found
        or (found[output].kitsu_id is not None and found[output].kitsu_kind in CONTAINER_KINDS)
    }


# ---------------------------------------------------------------------------- one container


async def _converge(
    ctx: SyncContext, project_id: str, project: str, container_id: str, report: _Report
) -> AyonFolder | None:
    """Converge one container's links; its folder (None when Kitsu no longer has it)."""
    try:
        entries = await ctx.kitsu.casting(project_id, container_id)
    except KitsuNotFound:
        await _drop_links(ctx, project, container_id, report)
        return None
    casting = casting_of(entries, project_id)
    folders = await ctx.reader.folders_by_kitsu_ids(project, [container_id, *casting])
    missing = [kitsu_id for kitsu_id in (container_id, *casting) if kitsu_id not in folders]
    if missing:
        kinds: dict[str, EntityKind] = dict.fromkeys(missing, "asset")
        if container_id in kinds:
            kind = await _kind_of(ctx.kitsu, container_id)
            if kind is None:  # deleted since the casting read
                await _drop_links(ctx, project, container_id, report)
                return None
            kinds[container_id] = kind
        # One at a time, container first: they share ancestors (the asset type folders).
        for kitsu_id, kind in kinds.items():
            report.merge(await reconcile_entity(ctx, project_id, kind, kitsu_id))
        folders = await ctx.reader.folders_by_kitsu_ids(project, [container_id, *casting])
    folder = folders.get(container_id)
    if folder is None:
        report.notes.append(f"casting of {container_id}: the container has no AYON folder")
        return None
    ids = [link_id(container_id, asset, k) for asset, n in casting.items() for k in range(1, n + 1)]

    async def plan() -> CastingDiff:
        existing = await ctx.reader.links_into(project, [folder.id], or_ids=ids)
        return diff_casting(container_id, casting, _ids(folders), existing)

    diff = await _apply_fresh(ctx, project, plan, report)
    if diff.missing:
        report.notes.append(
            f"casting of {container_id}: no AYON folder for {', '.join(diff.missing)}, "
            "their links are left out"
        )
    return folder


async def _drop_links(ctx: SyncContext, project: str, container_id: str, report: _Report) -> None:
    """Kitsu has no such container: no breakdown link may point into its folder."""
    folders = _ids(await ctx.reader.folders_by_kitsu_ids(project, [container_id]))
    if container_id in folders:
        existing = await ctx.reader.links_into(project, [folders[container_id]])
        await _apply(ctx, project, diff_casting(container_id, {}, folders, existing), report)


async def _kind_of(kitsu: KitsuClient, kitsu_id: str) -> EntityKind | None:
    try:
        return (await kitsu.entity(kitsu_id)).kind
    except KitsuNotFound:
        return None


def _may_be_in_episode(folder: AyonFolder) -> bool:
    """A shot folder as deep as ``episodes/<episode>/<sequence>/<shot>``, the only place a
    shot of an episode has in the tree (a film's are at ``sequences/<sequence>/<shot>`` or
    ``shots/<shot>``): spares a film's shots the two Kitsu reads that find their episode."""
    return folder.kitsu_kind == "shot" and (folder.path or "").count("/") >= 3


async def _episode_of_shot(kitsu: KitsuClient, shot_id: str) -> str | None:
    try:
        shot = await kitsu.get_entity("shot", shot_id)
        if shot.parent_id is None:
            return None
        sequence = await kitsu.get_entity("sequence", shot.parent_id)
    except KitsuNotFound:
        return None
    return sequence.parent_id


# ---------------------------------------------------------------------------- applying


async def _apply_fresh(
    ctx: SyncContext, project: str, plan: Callable[[], Awaitable[CastingDiff]], report: _Report
) -> CastingDiff:
    """Plan from fresh reads and apply; on a 409 (a concurrent run wrote first), again."""

    async def apply(diff: CastingDiff) -> None:
        await _apply(ctx, project, diff, report)

    return await converge(plan, apply, empty=lambda diff: diff.empty)


async def _apply(ctx: SyncContext, project: str, diff: CastingDiff, report: _Report) -> None:
    """Deletes first (they may free an id a create reuses), then the link type if the project
    lacks it, then all creates in one bulk call."""
    if diff.delete:
        report.changes["delete link"] += await ctx.writer.delete_links(project, diff.delete)
        report.applied.append(CastingDiff(removed=diff.removed))
    if diff.create:
        if await _link_type_missing(ctx, project):
            added = await add_to_anatomy(ctx, project, link_types=[BREAKDOWN_TYPE])
            report.changes["add link type"] += added
        await ctx.writer.create_links(project, diff.create)
        report.changes["create link"] += len(diff.create)
        report.applied.append(CastingDiff(create=diff.create))


async def _link_type_missing(ctx: SyncContext, project: str) -> bool:
    anatomy = await ctx.reader.anatomy(project)
    return all(item.name != BREAKDOWN for item in anatomy.link_types)


def _ids(folders: dict[str, AyonFolder]) -> dict[str, str]:
    return {kitsu_id: folder.id for kitsu_id, folder in folders.items()}
