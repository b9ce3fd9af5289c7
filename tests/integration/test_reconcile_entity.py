"""reconcile_entity against the fake Kitsu and the fake AYON on the real Postgres."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import replace

import httpx
import pytest

from kitsync.core.ids import ayon_id
from kitsync.core.routing import Key
from kitsync.reconcile import reconcile_entity
from kitsync.reconcile.entity import MovesPending
from kitsync.schemas import EntityOrTaskKind, KitsuRecord
from tests.expected import FILM_TREE, FILM_TREE_AFTER, TV_TREE, TV_TREE_AFTER
from tests.fakes.ayon import SERVICE_KEY
from tests.fakes.kitsu import FakeKitsu
from tests.integration.sync_bed import SyncBed, sync_bed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("read_path")]

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
TV = "1332d020-28a7-4b76-80e7-a5caf625538c"
SH0010 = "f48bffdc-4a40-4304-98f1-80af0adefec9"


async def _keys(bed: SyncBed, project_id: str) -> list[tuple[EntityOrTaskKind, str]]:
    kitsu = bed.ctx.kitsu
    keys: list[tuple[EntityOrTaskKind, str]] = []
    kinds: list[tuple[EntityOrTaskKind, list[KitsuRecord]]] = [
        ("asset", list(await kitsu.assets(project_id))),
        ("episode", list(await kitsu.episodes(project_id))),
        ("sequence", list(await kitsu.sequences(project_id))),
        ("shot", list(await kitsu.shots(project_id))),
        ("edit", list(await kitsu.edits(project_id))),
        ("concept", list(await kitsu.concepts(project_id))),
        ("task", list(await kitsu.tasks(project_id))),
    ]
    for kind, records in kinds:
        keys += [(kind, record.id) for record in records]
    return keys


async def _reconcile_all(
    bed: SyncBed, project_id: str, keys: list[tuple[EntityOrTaskKind, str]]
) -> list[str]:
    outcomes = []
    for kind, kitsu_id in keys:
        result = await reconcile_entity(bed.ctx, project_id, kind, kitsu_id)
        outcomes.append(result.outcome)
    return outcomes


async def test_film_every_entity_in_random_order_then_mutations(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        keys = await _keys(bed, FILM)
        random.Random(7).shuffle(keys)  # children before parents, tasks before entities
        await _reconcile_all(bed, FILM, keys)
        assert await bed.tree() == FILM_TREE
        shot = await bed.folder(SH0010)
        assert shot["id"].hex == ayon_id(SH0010)
        assert shot["attrib"] == {
            "fps": 24.0,
            "frameStart": 1001,
            "frameEnd": 1048,
            "description": "Fixture Film shot SQ010/SH0010",
        }
        tasks = await bed.tasks()
        assert len(tasks) == 48
        assert tasks[f"{SH0010}/layout"][:2] == ("Layout", "Done")
        assigned = {user for _, _, users in tasks.values() for user in users}
        assert assigned == {"alice", "bruno"}  # chloe has no AYON user

        writes_before = len(bed.ayon_writes())
        assert set(await _reconcile_all(bed, FILM, keys)) == {"in step"}
        assert len(bed.ayon_writes()) == writes_before  # in step: not one AYON write

    # Same AYON project, Kitsu now in its after-mutations state.
    mutated = FakeKitsu.from_fixtures("film", "after_mutations")
    async with sync_bed(pg_dsn, mutated, FILM, project=bed.project) as after:
        for kind, kitsu_id in keys + await _keys(after, FILM):
            await reconcile_entity(after.ctx, FILM, kind, kitsu_id)
        assert await after.tree() == FILM_TREE_AFTER


async def test_unpaired_project_is_skipped(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        result = await reconcile_entity(bed.ctx, str(uuid.uuid4()), "shot", SH0010)
        assert result.outcome == "skipped" and "not paired" in result.notes[0]
        assert bed.ayon_writes() == []


async def test_tv_show_episode_chain_from_a_task(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("tv", "after_build"), TV) as bed:
        shots = {shot.id for shot in await bed.ctx.kitsu.shots(TV)}
        task = next(t for t in await bed.ctx.kitsu.tasks(TV) if t.entity_id in shots)
        result = await reconcile_entity(bed.ctx, TV, "task", task.id)
        assert result.outcome == "changed"
        tree = await bed.tree()
        shot_paths = [p for p, (kind, _, _) in tree.items() if kind == "Shot"]
        assert len(shot_paths) == 1 and shot_paths[0].startswith("episodes/e0")
        assert len(await bed.tasks()) == 1


E01_SQ010_SH010 = "5fb5c7e9-1275-4780-9ff0-2161b63a5cca"


async def test_tv_build_then_mutations_status_and_assignees(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("tv", "after_build"), TV) as bed:
        keys = await _keys(bed, TV)
        await _reconcile_all(bed, TV, keys)
        assert await bed.tree() == TV_TREE
        assert len(await bed.tasks()) == 38
    mutated = FakeKitsu.from_fixtures("tv", "after_mutations")
    async with sync_bed(pg_dsn, mutated, TV, project=bed.project) as after:
        await _reconcile_all(after, TV, keys + await _keys(after, TV))
        assert await after.tree() == TV_TREE_AFTER
        tasks = await after.tasks()
        # T12 status through a comment, T13 a second assignee, T11 two tasks deleted.
        assert tasks[f"{E01_SQ010_SH010}/animation"] == ("Animation", "Retake", ("alice", "bruno"))
        assert len(tasks) == 36


async def test_folders_left_by_ayon_kitsu_are_adopted(pg_dsn: str) -> None:
    """ayon-kitsu's folders: server-made ids, only data.kitsuId, roots keyed by the kind."""
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        project = bed.project
        sequence = "9c44efde-020e-4b15-8fe4-2bd0d55358bc"
        made: dict[str, str] = {}
        for kitsu_id, name, folder_type, parent in (
            ("sequence", "sequences", "Folder", None),
            (sequence, "sq010", "Sequence", "sequence"),
            (SH0010, "sh0010", "Shot", sequence),
        ):
            body = {"name": name, "folderType": folder_type, "data": {"kitsuId": kitsu_id}}
            if parent:
                body["parentId"] = made[parent]
            async with httpx.AsyncClient(headers={"x-api-key": SERVICE_KEY}) as client:
                answer = await client.post(
                    f"{bed.ayon_url}/api/projects/{project}/folders", json=body
                )
            assert answer.status_code == 201
            made[kitsu_id] = answer.json()["id"]
        for kind, kitsu_id in (("shot", SH0010), ("sequence", sequence)):
            result = await reconcile_entity(bed.ctx, FILM, kind, kitsu_id)  # type: ignore[arg-type]
            assert result.changes == {"update folder": 1}  # kitsuType, label, attributes
        assert (await bed.folder(SH0010))["id"].hex == made[SH0010]
        assert await bed.tree() == {
            "sequences": ("Folder", "", True),  # a root is only ever created, never relabelled
            "sequences/sq010": ("Sequence", "SQ010", True),
            "sequences/sq010/sh0010": ("Shot", "SH0010", True),
        }
        assert (await reconcile_entity(bed.ctx, FILM, "shot", SH0010)).outcome == "in step"


