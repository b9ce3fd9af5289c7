"""A small production built in a real Zou reaches AYON (fake, on the real Postgres) as expected.

Every scenario makes its own Kitsu project through Zou's REST API and its own AYON project.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._bed import (
    TIMINGS,
    State,
    Zou,
    ZouAdmin,
    assert_converges,
    kitsync_farm,
    wait_for,
)
from tests.expected import USERS
from tests.fakes.ayon import SERVICE_KEY

# Every scenario runs with AYON read through its database, then through its API.
pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.usefixtures("read_path")]

# "<sequence>/<shot>" -> (frame_in, frame_out or None, nb_frames)
SHOTS = {
    "SQ010/SH0010": (1001, 1048, 48),
    "SQ010/SH0020": (1001, 1072, 72),
    "SQ020/SH0030": (1001, None, 24),  # no frame_out: frameEnd = frame_in + nb_frames - 1
    "SQ020/SH0040": (1001, 1096, 96),
}
ASSETS = {"Hero": "Character", "Villain": "Character", "Sword": "Prop"}
# Animation tasks SQ010/SH0010 has besides its "main" one: AYON names them as Kitsu does.
CUSTOM_TASKS = ("blocking", "polish")


def _shot_path(key: str) -> str:
    return "sequences/" + key.lower()


def expected_build() -> State:
    """The AYON state the production of ``build_production`` must give."""
    state: State = {
        "folder assets": ("Folder", "Assets", True),
        "folder assets/character": ("Folder", "Character", True),
        "folder assets/character/hero": ("Asset", "Hero", True),
        "folder assets/character/villain": ("Asset", "Villain", True),
        "folder assets/prop": ("Folder", "Prop", True),
        "folder assets/prop/sword": ("Asset", "Sword", True),
        "folder sequences": ("Folder", "Sequences", True),
        "folder sequences/sq010": ("Sequence", "SQ010", True),
        "folder sequences/sq020": ("Sequence", "SQ020", True),
        "task assets/character/hero/modeling": ("Modeling", "Done", ("alice",)),
        "task assets/character/villain/modeling": ("Modeling", "Todo", ()),
        "task assets/prop/sword/modeling": ("Modeling", "Todo", ()),
        "link assets/character/hero -> sequences/sq010/sh0010": (1,),
        "link assets/prop/sword -> sequences/sq010/sh0010": (1, 2),
        "link assets/character/villain -> sequences/sq020/sh0030": (1,),
        "link assets/prop/sword -> assets/character/villain": (1,),
    }
    for key, (frame_in, frame_out, nb_frames) in SHOTS.items():
        path = _shot_path(key)
        state[f"folder {path}"] = ("Shot", key.split("/")[1], True)
        state[f"frames {path}"] = (frame_in, frame_out or frame_in + nb_frames - 1, 24)
        state[f"task {path}/layout"] = ("Layout", "Todo", ())
        state[f"task {path}/animation"] = ("Animation", "Todo", ())
    state["task sequences/sq010/sh0010/animation"] = (
        "Animation",
        "Work In Progress",
        ("bruno",),
    )
    for name in CUSTOM_TASKS:
        state[f"task sequences/sq010/sh0010/{name}"] = ("Animation", "Todo", ())
    return state


@dataclass
class Production:
    project_id: str
    shots: dict[str, str]
    assets: dict[str, str]
    tasks: dict[str, str]  # "<entity key>/<Task Type or custom name>" -> task id


async def build_production(kitsu: ZouAdmin, project_id: str, persons: dict[str, str]) -> Production:
    """2 sequences, 4 shots with frame ranges, 3 assets of 2 types, tasks with statuses and
    assignees (and custom-named ones), a shot casting with occurrences and an asset-in-asset
    casting."""
    p = f"/data/projects/{project_id}"
    sequences = {
        name: (await kitsu.call("POST", f"{p}/sequences", {"name": name}))["id"]
        for name in ("SQ010", "SQ020")
    }
    shots: dict[str, str] = {}
    for key, (frame_in, frame_out, nb_frames) in SHOTS.items():
        sequence, name = key.split("/")
        data: dict[str, Any] = {"frame_in": frame_in, "fps": 24}
        if frame_out is not None:
            data["frame_out"] = frame_out
        body = {
            "name": name,
            "sequence_id": sequences[sequence],
            "nb_frames": nb_frames,
            "data": data,
        }
        shots[key] = (await kitsu.call("POST", f"{p}/shots", body))["id"]
    asset_types = await kitsu.named("/data/asset-types")
    assets = {
        name: (
            await kitsu.call(
                "POST", f"{p}/asset-types/{asset_types[kind]}/assets/new", {"name": name}
            )
        )["id"]
        for name, kind in ASSETS.items()
    }
    task_types = {
        (row["name"], row["for_entity"]): row["id"]
        for row in await kitsu.call("GET", "/data/task-types")
    }
    tasks: dict[str, str] = {}
    names = {v: k for k, v in (shots | assets).items()}
    for task_type, kind, ids in (
        ("Modeling", "Asset", list(assets.values())),
        ("Layout", "Shot", list(shots.values())),
        ("Animation", "Shot", list(shots.values())),
    ):
        created = await kitsu.call(
            "POST",
            f"/actions/projects/{project_id}/task-types/{task_types[task_type, kind]}"
            f"/{kind.lower()}s/create-tasks",
            ids,
        )
        tasks |= {f"{names[t['entity_id']]}/{task_type}": t["id"] for t in created}
    statuses = await kitsu.named("/data/task-status", "short_name")
    for name in CUSTOM_TASKS:
        body = {
            "name": name,
            "task_type_id": task_types["Animation", "Shot"],
            "entity_id": shots["SQ010/SH0010"],
            "project_id": project_id,
            "task_status_id": statuses["todo"],
        }
        tasks[f"SQ010/SH0010/{name}"] = (await kitsu.call("POST", "/data/tasks", body))["id"]
    for task, status in (("Hero/Modeling", "done"), ("SQ010/SH0010/Animation", "wip")):
        await kitsu.call(
            "POST",
            f"/actions/tasks/{tasks[task]}/comment",
            {"task_status_id": statuses[status], "comment": ""},
        )
    for person, task in (("alice", "Hero/Modeling"), ("bruno", "SQ010/SH0010/Animation")):
        await kitsu.call(
            "PUT", f"/actions/persons/{persons[person]}/assign", {"task_ids": [tasks[task]]}
        )
    for container, cast in (
        (shots["SQ010/SH0010"], [("Hero", 1), ("Sword", 2)]),
        (shots["SQ020/SH0030"], [("Villain", 1)]),
        (assets["Villain"], [("Sword", 1)]),
    ):
        await kitsu.call(
            "PUT",
            f"{p}/entities/{container}/casting",
            [{"asset_id": assets[a], "nb_occurences": n, "label": "animate"} for a, n in cast],
        )
    return Production(project_id, shots, assets, tasks)


@dataclass
class Scene:
    kitsu: ZouAdmin
    project_id: str
    persons: dict[str, str]


@pytest.fixture
async def scene(zou: Zou, request: pytest.FixtureRequest) -> AsyncIterator[Scene]:
    """The admin's session and a new Kitsu project with the studio's settings and team."""
    async with ZouAdmin(zou) as kitsu:
        persons = {
            name: await kitsu.person(name.title(), "E2e", email) for name, email in USERS.items()
        }
        project_id = await kitsu.project(f"e2e {request.node.name}", list(persons.values()))
        yield Scene(kitsu, project_id, persons)


async def test_production_arrives_through_plugin_receiver_and_workers(
    zou: Zou, scene: Scene, pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    async with kitsync_farm(
        zou, scene.project_id, pg_dsn, redis_url, redis_prefix, tmp_path, USERS
    ) as farm:
        await build_production(scene.kitsu, scene.project_id, scene.persons)
        seconds = await assert_converges(farm, expected_build())
        TIMINGS["scenario build via plugin: AYON converged after the last Kitsu write"] = seconds
        assert (await farm.queue.stats()).dead == 0
        # The events came through the plugin, not the poller (no beat runs here).
        recorded = await farm.pool.fetchval(
            "SELECT count(*) FROM public.events WHERE topic = 'kitsu.event' AND project_name = $1",
            farm.project,
        )
        assert recorded > 0


async def test_production_arrives_through_the_poller_alone(
    zou: Zou, scene: Scene, pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """The receiver is down (the plugin's posts are refused and dropped): `kitsync beat` polls
    Zou's event log every second and brings AYON in step by itself."""
    async with kitsync_farm(
        zou,
        scene.project_id,
        pg_dsn,
        redis_url,
        redis_prefix,
        tmp_path,
        USERS,
        receiver=False,
        beat=True,
    ) as farm:
        await wait_for(farm, farm.polled, "the poller's first run")
        await build_production(scene.kitsu, scene.project_id, scene.persons)
        seconds = await assert_converges(farm, expected_build())
        TIMINGS["scenario build via poller only: AYON converged after the last Kitsu write"] = (
            seconds
        )
        assert (await farm.queue.stats()).dead == 0


def _moved(state: State, old: str, new: str) -> State:
    """``state`` with the folder path ``old`` (and everything under it) renamed ``new``."""

    def path(token: str) -> str:
        return new + token[len(old) :] if token == old or token.startswith(old + "/") else token

    return {" ".join(path(t) for t in key.split(" ")): value for key, value in state.items()}


async def test_mutations_reach_ayon(
    zou: Zou, scene: Scene, pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """Rename, move, frame range, casting add/remove/count, cancel, status, a task renamed:
    each through the plugin -> receiver -> workers path, AYON follows. (Deletes: the next
    test.)"""
    kitsu, p = scene.kitsu, f"/data/projects/{scene.project_id}"
    async with kitsync_farm(
        zou, scene.project_id, pg_dsn, redis_url, redis_prefix, tmp_path, USERS
    ) as farm:
        production = await build_production(kitsu, scene.project_id, scene.persons)
        await assert_converges(farm, expected_build())

        shots, assets, tasks = production.shots, production.assets, production.tasks
        sequences = {row["name"]: row["id"] for row in await kitsu.call("GET", f"{p}/sequences")}
        # Rename an asset, move a shot to the other sequence, change a frame range.
        await kitsu.call("PUT", f"/data/entities/{assets['Villain']}", {"name": "Villainess"})
        await kitsu.call(
            "PUT", f"/data/entities/{shots['SQ010/SH0020']}", {"parent_id": sequences["SQ020"]}
        )
        await kitsu.call(
            "PUT", f"/data/entities/{shots['SQ010/SH0010']}", {"data": {"frame_out": 1060}}
        )
        # Casting: SH0030 gets Hero, Villain 1 -> 2.
        await kitsu.call(
            "PUT",
            f"{p}/entities/{shots['SQ020/SH0030']}/casting",
            [
                {"asset_id": assets["Villain"], "nb_occurences": 2, "label": "animate"},
                {"asset_id": assets["Hero"], "nb_occurences": 1, "label": "animate"},
            ],
        )
        # Casting removal: SH0010 keeps Hero, loses Sword (its two occurrences).
        await kitsu.call(
            "PUT",
            f"{p}/entities/{shots['SQ010/SH0010']}/casting",
            [{"asset_id": assets["Hero"], "nb_occurences": 1, "label": "animate"}],
        )
        # Cancel a shot with tasks (delete without force).
        await kitsu.call("DELETE", f"/data/shots/{shots['SQ020/SH0040']}")
        # Rename a custom-named task: its AYON task is renamed (same id), as Kitsu names it.
        blocking = tasks["SQ010/SH0010/blocking"]
        await kitsu.call("PUT", f"/data/tasks/{blocking}", {"name": "Blocking v2"})
        # A status change through a comment.
        done = (await kitsu.named("/data/task-status", "short_name"))["done"]
        await kitsu.call(
            "POST",
            f"/actions/tasks/{tasks['SQ010/SH0010/Layout']}/comment",
            {"task_status_id": done, "comment": "approved"},
        )

        expected = _moved(
            expected_build(), "assets/character/villain", "assets/character/villainess"
        )
        expected = _moved(expected, "sequences/sq010/sh0020", "sequences/sq020/sh0020")
        del expected["link assets/prop/sword -> sequences/sq010/sh0010"]
        del expected["task sequences/sq010/sh0010/blocking"]
        expected |= {
            "task sequences/sq010/sh0010/blocking_v2": ("Animation", "Todo", ()),
            "folder assets/character/villainess": ("Asset", "Villainess", True),
            "frames sequences/sq010/sh0010": (1001, 1060, 24),
            "link assets/character/villainess -> sequences/sq020/sh0030": (1, 2),
            "link assets/character/hero -> sequences/sq020/sh0030": (1,),
            "folder sequences/sq020/sh0040": ("Shot", "SH0040", False),
            "task sequences/sq010/sh0010/layout": ("Layout", "Done", ()),
        }
        seconds = await assert_converges(farm, expected)
        TIMINGS["scenario mutations: AYON converged after the last Kitsu write"] = seconds
        assert (await farm.queue.stats()).dead == 0


async def test_deleted_asset_leaves_ayon(
    zou: Zou, scene: Scene, pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """An asset deleted in Kitsu (with force: its tasks too) is deleted in AYON with its links."""
    async with kitsync_farm(
        zou, scene.project_id, pg_dsn, redis_url, redis_prefix, tmp_path, USERS
    ) as farm:
        production = await build_production(scene.kitsu, scene.project_id, scene.persons)
        await assert_converges(farm, expected_build())
        sword = production.assets["Sword"]
        await scene.kitsu.call("DELETE", f"/data/assets/{sword}?force=true")
        expected = {key: value for key, value in expected_build().items() if "/sword" not in key}
        await assert_converges(farm, expected, seconds=30)


async def test_kitsync_sync_restores_a_drifted_project(
    zou: Zou, scene: Scene, pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """AYON edited by hand (a label, a deleted task, a deleted breakdown link): no Kitsu event
    says so, and `kitsync sync` puts it back."""
    async with kitsync_farm(
        zou, scene.project_id, pg_dsn, redis_url, redis_prefix, tmp_path, USERS
    ) as farm:
        await build_production(scene.kitsu, scene.project_id, scene.persons)
        await assert_converges(farm, expected_build())

        s = f"project_{farm.project}"
        hero = await farm.pool.fetchval(f"SELECT id FROM {s}.folders WHERE name = 'hero'")
        task = await farm.pool.fetchval(
            f"SELECT t.id FROM {s}.tasks t JOIN {s}.folders f ON f.id = t.folder_id "
            "WHERE f.name = 'sh0020' AND t.name = 'layout'"
        )
        link = await farm.pool.fetchval(f"SELECT id FROM {s}.links WHERE input_id = $1", hero)
        api = f"{farm.ayon_url}/api/projects/{farm.project}"
        async with httpx.AsyncClient(headers={"x-api-key": SERVICE_KEY}) as ayon:
            for answer in (
                await ayon.patch(f"{api}/folders/{hero.hex}", json={"label": "Hand edited"}),
                await ayon.delete(f"{api}/tasks/{task.hex}"),
                await ayon.delete(f"{api}/links/{link.hex}"),
            ):
                assert answer.status_code < 300, answer.text
        drifted = expected_build() | {
            "folder assets/character/hero": ("Asset", "Hand edited", True)
        }
        del drifted["task sequences/sq010/sh0020/layout"]
        del drifted["link assets/character/hero -> sequences/sq010/sh0010"]
        await assert_converges(farm, drifted, seconds=10)

        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "kitsync", "sync", farm.project],
            env=farm.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"kitsync sync: {done.returncode}\n{done.stdout}{done.stderr}"
        await assert_converges(farm, expected_build(), seconds=10)
