"""``reconcile_project``: make a whole AYON project match its Kitsu project.

It reads the whole Kitsu project (a dozen list calls, concurrently) and the whole AYON project (a
few SQL queries), plans everything with the core, then writes top-down: anatomy additions, the
project's attributes, then the operations in atomic chunks (removals, folders parents first,
tasks), then the links a folder delete leaves behind, then the breakdown links of every
container (with the same Kitsu read). A project already in step gets no write at all.

A permanent failure of one entity is recorded and the rest goes on (see ``_project_apply``);
after such failures the AYON side is read and planned once more, so a conflict with a concurrent
event reconcile heals itself and only what fails twice is reported.

``dry_run`` plans the same way and writes nothing. Its counts are what a run would do now,
links included: the link plan is made against AYON as it will be once the planned operations are
applied (kitsync's folder ids are known in advance).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from kitsync.ayon import AyonError
from kitsync.ayon_to_kitsu import TwoWay
from kitsync.ayon_to_kitsu.rules import hold_back, kitsu_values
from kitsync.ayon_to_kitsu.state import Agreed
from kitsync.concurrency import task_group
from kitsync.config import TwoWayField
from kitsync.core.casting import CastingDiff
from kitsync.core.plan import Plan
from kitsync.core.production import Production, ProductionSpecs, production_specs
from kitsync.core.routing import Key, route
from kitsync.errors import KitsyncError, TransientError
from kitsync.gc_pause import collector_paused
from kitsync.reconcile._apply import apply_plan
from kitsync.reconcile._links import links_to_remove_with
from kitsync.reconcile._project_apply import Failure, apply_steps
from kitsync.reconcile._project_plan import (
    Describer,
    ProjectPlan,
    Step,
    deleted_folders,
    folders_after,
    managed_entities,
    plan_project,
    removed_with,
)
from kitsync.reconcile._project_read import AyonState, read_ayon, read_production
from kitsync.reconcile.casting import plan_project_casting, reconcile_project_casting
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.users import ensure_users
from kitsync.schemas import BREAKDOWN, AyonFolder, KitsuEvent, KitsuProject, Operation

__all__ = ["Failure", "Progress", "ProjectNotPaired", "ProjectReport", "reconcile_project"]

Progress = Callable[[int, int, str], None]
"""``progress(done, total, phase)``; phases: reading, writing (operations done of total),
linking, checking (after writing: Kitsu's event log since the read), done. See
``kitsync.reconcile.progress``."""

EVENTS_PAGE = 100  # Kitsu events per request when looking for changes made during a run
# A second, fresh plan after failures (races heal, real refusals fail twice) or after a plan
# that is not settled (a folder kept a suffix whose bare name the plan freed: a name swap).
PASSES = 2


class ProjectNotPaired(KitsyncError):
    """No active AYON project has ``data.kitsuProjectId`` = this Kitsu project."""


@dataclass(frozen=True)
class ProjectReport:
    """What a full reconcile did (or, ``dry_run``, would do)."""

    project_id: str
    project: str
    kitsu_name: str = ""
    dry_run: bool = False
    changes: Mapping[str, int] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    notes: tuple[str, ...] = ()
    # Only when itemized (see ``reconcile_project``): one line per change, in order (anatomy
    # and project, operations, links), for ``-v``: planned in a dry run, written in a real
    # one; and the operations of the first plan.
    planned: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()
    # Keys of what Kitsu changed while the run worked (see ``_Run.changed_meanwhile``): the
    # worker queues them, for their event reconciles to read the newest state.
    follow_ups: tuple[Key, ...] = ()

    @property
    def outcome(self) -> Literal["in step", "changed", "failed"]:
        if self.failures:
            return "failed"
        return "changed" if self.changes else "in step"

    def describe(self) -> str:
        kitsu = f"{self.kitsu_name} ({self.project_id})" if self.kitsu_name else self.project_id
        where = f"Kitsu project {kitsu} -> AYON project {self.project}"
        if not self.changes:
            summary = "in step, nothing to write" if self.dry_run else "in step, nothing written"
        else:
            done = ", ".join(f"{count} {what}" for what, count in self.changes.items())
            summary = f"would {done}" if self.dry_run else done
        failed = f"; {len(self.failures)} failed" if self.failures else ""
        return f"{where}: {summary}{failed}"


async def reconcile_project(
    ctx: SyncContext,
    project_id: str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    itemize: bool = False,
) -> ProjectReport:
    """Converge the AYON project paired with Kitsu project ``project_id``.

    ``itemize``: the report also lists every change and the operations (``kitsync sync -v``);
    without it, only counts: a long series' lines and operations take hundreds of MiB, for a
    worker that reports counts.

    Raises :class:`ProjectNotPaired`, ``KitsuNotFound`` (no such Kitsu project), and the
    transient errors of either side (to retry the whole reconcile); entity failures are in the
    report.
    """
    project = await ctx.reader.paired_project(project_id)
    if project is None:
        raise ProjectNotPaired(
            f"Kitsu project {project_id} is not paired with an AYON project "
            "(no active AYON project has data.kitsuProjectId = it; see `kitsync pair`)"
        )
    run = _Run(ctx, project_id, project, progress or _quiet, itemize)
    return await (run.dry() if dry_run else run.real())


def _quiet(done: int, total: int, phase: str) -> None:
    """No progress reporting."""


def _keys_of(events: list[KitsuEvent]) -> tuple[Key, ...]:
    return route(reversed(events)).keys


def _entity_count(production: Production) -> int:
    """Kitsu entities and cast occurrences of the production, as read."""
    lists = (
        production.assets,
        production.episodes,
        production.sequences,
        production.shots,
        production.edits,
        production.concepts,
        production.tasks,
        production.entity_links or (),
    )
    return sum(len(entities) for entities in lists)


@dataclass(frozen=True)
class _EventMark:
    """The newest event of the project's Kitsu event log when the run began (none: all since
    the epoch are newer)."""

    second: datetime = datetime(1970, 1, 1)
    event_id: str | None = None


@dataclass(frozen=True)
class _Read:
    """The Kitsu side, read once per reconcile."""

    kitsu_project: KitsuProject
    production: Production
    specs: ProductionSpecs


class _Run:
    def __init__(
        self, ctx: SyncContext, project_id: str, project: str, progress: Progress, itemize: bool
    ):
        self.ctx = ctx
        self.project_id = project_id
        self.project = project
        self.progress = progress
        self.itemize = itemize
        self.changes: Counter[str] = Counter()
        self.plan_notes: tuple[str, ...] = ()  # the last plan's
        self.notes: list[str] = []  # what writing and linking found
        self.kitsu_name = ""
        self.lines: list[str] = []  # one per change, in order, when itemizing
        self.held: set[Key] = set()  # task keys whose two-way fields were held back

    async def dry(self) -> ProjectReport:
        read, ayon = await self._read()
        planned, state = await self._plan(read, ayon)
        describer = Describer(state.folders, state.tasks)
        steps = describer.steps(planned.entities.operations)
        self.changes.update(planned.counts())
        deleted = deleted_folders(planned.entities.operations)
        stale = await links_to_remove_with(self.ctx.reader, self.project, deleted)
        links = await self._predict_links(read, planned, state, deleted)
        self.changes["delete link"] += len(stale) + len(links.delete)
        self.changes["create link"] += len(links.create)
        self._list(planned.project_lines())
        self._list(step.what for step in steps)
        self._list(_stale_lines(stale))
        if links.create and all(item.name != BREAKDOWN for item in state.anatomy.link_types):
            self.changes["add link type"] += 1
            self._list([_LINK_TYPE_LINE])
        if self.itemize:
            self._list(describer.links(links))
        if links.missing:
            self.notes.append(
                f"{len(links.missing)} cast Kitsu entities would have no AYON folder, their "
                f"links are left out: {', '.join(links.missing)}"
            )
        operations = planned.entities.operations if self.itemize else ()
        return self._report(operations, dry_run=True)

    async def real(self) -> ProjectReport:
        mark = await self._event_mark()  # before the read: what it cannot see comes after
        read, first = await self._read()
        if self.ctx.create_users:  # before planning: the plan assigns the users it finds
            assigned = {person for task in read.production.tasks for person in task.assignees or ()}
            persons = [person for person in read.production.persons if person.id in assigned]
            self.changes["create user"] += await ensure_users(self.ctx, persons)
        ayon: AyonState | None = first  # what the next pass plans from (None: read it then)
        failures: list[Failure] = []
        operations: tuple[Operation, ...] = ()
        folders: list[AyonFolder] | None = None  # AYON's folders now, if known without a read
        describer: Describer | None = None  # knows the paths as the last steps left them
        for _ in range(PASSES):
            planned, state = await self._plan(read, ayon)
            ayon = None  # a next pass reads afresh: this one may write
            if planned.empty:
                failures = []  # what failed before has been done since, by another worker
                folders = state.folders  # nothing written since they were read
                break
            describer = Describer(state.folders, state.tasks)
            with collector_paused():
                steps = describer.steps(planned.entities.operations)
            if self.itemize:
                operations = operations or planned.entities.operations
            failures = await self._apply(planned, steps)
            if not failures and planned.entities.settled:
                break
        else:
            if failures:  # a write lost to a worker that made the same (409) is no failure
                planned, state = await self._plan(read, None)
                if planned.empty:
                    failures, folders = [], state.folders
        self.progress(0, 0, "linking")
        if self.itemize and describer is None:  # only the itemized lines name paths
            describer = Describer(state.folders, state.tasks)
        links_before = self._links_written()
        failures += await self._link(read, folders, describer)
        linked = self._links_written() - links_before
        self.progress(linked, linked, "linking")
        follow_ups: tuple[Key, ...] = ()
        # With AYON -> Kitsu on, also when nothing was written: a task Kitsu changed since the
        # read must not get the value read as its base (it would pass for a change in AYON).
        if self.changes or self.ctx.two_way is not None:
            self.progress(0, 0, "checking")
            follow_ups = await self.changed_meanwhile(mark)
            if self.changes["update project"]:
                # Zou logs a project's own change with no project column, so the events above
                # never hold it: the project's key reads its attributes again.
                follow_ups = (*follow_ups, Key(self.project_id, "project", self.project_id))
            self.progress(len(follow_ups), len(follow_ups), "checking")
        if self.ctx.two_way is not None and not failures:
            await self._record_bases(self.ctx.two_way, read, state, set(follow_ups))
        self.progress(0, 0, "done")
        report = self._report(operations, failures=failures)
        return replace(report, follow_ups=tuple(dict.fromkeys((*follow_ups, *sorted(self.held)))))

    async def _event_mark(self) -> _EventMark:
        newest = await self.ctx.kitsu.events_page(after=None, limit=1, project_id=self.project_id)
        return _EventMark(newest[0].created_at, newest[0].id) if newest else _EventMark()

    async def changed_meanwhile(self, mark: _EventMark) -> tuple[Key, ...]:
        """What Kitsu changed since this run read it: the project's events newer than ``mark``
        (newest first, so usually one page, even when the mark's second holds a bulk import's
        thousands). An event reconcile of one of them may have run before this run's write,
        which then put the older state back. Only after writing anything: a run that wrote
        nothing undid nothing. (Reading the whole project again took a dozen list calls.)"""
        newer: list[KitsuEvent] = []
        cursor: str | None = None
        while True:
            page = await self.ctx.kitsu.events_page(
                after=mark.second,
                cursor_event_id=cursor,
                limit=EVENTS_PAGE,
                project_id=self.project_id,
            )
            for event in page:
                if event.id == mark.event_id:
                    return _keys_of(newer)
                newer.append(event)
            if len(page) < EVENTS_PAGE:
                return _keys_of(newer)
            cursor = page[-1].id

    # -- reading and planning -------------------------------------------------------------

    async def _read(self) -> tuple[_Read, AyonState]:
        """Kitsu's side with its entity links, and AYON's for the first plan: all at once, as
        none of these reads needs another's answer."""
        self.progress(0, 0, "reading")
        async with task_group() as group:
            kitsu = group.create_task(read_production(self.ctx.kitsu, self.project_id))
            links = group.create_task(self.ctx.kitsu.entity_links(self.project_id))
            ayon = group.create_task(read_ayon(self.ctx.reader, self.project))
        kitsu_project, production = kitsu.result()
        production = replace(production, entity_links=links.result())
        self.kitsu_name = kitsu_project.name
        read_count = (
            _entity_count(production) + len(ayon.result().folders) + len(ayon.result().tasks)
        )
        self.progress(read_count, read_count, "reading")
        with collector_paused():
            specs = production_specs(production)
        return _Read(kitsu_project, production, specs), ayon.result()

    async def _plan(self, read: _Read, ayon: AyonState | None) -> tuple[ProjectPlan, AyonState]:
        """Plan from AYON's state ``ayon`` (read now when None)."""
        state = ayon if ayon is not None else await read_ayon(self.ctx.reader, self.project)
        with collector_paused():
            managed = managed_entities(read.production, read.specs, state)
        emails = {email for task in read.specs.tasks for email in task.assignee_emails}
        with_products, users = await asyncio.gather(
            self.ctx.reader.folders_with_products(
                self.project, [managed.folders[key].id for key in managed.gone_folders]
            ),
            self.ctx.reader.users_by_email(emails),
        )
        state = replace(state, users_by_email=users)
        with collector_paused():
            planned = plan_project(
                read.production,
                read.specs,
                read.kitsu_project,
                state,
                managed,
                with_products=with_products,
                delete_mode=self.ctx.delete_mode,
            )
        self.plan_notes = planned.entities.notes
        if self.ctx.two_way is not None:
            planned = self._hold_back(planned, state, self.ctx.two_way.fields)
        return planned, state

    def _held_note(self) -> tuple[str, ...]:
        if not self.held:
            return ()
        return (
            f"{len(self.held)} tasks differ in a field synced both ways (KITSYNC_AYON_TO_KITSU): "
            "not written here; their own reconciles apply the conflict rule (the worker queues "
            "them)",
        )

    async def _record_bases(
        self, two_way: TwoWay, read: _Read, state: AyonState, changed: set[Key]
    ) -> None:
        """The tasks this run left in step (all but the held back, when nothing failed) are a
        sync: their values are the bases of the conflict rule (what a later change on one side
        is measured against). Not those Kitsu ``changed`` since the read: their keys run
        again."""
        values = kitsu_values(read.production.tasks, read.production.persons, state.users_by_email)
        agreed: dict[str, Agreed] = {}
        for kitsu_id, (status, assignees) in values.items():
            key = Key(self.project_id, "task", kitsu_id)
            if key not in self.held and key not in changed:
                agreed[str(key)] = Agreed(
                    status if "status" in two_way.fields else None,
                    assignees if "assignees" in two_way.fields else None,
                )
        await two_way.state.agree(agreed)

    def _hold_back(
        self, planned: ProjectPlan, state: AyonState, fields: frozenset[TwoWayField]
    ) -> ProjectPlan:
        """The two-way fields of task updates are left to those tasks' key reconciles (queued
        as follow-ups), which know whether AYON or Kitsu changed them."""
        operations, held = hold_back(planned.entities.operations, fields)
        if not held:
            return planned
        kitsu_ids = {task.id: task.kitsu_id for task in state.tasks}
        self.held |= {
            Key(self.project_id, "task", kitsu_id)
            for task_id in held
            if (kitsu_id := kitsu_ids.get(task_id))
        }
        return replace(planned, entities=replace(planned.entities, operations=operations))

    async def _predict_links(
        self, read: _Read, planned: ProjectPlan, state: AyonState, deleted: list[str]
    ) -> CastingDiff:
        """The breakdown link changes ``reconcile_project_casting`` will make once the planned
        operations are applied (its planning, on AYON's state as it will then be)."""
        removed = removed_with(state.folders, state.tasks, deleted)
        after = folders_after(state.folders, planned.entities.operations, removed)
        existing = [
            link
            for link in await self.ctx.reader.links_of_type(self.project, BREAKDOWN)
            if link.input_id not in removed and link.output_id not in removed
        ]
        # Beyond ``after``, casting looks up the folders stale links lead into: the plan neither
        # creates nor removes those, so AYON's current rows answer for the state to come.
        return await plan_project_casting(
            self.ctx, self.project_id, self.project, read.production, after, existing
        )

    # -- writing --------------------------------------------------------------------------

    async def _apply(self, planned: ProjectPlan, steps: list[Step]) -> list[Failure]:
        entities = planned.entities
        deleted = deleted_folders(entities.operations)
        # Read before the delete: the subtree is gone afterwards.
        stale = await links_to_remove_with(self.ctx.reader, self.project, deleted)
        anatomy = Plan(
            folder_types=entities.folder_types,
            task_types=entities.task_types,
            statuses=entities.statuses,
        )
        if anatomy.anatomy_changes:
            await apply_plan(self.ctx, self.project, anatomy)
            self.changes.update(anatomy.counts())
        if planned.attrib:
            await self.ctx.writer.update_project(self.project, {"attrib": dict(planned.attrib)})
            self.changes["update project"] += 1
        self._list(planned.project_lines())
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            self.progress(done, len(steps), "writing")

        self.progress(0, len(steps), "writing")
        applied, failures = await apply_steps(self.ctx.writer, self.project, steps, advance)
        self.changes.update(Plan(operations=tuple(step.operation for step in applied)).counts())
        self._list(step.what for step in applied)
        planned_deletes = set(deleted)
        done_deletes = {s.operation.entity_id for s in applied} & planned_deletes
        if stale and done_deletes == planned_deletes:
            self.changes["delete link"] += await self.ctx.writer.delete_links(self.project, stale)
            self._list(_stale_lines(stale))
        elif stale:
            self.notes.append(
                f"{len(stale)} links of deleted folders' descendants kept: a folder delete failed"
            )
        return failures

    async def _link(
        self, read: _Read, folders: list[AyonFolder] | None, describer: Describer | None
    ) -> list[Failure]:
        lines: list[str] = []
        try:
            result = await reconcile_project_casting(
                self.ctx,
                self.project_id,
                read.production,
                folders,
                on_applied=(lambda diff: lines.extend(describer.links(diff)))
                if describer is not None
                else None,
            )
        except AyonError as error:
            if isinstance(error, TransientError):
                raise
            return [Failure("breakdown links", str(error))]
        if result.changes.get("add link type"):
            self._list([_LINK_TYPE_LINE])
        self._list(lines)
        self.changes.update(result.changes)
        self.notes.extend(result.notes)
        return []

    def _list(self, lines: Iterable[str]) -> None:
        if self.itemize:
            self.lines.extend(lines)

    def _links_written(self) -> int:
        return self.changes["create link"] + self.changes["delete link"]

    def _report(
        self,
        operations: tuple[Operation, ...],
        *,
        dry_run: bool = False,
        failures: list[Failure] | None = None,
    ) -> ProjectReport:
        return ProjectReport(
            project_id=self.project_id,
            project=self.project,
            kitsu_name=self.kitsu_name,
            dry_run=dry_run,
            changes={what: count for what, count in sorted(self.changes.items()) if count},
            failures=tuple(failures or ()),
            notes=tuple(dict.fromkeys((*self.plan_notes, *self.notes, *self._held_note()))),
            planned=tuple(self.lines),
            operations=operations,
        )


_LINK_TYPE_LINE = f"add link type {BREAKDOWN}"


def _stale_lines(link_ids: Iterable[str]) -> list[str]:
    return [f"delete link {link_id} (left by a folder delete)" for link_id in link_ids]
