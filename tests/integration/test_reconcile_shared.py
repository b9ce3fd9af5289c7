"""The keys of what is not one folder or task, on the fake Kitsu and fake AYON (real Postgres):
each change is made in the fake Kitsu, which logs the event Zou logs for it, and reconciled from
the keys that event routes to, follow-ups included, as the worker would."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from kitsync.core.routing import Key, keys_for_event
from kitsync.reconcile import ReconcileResult, reconcile_entity, reconcile_key, reconcile_project
from kitsync.schemas import KitsuEvent
from tests.fakes.ayon import add_users
from tests.fakes.kitsu import FakeKitsu
from tests.integration.sync_bed import SyncBed, sync_bed

pytestmark = pytest.mark.integration

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
SH0010 = "f48bffdc-4a40-4304-98f1-80af0adefec9"


async def _synced(bed: SyncBed) -> None:
    report = await reconcile_project(bed.ctx, FILM)
    assert not report.failures, report.describe()


async def _run_events(bed: SyncBed, since: int) -> list[ReconcileResult]:
    """Reconcile the keys of the events logged since ``since``, then their follow-ups: those of
    this bed's project (the database holds other tests' paired projects too)."""
    events = [KitsuEvent.model_validate(raw) for raw in bed.kitsu.events()[since:]]
    todo = list(dict.fromkeys(key for event in events for key in keys_for_event(event)))
    results = []
    while todo:
        result = await reconcile_key(bed.ctx, todo.pop(0))
        results.append(result)
        todo += [k for k in result.follow_ups if k.project_id == FILM and k not in todo]
    return results


async def _project_row(bed: SyncBed, column: str) -> dict[str, Any]:
    value = await bed.pool.fetchval(
        f"SELECT {column} FROM public.projects WHERE name = $1", bed.project
    )
    found: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return found


async def _anatomy(bed: SyncBed, table: str) -> dict[str, dict[str, Any]]:
    rows = await bed.pool.fetch(f"SELECT name, data FROM project_{bed.project}.{table}")
    return {row["name"]: json.loads(row["data"]) for row in rows}


async def test_project_attributes_follow_a_project_update(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _synced(bed)
        since = len(bed.kitsu.events())
        bed.kitsu.update_project(FILM, fps="30", resolution="1920x1080")  # as M24

        (result,) = await _run_events(bed, since)
        assert result.key == f"{FILM}/project/{FILM}"
        assert result.changes == {"update project": 1}
        assert result.label == f"{bed.project} (project attributes)"
        attrib = await _project_row(bed, "attrib")
        assert (attrib["fps"], attrib["resolutionWidth"], attrib["resolutionHeight"]) == (
            30.0,
            1920,
            1080,
        )
        writes = len(bed.ayon_writes())
        again = await reconcile_key(bed.ctx, Key(FILM, "project", FILM))
        assert again.outcome == "in step" and len(bed.ayon_writes()) == writes


async def test_an_asset_type_rename_renames_its_grouping_folder_in_every_paired_project(
    pg_dsn: str,
) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _synced(bed)
        types = {t.name: t.id for t in await bed.ctx.kitsu.asset_types(FILM)}
        since = len(bed.kitsu.events())
        bed.kitsu.update_shared("asset-type", types["Character"], name="Characters")

        fan_out, renamed = await _run_events(bed, since)
        assert fan_out.key == f"*/asset-type/{types['Character']}"
        assert Key(FILM, "asset-type", types["Character"]) in fan_out.follow_ups
        assert renamed.changes == {"update folder": 1}
        assert renamed.label == f"{bed.project} /assets/characters"
        tree = await bed.tree()
        assert tree["assets/characters"] == ("Folder", "Characters", True)
        assert "assets/characters/hero" in tree and "assets/character" not in tree
        again = await reconcile_key(bed.ctx, Key(FILM, "asset-type", types["Character"]))
        assert again.outcome == "in step"


async def test_a_task_type_rename_and_recolour_reach_the_anatomy_and_the_tasks(
    pg_dsn: str,
) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _synced(bed)
        layout = next(t for t in await bed.ctx.kitsu.task_types(FILM) if t.name == "Layout")
        since = len(bed.kitsu.events())
        bed.kitsu.update_shared("task-type", layout.id, name="Layout 2D", color="#123456")

        _, item, *tasks = await _run_events(bed, since)
        assert item.changes == {"add task type": 1}
        assert item.label == f"{bed.project} (task type Layout 2D)"
        assert len(tasks) == len(item.follow_ups) == 8  # the film's Layout tasks
        assert {r.changes.get("update task") for r in tasks} == {1}
        types = await _anatomy(bed, "task_types")
        assert types["Layout 2D"]["color"] == "#123456"
        assert "Layout" in types  # AYON refuses to drop a type tasks may use; kept
        # A task named "main" wears its type's name (ayon-kitsu's rule): renamed with it.
        layouts = [v for k, v in (await bed.tasks()).items() if k.endswith("/layout_2d")]
        assert {task_type for task_type, _, _ in layouts} == {"Layout 2D"}
        assert len(layouts) == 8

        since = len(bed.kitsu.events())
        bed.kitsu.update_shared("task-type", layout.id, color="#abcdef")
        _, recoloured = await _run_events(bed, since)
        assert recoloured.changes == {"update task type": 1} and not recoloured.follow_ups
        assert (await _anatomy(bed, "task_types"))["Layout 2D"]["color"] == "#abcdef"


async def test_a_status_recolour_updates_the_status_it_maps_to(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _synced(bed)
        done = next(s for s in await bed.ctx.kitsu.task_statuses(FILM) if s.name == "Done")
        before = (await _anatomy(bed, "statuses"))["Done"]
        since = len(bed.kitsu.events())
        bed.kitsu.update_shared("task-status", done.id, color="#010203")

        _, item = await _run_events(bed, since)  # every task already wears "Done"
        assert item.changes == {"update status": 1} and not item.follow_ups
        after = (await _anatomy(bed, "statuses"))["Done"]
        assert after == before | {"color": "#010203"}  # state, scope, short name kept


async def test_a_person_email_change_moves_their_assignments(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _synced(bed)
        alice = next(p for p in await bed.ctx.kitsu.persons() if p.first_name == "Alice")
        theirs = {t.id for t in await bed.ctx.kitsu.tasks(FILM) if alice.id in (t.assignees or ())}
        await add_users(pg_dsn, {"alice.new": "alice@studio.example"})
        since = len(bed.kitsu.events())
        bed.kitsu.update_shared("person", alice.id, email="alice@studio.example")

        fan_out, person, *tasks = await _run_events(bed, since)
        assert fan_out.key == f"*/person/{alice.id}"
        assert {key.kitsu_id for key in person.follow_ups} == theirs
        assert {r.changes.get("update task") for r in tasks} == {1}
        assigned = {user for _, _, users in (await bed.tasks()).values() for user in users}
        assert "alice.new" in assigned and "alice" not in assigned


async def test_two_people_of_one_name_get_two_ayon_users(pg_dsn: str) -> None:
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    async with sync_bed(pg_dsn, kitsu, FILM) as bed:
        bed.ctx = replace(bed.ctx, create_users=True)
        first = kitsu.add_person("Sam", "Lee", "sam.lee@one.example")
        second = kitsu.add_person("Sam", "Lee", "sam.lee@two.example")
        tasks = [t.id for t in await bed.ctx.kitsu.tasks(FILM)][:2]
        kitsu.set_assignees(tasks[0], [first["id"]])
        kitsu.set_assignees(tasks[1], [second["id"]])
        for task in tasks:
            result = await reconcile_entity(bed.ctx, FILM, "task", task)
            assert not result.notes, result.notes
        rows = await bed.pool.fetch(
            "SELECT name, attrib->>'email' AS email FROM public.users WHERE name LIKE 'sam.lee%'"
        )
        names = {row["email"]: row["name"] for row in rows}
        # Whoever came first, the second gets a name from its own Kitsu id: always the same.
        assert names["sam.lee@one.example"] == "sam.lee"
        assert names["sam.lee@two.example"] == f"sam.lee.{second['id'].replace('-', '')[:8]}"
        assigned = {user for _, _, users in (await bed.tasks()).values() for user in users}
        assert set(names.values()) <= assigned


async def test_a_canceled_shot_takes_its_tasks_along_and_comes_back_with_them(
    pg_dsn: str,
) -> None:
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    async with sync_bed(pg_dsn, kitsu, FILM) as bed:
        await _synced(bed)
        since = len(kitsu.events())
        kitsu.delete_entity(SH0010)  # it has tasks: Zou cancels it, logging shot:update only

        (canceled,) = await _run_events(bed, since)
        assert canceled.changes == {"deactivate folder": 1, "deactivate task": 3}
        assert canceled.label == f"{bed.project} /sequences/sq010/sh0010"
        actives = await bed.pool.fetch(
            f"SELECT t.active FROM project_{bed.project}.tasks t "
            f"JOIN project_{bed.project}.folders f ON f.id = t.folder_id "
            "WHERE f.data->>'kitsuId' = $1",
            SH0010,
        )
        assert {row["active"] for row in actives} == {False}
        assert (await reconcile_project(bed.ctx, FILM)).outcome == "in step"  # agrees

        since = len(kitsu.events())
        kitsu.update_entity(SH0010, canceled=False)
        (restored,) = await _run_events(bed, since)
        assert restored.changes == {"update folder": 1, "update task": 3}
        assert (await reconcile_project(bed.ctx, FILM)).outcome == "in step"