async def test_missing_users_are_created_only_when_asked(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        # The database is shared by the test's runs on each read path: start without the user.
        await bed.pool.execute("DELETE FROM public.users WHERE name = 'chloe.castel'")
        tasks = await bed.ctx.kitsu.tasks(FILM)
        persons = {p.id: p for p in await bed.ctx.kitsu.persons()}
        chloe = next(p for p in persons.values() if p.email == "chloe.castel@example.com")
        task = next(t for t in tasks if chloe.id in (t.assignees or ()))
        result = await reconcile_entity(bed.ctx, FILM, "task", task.id)
        assert any("chloe.castel@example.com" in note for note in result.notes)
        assert (
            await bed.pool.fetchval("SELECT count(*) FROM public.users WHERE name = 'chloe.castel'")
            == 0
        )

        bed.ctx = replace(bed.ctx, create_users=True)
        await reconcile_entity(bed.ctx, FILM, "task", task.id)
        user = await bed.pool.fetchrow(
            "SELECT attrib, data FROM public.users WHERE name = 'chloe.castel'"
        )
        assert user is not None
        assert json.loads(user["attrib"])["email"] == "chloe.castel@example.com"
        assert "password" not in json.loads(user["data"])
        assigned = {a for _, _, users in (await bed.tasks()).values() for a in users}
        assert "chloe.castel" in assigned


async def test_swapped_names_leave_no_suffix_once_follow_ups_run(pg_dsn: str) -> None:
    """SH0010 and SH0020 swap names (through a temporary one); SH0010's reconcile runs first
    and finds its new name still held, so it takes a suffix. SH0020's reconcile frees that
    name and asks for SH0010's key again, whose reconcile then takes the bare name."""
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _reconcile_all(bed, FILM, await _keys(bed, FILM))
        shots = {shot.name: shot.id for shot in await bed.ctx.kitsu.shots(FILM)}
        first, second = shots["SH0010"], shots["SH0020"]
        bed.kitsu.update_entity(first, name="tmp")
        bed.kitsu.update_entity(second, name="SH0010")
        bed.kitsu.update_entity(first, name="SH0020")

        taken = await reconcile_entity(bed.ctx, FILM, "shot", first)
        assert taken.follow_ups == ()  # SH0020 still held by the other shot
        assert f"sequences/sq010/sh0020_{first[:8]}" in await bed.tree()
        freed = await reconcile_entity(bed.ctx, FILM, "shot", second)
        assert freed.follow_ups == (Key(FILM, "shot", first),)
        again = await reconcile_entity(bed.ctx, FILM, "shot", first)
        assert again.outcome == "changed" and again.follow_ups == ()
        tree = await bed.tree()
        assert tree["sequences/sq010/sh0010"][1] == "SH0010"
        assert tree["sequences/sq010/sh0020"][1] == "SH0020"
        assert not [path for path in tree if path.startswith("sequences/") and "_" in path]


async def test_a_deleted_sequence_waits_for_the_shots_moved_out_of_it(pg_dsn: str) -> None:
    """Shots moved to another sequence, then the old one deleted, in Kitsu; the sequence's key
    runs before the shots' keys: deleting it then would take the shots along (AYON cascades),
    tasks and all. It waits (a transient error, retried) until their keys moved them."""
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _reconcile_all(bed, FILM, await _keys(bed, FILM))
        sequences = {s.name: s.id for s in await bed.ctx.kitsu.sequences(FILM)}
        old, new = sequences["SQ010"], sequences["SQ020"]
        moved = [shot for shot in await bed.ctx.kitsu.shots(FILM) if shot.parent_id == old]
        assert moved
        before = {shot.id: (await bed.folder(shot.id))["id"] for shot in moved}
        tasks = {k: v for k, v in (await bed.tasks()).items() if k.split("/")[0] in before}
        assert tasks
        for shot in moved:
            bed.kitsu.update_entity(shot.id, parent_id=new)
        bed.kitsu.delete_entity(old)

        with pytest.raises(MovesPending, match=f"{len(moved)} folders under it are still in"):
            await reconcile_entity(bed.ctx, FILM, "sequence", old)
        for shot in moved:
            await reconcile_entity(bed.ctx, FILM, "shot", shot.id)
        gone = await reconcile_entity(bed.ctx, FILM, "sequence", old)

        assert gone.changes == {"delete folder": 1}
        tree = await bed.tree()
        assert not [path for path in tree if path.startswith("sequences/sq010")]
        for shot in moved:
            folder = await bed.folder(shot.id)
            assert folder["id"] == before[shot.id]  # the same folder, moved: tasks kept
            assert f"sequences/sq020/{shot.name.lower()}" in tree
        assert {k: v for k, v in (await bed.tasks()).items() if k.split("/")[0] in before} == tasks
