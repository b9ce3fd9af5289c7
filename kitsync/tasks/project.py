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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from kitsync.ayon import AyonError, index_by_kitsu_id
from kitsync.collector import collector_paused
from kitsync.core.casting import CastingDiff, diff_project_casting
from kitsync.core.plan import Plan
from kitsync.core.production import Production, ProductionSpecs, production_specs
from kitsync.core.routing import keys_changed_between
from kitsync.errors import KitsyncError, TransientError
from kitsync.schemas import BREAKDOWN, AyonFolder, AyonLink, KitsuProject, Operation
from kitsync.tasks._apply import apply_plan
from kitsync.tasks._links import links_to_remove_with
from kitsync.tasks._project_apply import Failure, apply_steps
from kitsync.tasks._project_plan import (
    Describer,
    ProjectPlan,
    Step,
    deleted_folders,
    folders_after,
    managed_entities,
    plan_project,
    removed_with,
)
from kitsync.tasks._project_read import AyonState, read_ayon, read_production
from kitsync.tasks.casting import _cleared_outputs, kitsu_castings, reconcile_project_casting
from kitsync.tasks.context import SyncContext

__all__ = ["Failure", "Progress", "ProjectNotPaired", "ProjectReport", "reconcile_project"]

Progress = Callable[[int, int, str], None]
"""``progress(done, total, phase)``; phases: reading, writing (operations done of total),
linking, done."""

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
    # One line per planned change, in order (operations, then links), for ``-v``.
    planned: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()
    # Keys of what Kitsu changed while the run worked (see ``_Run.changed_meanwhile``): the
    # worker queues them, for their event reconciles to read the newest state.
    follow_ups: tuple[str, ...] = ()

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
    ctx: SyncContext, project_id: str, *, dry_run: bool = False, progress: Progress | None = None
) -> ProjectReport:
    """Converge the AYON project paired with Kitsu project ``project_id``.

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
    run = _Run(ctx, project_id, project, progress or _quiet)
    return await (run.dry() if dry_run else run.real())


def _quiet(done: int, total: int, phase: str) -> None:
    """No progress reporting."""


@dataclass(frozen=True)
class _Read:
    """The Kitsu side, read once per reconcile."""

    kitsu_project: KitsuProject
    production: Production
    specs: ProductionSpecs


class _Run:
    def __init__(self, ctx: SyncContext, project_id: str, project: str, progress: Progress):
        self.ctx = ctx
        self.project_id = project_id
        self.project = project
        self.progress = progress
        self.changes: Counter[str] = Counter()
        self.plan_notes: tuple[str, ...] = ()  # the last plan's
        self.notes: list[str] = []  # what writing and linking found
        self.kitsu_name = ""

    async def dry(self) -> ProjectReport:
        read, ayon = await self._read()
        planned, state = await self._plan(read, ayon)
        describer = Describer(state.folders, state.tasks)
        steps = describer.steps(planned.entities.operations)
        self.changes.update(planned.counts())
        deleted = deleted_folders(planned.entities.operations)
        stale = await links_to_remove_with(self.ctx.reader, self.project, deleted)
        links, existing = await self._predict_links(read, planned, state, deleted)
        self.changes["delete link"] += len(stale) + len(links.delete)
        self.changes["create link"] += len(links.create)
        if links.create and all(item.name != BREAKDOWN for item in state.anatomy.link_types):
            self.changes["add link type"] += 1
        lines = [step.what for step in steps]
        lines += [f"delete link {link_id} (left by a folder delete)" for link_id in stale]
        lines += [
            f"delete link {describer.path(existing[i].input_id)} -> "
            f"{describer.path(existing[i].output_id)}"
            for i in links.delete
        ]
        lines += [
            f"create link {describer.path(link.input)} -> {describer.path(link.output)}"
            for link in links.create
        ]
        if links.missing:
            self.notes.append(
                f"{len(links.missing)} cast Kitsu entities would have no AYON folder, their "
                f"links are left out: {', '.join(links.missing)}"
            )
        return self._report(lines, planned.entities.operations, dry_run=True)

    async def real(self) -> ProjectReport:
        read, first = await self._read()
        ayon: AyonState | None = first  # what the next pass plans from (None: read it then)
        failures: list[Failure] = []
        lines: list[str] = []
        operations: tuple[Operation, ...] = ()
        folders: list[AyonFolder] | None = None  # AYON's folders now, if known without a read
        for _ in range(PASSES):
            planned, state = await self._plan(read, ayon)
            ayon = None  # a next pass reads afresh: this one may write
            if planned.empty:
                failures = []  # what failed before has been done since, by another worker
                folders = state.folders  # nothing written since they were read
                break
            with collector_paused():
                steps = Describer(state.folders, state.tasks).steps(planned.entities.operations)
            lines = lines or [step.what for step in steps]
            operations = operations or planned.entities.operations
            failures = await self._apply(planned, steps)
            if not failures and planned.entities.settled:
                break
        self.progress(0, 0, "linking")
        failures += await self._link(read, folders)
        follow_ups = await self.changed_meanwhile(read) if self.changes else ()
        self.progress(0, 0, "done")
        report = self._report(lines, operations, failures=failures)
        return replace(report, follow_ups=follow_ups)

    async def changed_meanwhile(self, read: _Read) -> tuple[str, ...]:
        """What Kitsu changed between this run's read and the end of its writes: an event
        reconcile of it may have run before this run's write, which then put the older state
        back. Only after writing anything: a run that wrote nothing undid nothing."""
        try:
            async with asyncio.TaskGroup() as group:
                kitsu = group.create_task(read_production(self.ctx.kitsu, self.project_id))
                links = group.create_task(self.ctx.kitsu.entity_links(self.project_id))
        except ExceptionGroup as failures:
            raise failures.exceptions[0] from None
        now = replace(kitsu.result()[1], entity_links=links.result())
        return tuple(map(str, keys_changed_between(self.project_id, read.production, now)))

    # -- reading and planning -------------------------------------------------------------

    async def _read(self) -> tuple[_Read, AyonState]:
        """Kitsu's side with its entity links, and AYON's for the first plan: all at once, as
        none of these reads needs another's answer."""
        self.progress(0, 0, "reading")
        try:
            async with asyncio.TaskGroup() as group:
                kitsu = group.create_task(read_production(self.ctx.kitsu, self.project_id))
                links = group.create_task(self.ctx.kitsu.entity_links(self.project_id))
                ayon = group.create_task(read_ayon(self.ctx.reader, self.project))
        except ExceptionGroup as failures:
            raise failures.exceptions[0] from None
        kitsu_project, production = kitsu.result()
        production = replace(production, entity_links=links.result())
        self.kitsu_name = kitsu_project.name
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
        return planned, state

    async def _predict_links(
        self, read: _Read, planned: ProjectPlan, state: AyonState, deleted: list[str]
    ) -> tuple[CastingDiff, dict[str, AyonLink]]:
        """The breakdown link changes ``reconcile_project_casting`` will make once the planned
        operations are applied (its planning, on AYON's state as it will then be), and the
        links there are now by id."""
        castings = await kitsu_castings(self.ctx.kitsu, self.project_id, read.production)
        kitsu_ids = {*castings, *(asset for casting in castings.values() for asset in casting)}
        removed = removed_with(state.folders, state.tasks, deleted)
        after = folders_after(state.folders, planned.entities.operations, removed)
        folders = {key: f.id for key, f in index_by_kitsu_id(after, kitsu_ids).items()}
        existing = [
            link
            for link in await self.ctx.reader.links_of_type(self.project, BREAKDOWN)
            if link.input_id not in removed and link.output_id not in removed
        ]
        # Casting's own rule (package-private): the strangers it looks up are folders the plan
        # neither creates nor removes, so AYON's current rows answer for the state to come.
        cleared = await _cleared_outputs(self.ctx, self.project, existing, set(folders.values()))
        diff = diff_project_casting(castings, folders, existing, cleared)
        return diff, {link.id: link for link in existing}

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
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            self.progress(done, len(steps), "writing")

        self.progress(0, len(steps), "writing")
        applied, failures = await apply_steps(self.ctx.writer, self.project, steps, advance)
        self.changes.update(Plan(operations=tuple(step.operation for step in applied)).counts())
        planned_deletes = set(deleted)
        done_deletes = {s.operation.entity_id for s in applied} & planned_deletes
        if stale and done_deletes == planned_deletes:
            self.changes["delete link"] += await self.ctx.writer.delete_links(self.project, stale)
        elif stale:
            self.notes.append(
                f"{len(stale)} links of deleted folders' descendants kept: a folder delete failed"
            )
        return failures

    async def _link(self, read: _Read, folders: list[AyonFolder] | None) -> list[Failure]:
        try:
            result = await reconcile_project_casting(
                self.ctx, self.project_id, read.production, folders
            )
        except AyonError as error:
            if isinstance(error, TransientError):
                raise
            return [Failure("breakdown links", str(error))]
        self.changes.update(result.changes)
        self.notes.extend(result.notes)
        return []

    def _report(
        self,
        planned: list[str],
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
            notes=tuple(dict.fromkeys((*self.plan_notes, *self.notes))),
            planned=tuple(planned),
            operations=operations,
        )
