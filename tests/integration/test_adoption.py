"""A studio switching from ayon-kitsu: an AYON project written the way ayon-kitsu writes it
(``tests/integration/ayon_kitsu.py``) is paired and synced. Right entities are never touched (no
rename, move, delete, relabel, no ``data`` added); stale ones get exactly the writes they need.

Both production types, with what a studio has and the recordings lack: custom-named tasks,
several tasks of one type on one shot, and (tvshow) an edit under its episode.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from kitsync.reconcile.entity import EntityKind, reconcile_entity
from kitsync.reconcile.pairing import pair_project
from kitsync.reconcile.project import ProjectReport, reconcile_project
from kitsync.schemas import BREAKDOWN, LinkCreate
from tests.conftest import FIXTURES
from tests.fakes.kitsu import FakeKitsu
from tests.integration.ayon_kitsu import Written, write_as_ayon_kitsu
from tests.integration.sync_bed import SyncBed, sync_bed

pytestmark = pytest.mark.integration

Production = Literal["film", "tv"]
PROJECTS = {
    "film": "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d",
    "tv": "1332d020-28a7-4b76-80e7-a5caf625538c",
}
IDS = json.loads((FIXTURES / "kitsu" / "ids.json").read_text())
SHOT = {"film": "SQ010/SH0010", "tv": "E01/SQ010/SH010"}  # the one with the extra tasks
SHOT_PATH = {"film": "sequences/sq010/sh0010", "tv": "episodes/e01/sq010/sh010"}
CUSTOM = ("blocking", "spline", "polish")  # Animation tasks besides the shot's "main" one


@dataclass
class Adopted:
    bed: SyncBed
    project_id: str
    written: Written
    custom: dict[str, str]  # custom task name -> Kitsu task id
    pairing_writes: int


def _ids(production: Production) -> dict[str, Any]:
    return dict(IDS[f"{production}_build"])


@asynccontextmanager
async def _adopted(
    pg_dsn: str, production: Production, stale_task_names: dict[str, str] | None = None
) -> AsyncIterator[Adopted]:
    """The recorded production plus custom tasks, written by 'ayon-kitsu', then paired."""
    kitsu = FakeKitsu.from_fixtures(production, "after_build")
    shot = _ids(production)["shots"][SHOT[production]]
    project_id = PROJECTS[production]
    async with sync_bed(pg_dsn, kitsu, project_id) as bed:
        animation = next(
            t.id for t in await bed.ctx.kitsu.task_types(project_id) if t.name == "Animation"
        )
        custom = {name: kitsu.create_task(shot, animation, name)["id"] for name in CUSTOM}
        names = {custom[old]: new for old, new in (stale_task_names or {}).items()}
        written = await write_as_ayon_kitsu(bed, project_id, stale_task_names=names)
        before = len(bed.ayon_writes())
        await pair_project(bed.ctx, await bed.ctx.kitsu.project(project_id))
        yield Adopted(bed, project_id, written, custom, len(bed.ayon_writes()) - before)


async def _entity_ids(bed: SyncBed) -> dict[str, str]:
    """AYON id of every folder and task, by path (``<folder path>/<task name>`` for tasks)."""
    tree = await bed.pool.fetch(
        f"""WITH RECURSIVE t AS (
              SELECT id, name::text AS path FROM project_{bed.project}.folders
              WHERE parent_id IS NULL
              UNION ALL
              SELECT f.id, t.path || '/' || f.name FROM project_{bed.project}.folders f
              JOIN t ON f.parent_id = t.id)
            SELECT id, path FROM t"""
    )
    paths = {row["id"]: row["path"] for row in tree}
    tasks = await bed.pool.fetch(f"SELECT id, folder_id, name FROM project_{bed.project}.tasks")
    return {path: folder.hex for folder, path in paths.items()} | {
        f"{paths[row['folder_id']]}/{row['name']}": row["id"].hex for row in tasks
    }


async def _sync(bed: SyncBed, project_id: str) -> tuple[ProjectReport, int]:
    """A real full sync, and how many requests it sent that can change AYON."""
    before = len(bed.ayon_writes())
    report = await reconcile_project(bed.ctx, project_id, itemize=True)
    assert report.failures == ()
    return report, len(bed.ayon_writes()) - before


def _into_episode(line: str) -> bool:
    """Whether a ``-v`` line creates a link into an episode's folder (``episodes/<episode>``)."""
    into = line.partition(" -> ")[2]
    return line.startswith("create link ") and into.startswith("episodes/") and into.count("/") == 1


