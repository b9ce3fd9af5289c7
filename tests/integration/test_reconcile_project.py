"""reconcile_project against the fake Kitsu and the fake AYON on the real Postgres."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from kitsync.ayon import AyonUnavailable
from kitsync.core.ids import ayon_id
from kitsync.core.routing import Key
from kitsync.kitsu import KitsuNotFound
from kitsync.reconcile import (
    Progress,
    ProjectNotPaired,
    ProjectReport,
    SyncProgress,
    reconcile_entity,
    reconcile_project,
    reconcile_project_casting,
)
from kitsync.reconcile import project as project_module
from kitsync.reconcile.record import SYNC_TOPIC
from kitsync.schemas import KIND_OF_TYPE_NAME, EntityOrTaskKind
from tests.expected import FILM_TREE, FILM_TREE_AFTER
from tests.fakes.ayon import inject_failures
from tests.fakes.kitsu import FakeKitsu
from tests.integration.sync_bed import SyncBed, sync_bed
from tests.production_generator import generate_production

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("read_path")]

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
TV = "1332d020-28a7-4b76-80e7-a5caf625538c"
SH0010 = "f48bffdc-4a40-4304-98f1-80af0adefec9"


async def _links(bed: SyncBed) -> set[tuple[str, str, int]]:
    """(container Kitsu id, asset Kitsu id, occurrence) of every breakdown link."""
    rows = await bed.pool.fetch(f"SELECT data::text AS data FROM project_{bed.project}.links")
    found = set()
    for row in rows:
        data = json.loads(row["data"])
        found.add((data["kitsuTargetId"], data["kitsuAssetId"], data["occurence"]))
    return found


def _line_counts(report: ProjectReport) -> dict[str, int]:
    """Listed lines (``-v``) by the change they start with ("create folder", "add task type",
    "delete link" ...): each change counted must be listed."""
    kinds = sorted(report.changes, key=len, reverse=True)
    return dict(
        Counter(
            next((k for k in kinds if line.startswith(f"{k} ")), line) for line in report.planned
        )
    )


async def _dry_then_real(
    bed: SyncBed, project_id: str, progress: Progress | None = None
) -> tuple[ProjectReport, ProjectReport]:
    before = len(bed.ayon_writes())
    dry = await reconcile_project(bed.ctx, project_id, dry_run=True, itemize=True)
    counted = await reconcile_project(bed.ctx, project_id, dry_run=True)  # as a worker runs it
    assert len(bed.ayon_writes()) == before, "a dry run wrote to AYON"
    assert dict(counted.changes) == dict(dry.changes) and dry.planned and dry.operations
    assert counted.planned == () and counted.operations == ()
    real = await reconcile_project(bed.ctx, project_id, progress=progress, itemize=True)
    assert real.failures == ()
    assert dict(dry.changes) == dict(real.changes)
    assert _line_counts(dry) == dict(dry.changes) and _line_counts(real) == dict(real.changes)
    return dry, real


async def _in_step(bed: SyncBed, project_id: str) -> None:
    before = len(bed.ayon_writes())
    again = await reconcile_project(bed.ctx, project_id)
    assert again.outcome == "in step" and again.changes == {}
    assert bed.ayon_writes()[before:] == []


async def test_film_build_then_mutations(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        calls: list[tuple[int, int, str]] = []

        def progress(done: int, total: int, phase: str) -> None:
            calls.append((done, total, phase))

        _, real = await _dry_then_real(bed, FILM, progress)
        writing = [(done, total) for done, total, phase in calls if phase == "writing"]
        assert writing[0] == (0, 79) and writing[-1] == (79, 79)  # 31 folders, 48 tasks
        # Each phase starts at 0 and ends with its count; Kitsu is read again after writing.
        assert [phase for _, _, phase in calls if phase != "writing"] == [
            *("reading", "reading", "linking", "linking", "checking", "checking", "done")
        ]
        linked = [done for done, _, phase in calls if phase == "linking"]
        assert linked == [0, real.changes["create link"]]
        assert real.changes["create folder"] == len(FILM_TREE)
        assert real.changes["create task"] == 48
        assert real.changes["create link"] > 0
        assert "create link assets/character/hero -> sequences/sq010/sh0010" in real.planned
        assert await bed.tree() == FILM_TREE
        shot = await bed.folder(SH0010)
        assert shot["id"].hex == ayon_id(SH0010)
        assert shot["attrib"]["frameEnd"] == 1048
        tasks = await bed.tasks()
        assert len(tasks) == 48
        # Assignees by email (other tests of the session may add an AYON user for chloe).
        assert {user for _, _, users in tasks.values() for user in users} >= {"alice", "bruno"}
        project = await bed.ctx.writer.get_project(bed.project)
        assert project.attrib["fps"] == 24.0 and project.attrib["resolutionWidth"] == 2048
        await _in_step(bed, FILM)
        links_built = await _links(bed)

    mutated = FakeKitsu.from_fixtures("film", "after_mutations")
    async with sync_bed(pg_dsn, mutated, FILM, project=bed.project) as after:
        _, real = await _dry_then_real(after, FILM)
        assert real.changes["delete folder"] >= 1 and real.changes["deactivate folder"] >= 1
        assert await after.tree() == FILM_TREE_AFTER
        assert await _links(after) != links_built
        await _in_step(after, FILM)


async def test_the_sync_event_reports_each_phase_with_its_count_and_rate(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        shown = SyncProgress(bed.ctx, bed.project, FILM)
        await shown.start()
        report = await reconcile_project(bed.ctx, FILM, progress=shown.update)
        await shown.finish(report.describe(), {"changes": dict(report.changes)}, failed=False)
        row = await bed.pool.fetchrow(
            "SELECT status, summary::text AS summary FROM public.events "
            "WHERE topic = $1 AND project_name = $2",
            SYNC_TOPIC,
            bed.project,
        )
    assert row["status"] == "finished"
    summary = json.loads(row["summary"])
    phases = {phase["phase"]: phase for phase in summary["phases"]}
    assert list(phases) == ["reading", "writing", "linking", "checking"]
    assert phases["writing"]["done"] == phases["writing"]["total"] == 79  # 31 folders, 48 tasks
    assert phases["linking"]["done"] == report.changes["create link"] > 0
    # Kitsu did not change meanwhile: only the project's key, whose attributes the run wrote.
    assert phases["checking"]["done"] == 1
    assert phases["reading"]["done"] > 79
    for phase in ("reading", "writing", "linking"):
        # "seconds" is rounded to the millisecond: over a phase of tens of ms that is a few %.
        seconds = phases[phase]["seconds"]
        assert phases[phase]["perSecond"] == pytest.approx(
            phases[phase]["done"] / seconds, rel=0.01 + 0.0005 / seconds
        )


async def test_kitsu_changes_made_while_it_writes_are_handed_back(pg_dsn: str) -> None:
    """From the project's event log since the run began: the change made while it wrote comes
    back as a key to reconcile again; those made before its read (many, in the same second as
    likely as not) do not, and are not even paged through."""
    fake = FakeKitsu.from_fixtures("film", "after_build")
    async with sync_bed(pg_dsn, fake, FILM) as bed:
        shots = {shot.name: shot.id for shot in await bed.ctx.kitsu.shots(FILM)}
        for number in range(150):  # more than a page of Kitsu's event log
            fake.update_entity(shots["SH0020"], description=f"before the run {number}")

        def progress(done: int, total: int, phase: str) -> None:
            if phase == "linking" and done == 0:
                fake.update_entity(SH0010, description="while it wrote")

        before = len(fake.requests)
        report = await reconcile_project(bed.ctx, FILM, progress=progress)
        # The project's attributes were written too: its key comes back as well (Zou logs a
        # project's own change with no project column, so the event log cannot tell).
        assert report.changes["update project"] == 1
        assert report.follow_ups == (Key(FILM, "shot", SH0010), Key(FILM, "project", FILM))
        log_reads = [path for _, path in fake.requests[before:] if "/data/events/last" in path]
        assert len(log_reads) == 2  # the newest event before the read, one page at the end
        again = await reconcile_project(bed.ctx, FILM)  # wrote only what changed: no re-read
        assert again.changes == {"update folder": 1} and again.follow_ups == ()


async def test_tv_equals_reconciling_every_entity(pg_dsn: str) -> None:
    """The full reconcile gives the tree, tasks and links that reconciling every entity (and
    casting) one by one gives, before and after the recorded mutations."""
    full: dict[str, list[Any]] = {}
    project: str | None = None
    for stage in ("after_build", "after_mutations"):
        kitsu = FakeKitsu.from_fixtures("tv", stage)  # type: ignore[arg-type]
        async with sync_bed(pg_dsn, kitsu, TV, project=project) as bed:
            project = bed.project
            await _dry_then_real(bed, TV)
            full[stage] = [await bed.tree(), await bed.tasks(), await _links(bed)]
            await _in_step(bed, TV)
    project = None
    for stage in ("after_build", "after_mutations"):
        kitsu = FakeKitsu.from_fixtures("tv", stage)  # type: ignore[arg-type]
        async with sync_bed(pg_dsn, kitsu, TV, project=project) as bed:
            project = bed.project
            await _reconcile_each(bed, TV)
            assert [await bed.tree(), await bed.tasks(), await _links(bed)] == full[stage]


async def _reconcile_each(bed: SyncBed, project_id: str) -> None:
    kitsu = bed.ctx.kitsu
    kinds: list[tuple[EntityOrTaskKind, list[Any]]] = [
        ("asset", await kitsu.assets(project_id)),
        ("episode", await kitsu.episodes(project_id)),
        ("sequence", await kitsu.sequences(project_id)),
        ("shot", await kitsu.shots(project_id)),
        ("edit", await kitsu.edits(project_id)),
        ("concept", await kitsu.concepts(project_id)),
        ("task", await kitsu.tasks(project_id)),
    ]
    # Kitsu ids AYON holds but Kitsu no longer lists: their reconcile removes them.
    rows = await bed.pool.fetch(
        f"SELECT data->>'kitsuId' AS k, data->>'kitsuType' AS t FROM project_{bed.project}.folders"
        f" UNION ALL SELECT data->>'kitsuId', 'Task' FROM project_{bed.project}.tasks"
    )
    listed = {record.id for _, records in kinds for record in records}
    kinds_of: dict[str, EntityOrTaskKind] = {"Task": "task", **KIND_OF_TYPE_NAME}
    gone = [(kinds_of[r["t"]], r["k"]) for r in rows if r["t"] in kinds_of and r["k"] not in listed]
    for kind, records in kinds:
        for record in records:
            await reconcile_entity(bed.ctx, project_id, kind, record.id)
    for kind, kitsu_id in gone:
        await reconcile_entity(bed.ctx, project_id, kind, kitsu_id)
    await reconcile_project_casting(bed.ctx, project_id)


async def test_generated_thousand_shots(pg_dsn: str) -> None:
    generated = generate_production(shots=1000, sequences=20, seed=11)
    async with sync_bed(pg_dsn, generated.kitsu, generated.project_id) as bed:
        started = time.perf_counter()
        report = await reconcile_project(bed.ctx, generated.project_id)
        seconds = time.perf_counter() - started
        writes = bed.ayon_writes()
        print(
            f"\n1,000 shots: {generated.describe()}; first sync {seconds:.1f} s, "
            f"{len(bed.ayon_app.state.requests)} AYON requests ({len(writes)} writes), "
            f"{len(generated.kitsu.requests)} Kitsu requests; {report.describe()}"
        )
        assert report.failures == ()
        assert report.changes["create folder"] == generated.folders
        assert report.changes["create task"] == generated.tasks
        assert report.changes["create link"] == generated.cast_links
        kitsu_before = len(generated.kitsu.requests)
        started = time.perf_counter()
        await _in_step(bed, generated.project_id)
        print(
            f"1,000 shots in step: {time.perf_counter() - started:.1f} s, "
            f"{len(generated.kitsu.requests) - kitsu_before} Kitsu requests, 0 AYON writes"
        )


async def test_poison_folder_is_reported_and_the_rest_converges(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        schema = f"project_{bed.project}"
        # AYON refuses one folder: a label only one folder may have, taken by a hand-made one.
        await bed.pool.execute(
            f"CREATE UNIQUE INDEX poison ON {schema}.folders (label) WHERE label = 'SH0020'"
        )
        await bed.pool.execute(
            f"""INSERT INTO {schema}.folders (id, name, label, folder_type, status)
                VALUES ($1, 'handmade', 'SH0020', 'Folder', 'Not ready')""",
            uuid.uuid4(),
        )
        report = await reconcile_project(bed.ctx, FILM)
        failed = [f for f in report.failures if not f.skipped]
        skipped = [f for f in report.failures if f.skipped]
        assert [f.what for f in failed] == ["create folder sequences/sq010/sh0020"]
        assert "409" in failed[0].reason
        assert skipped and all("sh0020" in f.what for f in skipped)  # its tasks
        assert report.outcome == "failed"
        tree = await bed.tree()
        expected = {p: v for p, v in FILM_TREE.items() if p != "sequences/sq010/sh0020"}
        assert tree == expected | {"handmade": ("Folder", "SH0020", True)}
        again = await reconcile_project(bed.ctx, FILM)
        assert [f.what for f in again.failures if not f.skipped] == [failed[0].what]


async def test_unpaired_and_unknown_projects(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        with pytest.raises(ProjectNotPaired, match="not paired"):
            await reconcile_project(bed.ctx, str(uuid.uuid4()))
        await bed.pool.execute(
            "UPDATE public.projects SET data = data || $2::jsonb WHERE name = $1",
            bed.project,
            json.dumps({"kitsuProjectId": "0e8f1bd4-3e9e-4a3f-9a55-4f3a8d1c1f00"}),
        )
        with pytest.raises(KitsuNotFound):
            await reconcile_project(bed.ctx, "0e8f1bd4-3e9e-4a3f-9a55-4f3a8d1c1f00")
        assert bed.ayon_writes() == []


async def test_kitsu_deletes_keep_folders_with_products_and_honour_deactivate_mode(
    pg_dsn: str,
) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await reconcile_project(bed.ctx, FILM)
        goblet = (
            await bed.pool.fetchrow(
                f"SELECT id FROM project_{bed.project}.folders WHERE label = 'Goblet'"
            )
        )["id"]
        # Products are published by AYON's tools, never by kitsync: put one in place directly.
        await bed.pool.execute(
            f"INSERT INTO project_{bed.project}.products (id, name, folder_id, product_type) "
            "VALUES ($1, 'modelMain', $2, 'model')",
            uuid.uuid4(),
            goblet,
        )
    mutated = FakeKitsu.from_fixtures("film", "after_mutations")
    async with sync_bed(pg_dsn, mutated, FILM, project=bed.project) as after:
        after.ctx = replace(after.ctx, delete_mode="deactivate")
        _, real = await _dry_then_real(after, FILM)
        assert "delete folder" not in real.changes
        assert real.changes["deactivate folder"] == 4  # goblet, sh0070, smoke and sh0060
        tree = await after.tree()
        assert tree["assets/prop/goblet"] == ("Asset", "Goblet", False)
        assert tree["sequences/sq025/sh0070"] == ("Shot", "SH0070", False)
        await _in_step(after, FILM)

        after.ctx = replace(after.ctx, delete_mode="delete")
        report = await reconcile_project(after.ctx, FILM)
        assert report.changes == {"delete folder": 1}  # sh0070; goblet has products
        tree = await after.tree()
        assert "sequences/sq025/sh0070" not in tree
        assert tree["assets/prop/goblet"] == ("Asset", "Goblet", False)


async def test_transient_ayon_failure_stops_the_reconcile(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        path = f"/api/projects/{bed.project}/operations"
        inject_failures(bed.ayon_app, count=1, status=503, path=path)
        with pytest.raises(AyonUnavailable):
            await reconcile_project(bed.ctx, FILM)
        report = await reconcile_project(bed.ctx, FILM)  # the retry converges
        assert report.failures == () and await bed.tree() == FILM_TREE


async def test_a_request_refused_whole_is_split_until_it_passes(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        path = f"/api/projects/{bed.project}/operations"
        inject_failures(bed.ayon_app, count=2, status=400, path=path)
        report = await reconcile_project(bed.ctx, FILM)
        assert report.failures == () and await bed.tree() == FILM_TREE
        sent = [p for m, p in bed.ayon_writes() if p == path]
        assert len(sent) == 5  # refused whole, first half refused, its halves, second half


async def test_records_the_project_lists_leave_out_are_read_one_by_one(pg_dsn: str) -> None:
    generated = generate_production(shots=3, sequences=1, seed=2)
    kitsu = generated.kitsu
    shot = generated.shot_ids[0]
    edit_type = "d8d9eeaa-59a9-43a1-ba9a-c7a80c1c9ea1"  # not in the project's task types
    task = kitsu.create_task(shot, edit_type)
    async with sync_bed(pg_dsn, kitsu, generated.project_id) as bed:
        report = await reconcile_project(bed.ctx, generated.project_id)
        assert report.failures == ()
        assert report.changes["create task"] == generated.tasks + 1
        assert ("GET", f"/data/task-types/{edit_type}") in kitsu.requests
        row = await bed.pool.fetchrow(
            f"SELECT task_type FROM project_{bed.project}.tasks WHERE data->>'kitsuId' = $1",
            task["id"],
        )
        assert row is not None and row["task_type"] == "Edit"


async def test_a_full_sync_creates_the_missing_users_when_asked(pg_dsn: str) -> None:
    """With ``KITSYNC_CREATE_USERS`` on, ``kitsync pair`` gives every assignee a user: the
    tasks' own keys may not run again for a long while."""
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        # The database is shared by the test's runs on each read path: start without the user.
        await bed.pool.execute("DELETE FROM public.users WHERE name = 'chloe.castel'")
        bed.ctx = replace(bed.ctx, create_users=True)
        report = await reconcile_project(bed.ctx, FILM)
        assert report.changes["create user"] == 1
        assert not [note for note in report.notes if "chloe.castel@example.com" in note]
        assigned = {a for _, _, users in (await bed.tasks()).values() for a in users}
        assert "chloe.castel" in assigned


async def test_writes_another_worker_made_first_are_no_failure(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Event reconciles made the same entities while the full reconcile wrote (AYON answered
    409 "already exists"): its last pass ended with those as failures, though AYON was in step
    (found by the fault tier). A fresh plan finds them done."""
    monkeypatch.setattr(project_module, "PASSES", 1)  # the first pass is the last
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        real = bed.ctx.writer.operations
        raced: list[bool] = []

        async def operations(project: str, ops: Any) -> Any:
            if not raced:  # another worker sends the same, just before
                raced.append(True)
                await real(project, ops)
            return await real(project, ops)

        monkeypatch.setattr(bed.ctx.writer, "operations", operations)
        report = await reconcile_project(bed.ctx, FILM)
        assert raced and report.failures == ()
        assert await bed.tree() == FILM_TREE