@pytest.mark.parametrize("production", ["film", "tv"])
async def test_adopting_a_correct_project_writes_nothing(
    pg_dsn: str, production: Production
) -> None:
    async with _adopted(pg_dsn, production) as adopted:
        bed = adopted.bed
        before = await _entity_ids(bed)
        shot = SHOT_PATH[production]
        assert {f"{shot}/{name}" for name in ("animation", "layout", *CUSTOM)} <= set(before)
        if production == "tv":
            assert "episodes/e01/e01_animatic" in before and "edits" not in before

        report, writes = await _sync(bed, adopted.project_id)
        if production == "film":
            assert (report.changes, writes) == ({}, 0)
        else:
            # The one thing ayon-kitsu never writes: the episodes' casting, as links into
            # the episode folders (added, nothing of ayon-kitsu's is touched for them).
            assert report.changes == {"create link": len(report.planned)}
            assert writes == 1  # one bulk request
            assert all(map(_into_episode, report.planned))
        assert await _entity_ids(bed) == before  # every path and id as ayon-kitsu left it
        # The event path agrees: a custom task's and (tvshow) the edit's own reconciles.
        keys: list[tuple[EntityKind, str]] = [("task", t) for t in adopted.custom.values()]
        if production == "tv":
            keys.append(("edit", (await bed.ctx.kitsu.edits(adopted.project_id))[0].id))
        for kind, kitsu_id in keys:
            result = await reconcile_entity(bed.ctx, adopted.project_id, kind, kitsu_id)
            assert result.outcome == "in step", result
        # `kitsync pair` adds the folder types kitsync writes that the project lacks: the
        # tvshow has no concept, so ayon-kitsu never added Concept (one anatomy PATCH).
        assert adopted.pairing_writes == {"film": 0, "tv": 1}[production]
        assert (await _sync(bed, adopted.project_id))[1] == 0


@pytest.mark.parametrize("production", ["film", "tv"])
async def test_adopting_a_stale_project_writes_exactly_what_is_wrong(
    pg_dsn: str, production: Production
) -> None:
    """What ayon-kitsu missed while it was down: a task renamed ("blocking" was "blk"), an
    asset renamed, a task deleted, a cast link missing, a link Kitsu never had."""
    async with _adopted(pg_dsn, production, stale_task_names={"blocking": "blk"}) as adopted:
        bed, kitsu, written, ids = adopted.bed, adopted.bed.kitsu, adopted.written, _ids(production)
        asset_name = {"film": "Hero", "tv": "Mia"}[production]
        asset = ids["assets"][asset_name]
        kitsu.update_entity(asset, name=f"{asset_name} Prime")
        gone = adopted.custom["polish"]
        kitsu.delete_task(gone)
        (container, _, _), link = next(iter(written.links.items()))
        await bed.ctx.writer.delete_link(bed.project, link)
        uncast = next(
            a
            for a in ids["assets"].values()
            if a != container and (container, a, 1) not in written.links
        )
        extra = LinkCreate(
            input=written.folders[uncast],
            output=written.folders[container],
            link_type=BREAKDOWN,
            data={"kitsuAssetId": uncast, "kitsuTargetId": container, "occurence": 1},
        )
        await bed.ctx.writer.create_links(bed.project, [extra])
        before = await _entity_ids(bed)

        report, _ = await _sync(bed, adopted.project_id)
        operations = sorted(
            ((op.type, op.entity_type, op.entity_id, op.data) for op in report.operations),
            key=lambda op: op[:2],
        )
        renamed = {"name": f"{asset_name.lower()}_prime", "label": f"{asset_name} Prime"}
        assert operations == [
            ("delete", "task", written.tasks[gone], None),
            ("update", "folder", written.folders[asset], renamed),
            (
                "update",
                "task",
                written.tasks[adopted.custom["blocking"]],
                {"name": "blocking", "label": "blocking"},
            ),
        ]
        into_episodes = sum(map(_into_episode, report.planned))  # as in the test above
        assert report.changes == {
            "create link": 1 + into_episodes,
            "delete link": 1,
            "delete task": 1,
            "update folder": 1,
            "update task": 1,
        }
        shot = SHOT_PATH[production]
        asset_path = next(p for p, i in before.items() if i == written.folders[asset])
        new_asset_path = f"{asset_path.rsplit('/', 1)[0]}/{renamed['name']}"

        def path_after(path: str) -> str:
            if path == f"{shot}/blk":
                return f"{shot}/blocking"
            if path == asset_path or path.startswith(f"{asset_path}/"):
                return new_asset_path + path[len(asset_path) :]
            return path

        after = await _entity_ids(bed)
        expected = {path_after(p): i for p, i in before.items() if i != written.tasks[gone]}
        assert after == expected  # the rest: every path and id kept
        assert (await _sync(bed, adopted.project_id))[1] == 0
