"""reconcile_casting and reconcile_project_casting against the fake Kitsu and the fake AYON.

Each test syncs the recorded film or tv show into a fresh AYON project, then checks AYON's
breakdown links against the casting the fake Kitsu serves, as (container, asset, occurrence)
triples named with Kitsu names.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Literal

import asyncpg
import pytest

from kitsync.ayon import AyonReader
from kitsync.core.ids import link_id
from kitsync.core.production import Production
from kitsync.core.routing import Key
from kitsync.reconcile import (
    ReconcileResult,
    SyncContext,
    reconcile_casting,
    reconcile_entity,
    reconcile_project_casting,
)
from kitsync.schemas import BREAKDOWN, EntityKind, LinkCreate
from tests.conftest import FIXTURES
from tests.fakes.ayon import inject_delay
from tests.fakes.kitsu import FakeKitsu
from tests.integration.sync_bed import SyncBed, sync_bed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("read_path")]

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
TV = "1332d020-28a7-4b76-80e7-a5caf625538c"
PROJECTS = {"film": FILM, "tv": TV}
IDS = json.loads((FIXTURES / "kitsu" / "ids.json").read_text())
FILM_IDS, TV_IDS = IDS["film_build"], IDS["tv_build"]

Triple = tuple[str, str, int]


# ----------------------------------------------------------------------------- helpers


async def _entity_keys(bed: SyncBed, project_id: str) -> list[tuple[EntityKind, str]]:
    kitsu = bed.ctx.kitsu
    assets, episodes, sequences, shots = await asyncio.gather(
        kitsu.assets(project_id),
        kitsu.episodes(project_id),
        kitsu.sequences(project_id),
        kitsu.shots(project_id),
    )
    keys: list[tuple[EntityKind, str]] = [("asset", a.id) for a in assets]
    keys += [("episode", e.id) for e in episodes] + [("sequence", s.id) for s in sequences]
    return keys + [("shot", s.id) for s in shots]


async def _sync_entities(
    bed: SyncBed,
    project_id: str,
    also: Sequence[tuple[EntityKind, str]] = (),
) -> list[tuple[EntityKind, str]]:
    """Every asset, episode, sequence and shot (plus ``also``: ids Kitsu may have deleted)."""
    keys = list(dict.fromkeys([*await _entity_keys(bed, project_id), *also]))
    for kind, kitsu_id in keys:
        await reconcile_entity(bed.ctx, project_id, kind, kitsu_id)
    return keys


async def _containers(bed: SyncBed, project_id: str) -> list[str]:
    keys = await _entity_keys(bed, project_id)
    return [kitsu_id for kind, kitsu_id in keys if kind in ("asset", "episode", "shot")]


async def _names(bed: SyncBed, project_id: str) -> dict[str, str]:
    """Kitsu id -> readable name: assets and episodes by name, shots as EP/SEQ/SHOT."""
    kitsu = bed.ctx.kitsu
    assets, episodes, sequences, shots = await asyncio.gather(
        kitsu.assets(project_id),
        kitsu.episodes(project_id),
        kitsu.sequences(project_id),
        kitsu.shots(project_id),
    )
    names = {entity.id: entity.name for entity in [*assets, *episodes]}
    for sequence in sequences:
        episode = names.get(sequence.parent_id or "")
        names[sequence.id] = f"{episode}/{sequence.name}" if episode else sequence.name
    for shot in shots:
        names[shot.id] = f"{names[shot.parent_id or '']}/{shot.name}"
    return names


async def _kitsu_triples(bed: SyncBed, project_id: str) -> Counter[Triple]:
    """What the casting routes say, one triple per occurrence."""
    names = await _names(bed, project_id)
    triples: Counter[Triple] = Counter()
    for container in await _containers(bed, project_id):
        for entry in await bed.ctx.kitsu.casting(project_id, container):
            for k in range(1, entry.nb_occurences + 1):
                triples[(names[container], names[entry.asset_id], k)] += 1
    return triples


async def _ayon_links(bed: SyncBed) -> Any:
    """Every breakdown link, with the Kitsu ids of its folders (None: no such folder)."""
    return await bed.pool.fetch(
        f"""SELECT l.id, fo.data->>'kitsuId' AS container, fi.data->>'kitsuId' AS asset,
                   l.data, fo.id IS NOT NULL AND fi.id IS NOT NULL AS intact
            FROM project_{bed.project}.links l
            LEFT JOIN project_{bed.project}.folders fo ON fo.id = l.output_id
            LEFT JOIN project_{bed.project}.folders fi ON fi.id = l.input_id
            WHERE l.link_type = $1""",
        BREAKDOWN,
    )


async def _ayon_triples(bed: SyncBed, project_id: str) -> Counter[Triple]:
    names = await _names(bed, project_id)
    rows = await _ayon_links(bed)
    assert all(row["intact"] for row in rows), "a breakdown link points to a missing folder"
    return Counter(
        (names[row["container"]], names[row["asset"]], json.loads(row["data"])["occurence"])
        for row in rows
    )


async def _dangling(bed: SyncBed) -> int:
    """Links of any type whose input or output is neither a folder nor a task."""
    s = f"project_{bed.project}"
    return int(
        await bed.pool.fetchval(
            f"""SELECT count(*) FROM {s}.links l
                WHERE (NOT EXISTS (SELECT 1 FROM {s}.folders WHERE id = l.input_id)
                       AND NOT EXISTS (SELECT 1 FROM {s}.tasks WHERE id = l.input_id))
                   OR (NOT EXISTS (SELECT 1 FROM {s}.folders WHERE id = l.output_id)
                       AND NOT EXISTS (SELECT 1 FROM {s}.tasks WHERE id = l.output_id))"""
        )
    )


async def _reconcile_all(
    bed: SyncBed, project_id: str, containers: list[str]
) -> dict[str, ReconcileResult]:
    return {c: await reconcile_casting(bed.ctx, project_id, c) for c in containers}


class RecordingPool:
    """Forwards to a real pool and keeps every query the reader runs (paged ones included)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries: list[str] = []

    async def fetch(self, query: str, *args: Any) -> Any:
        self.queries.append(query)
        return await self.pool.fetch(query, *args)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[_RecordingConnection]:
        async with self.pool.acquire() as connection:
            yield _RecordingConnection(connection, self.queries)


class _RecordingConnection:
    def __init__(self, connection: Any, queries: list[str]) -> None:
        self._connection = connection
        self._queries = queries

    def transaction(self, **options: Any) -> Any:
        return self._connection.transaction(**options)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self._queries.append(query)
        return await self._connection.fetchrow(query, *args)


def _recording(bed: SyncBed) -> tuple[SyncContext, RecordingPool]:
    """The bed's context, with a reader that records its queries (SQL: the API reader's
    requests are counted by ``bed.ayon_reads``)."""
    recording = RecordingPool(bed.pool)
    if bed.read_path == "api":
        return bed.ctx, recording
    return replace(bed.ctx, reader=AyonReader(recording)), recording


async def _assert_in_step_without_requests(
    bed: SyncBed, project_id: str, containers: list[str]
) -> None:
    requests = len(bed.ayon_app.state.requests)
    results = await _reconcile_all(bed, project_id, containers)
    assert {r.outcome for r in results.values()} == {"in step"}
    assert bed.ayon_requests(requests) == []  # reads only: not even a REST GET


# ----------------------------------------------------------------------------- film


async def test_film_casting_then_mutations(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        keys = await _sync_entities(bed, FILM)
        containers = await _containers(bed, FILM)
        results = await _reconcile_all(bed, FILM, containers)

        expected = await _kitsu_triples(bed, FILM)
        assert await _ayon_triples(bed, FILM) == expected
        assert sum(expected.values()) == 40  # nb_occurences 1..4 over 8 shots and 2 assets
        assert ("SQ010/SH0020", "Goblet", 3) in expected
        assert ("Castle", "Chair", 4) in expected  # asset in asset
        assert sum(r.changes.get("create link", 0) for r in results.values()) == 40
        posts = [p for m, p in bed.ayon_writes() if p.endswith("/links/bulk")]
        assert len(posts) == len([r for r in results.values() if r.outcome == "changed"])
        await _assert_in_step_without_requests(bed, FILM, containers)

    mutated = FakeKitsu.from_fixtures("film", "after_mutations")
    async with sync_bed(pg_dsn, mutated, FILM, project=bed.project) as after:
        await _sync_entities(after, FILM, also=keys)  # deletes Goblet (M11) and SH0070 (M14)
        assert await _dangling(after) == 0
        every = list(dict.fromkeys([*containers, *await _containers(after, FILM)]))
        results = await _reconcile_all(after, FILM, every)

        assert await _ayon_triples(after, FILM) == await _kitsu_triples(after, FILM)
        shots = FILM_IDS["shots"]
        # M06: +Sword -Lantern, Hero 1 -> 3
        assert results[shots["SQ010/SH0010"]].changes == {"create link": 3, "delete link": 1}
        # M07: a label-only change writes nothing
        assert results[shots["SQ010/SH0040"]].outcome == "in step"
        # M08/M09: Fire 3 -> 2 in SH0050; cast in SH0080 and uncast again: nothing left to do
        assert results[shots["SQ020/SH0050"]].changes == {"delete link": 1}
        assert results[shots["SQ020/SH0080"]].outcome == "in step"
        # M10 (asset in asset): -Lantern (2), Chair 4 -> 6
        castle = results[FILM_IDS["assets"]["Castle"]]
        assert castle.changes == {"create link": 2, "delete link": 2}
        # M11: Goblet's folder went with its links; M12: canceled Smoke drops out of the casting
        assert results[shots["SQ010/SH0020"]].outcome == "in step"
        assert results[shots["SQ020/SH0060"]].changes == {"delete link": 2}
        assert results[FILM_IDS["assets"]["Goblet"]].outcome == "in step"  # Kitsu: 404
        assert await _dangling(after) == 0
        await _assert_in_step_without_requests(after, FILM, every)


# ----------------------------------------------------------------------------- tv show


async def test_tv_casting_episodes_and_mutations(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("tv", "after_build"), TV) as bed:
        keys = await _sync_entities(bed, TV)
        containers = await _containers(bed, TV)
        await _reconcile_all(bed, TV, containers)
        expected = await _kitsu_triples(bed, TV)
        assert await _ayon_triples(bed, TV) == expected
        assert ("E01", "Umbrella", 1) in expected  # auto-cast into the episode by Zou
        assert ("Park", "Ball", 2) in expected
        await _assert_in_step_without_requests(bed, TV, containers)

    mutated = FakeKitsu.from_fixtures("tv", "after_mutations")
    async with sync_bed(pg_dsn, mutated, TV, project=bed.project) as after:
        await _sync_entities(after, TV, also=keys)  # deletes Umbrella (T09)
        shots = TV_IDS["shots"]
        # T06: +Kite -Ball, Mia 1 -> 2 in E01/SQ010/SH020; Zou also cast Kite into E01, and
        # logged nothing for E01: the shot's reconcile writes its own links only and has the
        # episode's casting key follow, whose own run adds Kite.
        t06 = await reconcile_casting(after.ctx, TV, shots["E01/SQ010/SH020"])
        assert t06.changes == {"create link": 2, "delete link": 1}
        e01 = TV_IDS["episodes"]["E01"]
        assert t06.follow_ups == (Key(TV, "casting", e01),)
        assert t06.label == f"casting of {after.project} /episodes/e01/sq010/sh020"
        follow = await reconcile_casting(after.ctx, TV, e01)
        assert follow.changes == {"create link": 1}
        assert (await reconcile_casting(after.ctx, TV, e01)).outcome == "in step"
        # T05: episode E02 +Leon (cast already, as Leo) -Rain, School 1 -> 2; Zou removed Rain
        # from its shot SH020 too
        e02 = await reconcile_casting(after.ctx, TV, TV_IDS["episodes"]["E02"])
        assert e02.changes == {"create link": 1, "delete link": 1}
        sh020 = await reconcile_casting(after.ctx, TV, shots["E02/SQ010/SH020"])
        assert sh020.changes == {"delete link": 3}  # Rain x3; E02 is in step already

        every = list(dict.fromkeys([*containers, *await _containers(after, TV)]))
        results = await _reconcile_all(after, TV, every)
        assert results[TV_IDS["assets"]["Park"]].changes == {"create link": 1}  # T07 +Kite
        assert await _ayon_triples(after, TV) == await _kitsu_triples(after, TV)
        assert await _dangling(after) == 0
        await _assert_in_step_without_requests(after, TV, every)


# ----------------------------------------------------------------------------- project variant


@pytest.mark.parametrize("name", ["film", "tv"])
async def test_project_casting_matches_per_container_with_few_reads(
    pg_dsn: str, name: Literal["film", "tv"]
) -> None:
    project_id = PROJECTS[name]
    kitsu = FakeKitsu.from_fixtures(name, "after_build")
    async with sync_bed(pg_dsn, kitsu, project_id) as bed:
        keys = await _sync_entities(bed, project_id)
        ctx, recording = _recording(bed)
        kitsu_before, ayon_before = len(kitsu.requests), len(bed.ayon_app.state.requests)

        result = await reconcile_project_casting(ctx, project_id)

        kitsu_calls = kitsu.requests[kitsu_before:]
        assert len(kitsu_calls) == 4, kitsu_calls  # entity links, assets, shots, episodes
        if bed.read_path == "sql":
            link_reads = [q for q in recording.queries if ".links l" in q]
            assert len(link_reads) == 1 and len(recording.queries) <= 4, recording.queries
        else:  # the same reads, one GraphQL request (one page) each
            assert len(bed.ayon_reads(ayon_before)) <= 4, bed.ayon_reads(ayon_before)
        ayon_calls = bed.ayon_app.state.requests[ayon_before:]
        assert [m for m, p in ayon_calls if p.endswith("/links/bulk")] == ["POST"]
        assert result.changes == {
            "create link": sum((await _kitsu_triples(bed, project_id)).values())
        }
        assert await _ayon_triples(bed, project_id) == await _kitsu_triples(bed, project_id)
        await _assert_in_step_without_requests(bed, project_id, await _containers(bed, project_id))

    mutated = FakeKitsu.from_fixtures(name, "after_mutations")
    async with sync_bed(pg_dsn, mutated, project_id, project=bed.project) as after:
        await _sync_entities(after, project_id, also=keys)
        result = await reconcile_project_casting(after.ctx, project_id)
        assert result.outcome == "changed"
        assert await _ayon_triples(after, project_id) == await _kitsu_triples(after, project_id)
        # The same links per-container reconciles converge to: they find nothing to do.
        await _assert_in_step_without_requests(
            after, project_id, await _containers(after, project_id)
        )
        # Given the lists a full reconcile holds already, one Kitsu call is left.
        client = after.ctx.kitsu
        assets, shots, episodes = await asyncio.gather(
            client.assets(project_id), client.shots(project_id), client.episodes(project_id)
        )
        production = Production(assets=assets, shots=shots, episodes=episodes)
        requests, kitsu_before = len(after.ayon_app.state.requests), len(mutated.requests)
        again = await reconcile_project_casting(after.ctx, project_id, production)
        assert again.outcome == "in step" and after.ayon_requests(requests) == []
        assert len(mutated.requests) == kitsu_before + 1


async def test_project_casting_clears_gone_containers_and_dangling_links(pg_dsn: str) -> None:
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    async with sync_bed(pg_dsn, kitsu, FILM) as bed:
        await _sync_entities(bed, FILM)
        await reconcile_project_casting(bed.ctx, FILM)
        shot = FILM_IDS["shots"]["SQ010/SH0010"]
        kitsu.delete_entity(shot, force=True)  # its folder stays until its entity reconcile
        hero = (await bed.folder(FILM_IDS["assets"]["Hero"]))["id"]
        await bed.pool.execute(  # a link AYON left dangling when it deleted a folder's subtree
            f"""INSERT INTO project_{bed.project}.links (id, link_type, input_id, output_id, data)
                VALUES ($1, $2, $3, $4, '{{}}')""",
            uuid.uuid4(),
            BREAKDOWN,
            hero,
            uuid.uuid4(),
        )
        human = LinkCreate(  # a link someone made in AYON into a folder that is no container
            input=hero.hex,
            output=(await bed.folder(FILM_IDS["sequences"]["SQ010"]))["id"].hex,
            link_type=BREAKDOWN,
        )
        (kept,) = await bed.ctx.writer.create_links(bed.project, [human])

        result = await reconcile_project_casting(bed.ctx, FILM)

        assert result.changes == {"delete link": 4}  # SH0010's three and the dangling one
        rows = await _ayon_links(bed)
        assert [r for r in rows if r["container"] == shot] == []
        assert all(r["intact"] for r in rows) and kept in {r["id"].hex for r in rows}


# ----------------------------------------------------------------------------- requests


async def test_requests_of_an_in_step_reconcile(pg_dsn: str) -> None:
    """Kitsu calls and AYON reads (SQL queries, or GraphQL requests) of one reconcile with
    nothing to do; no other AYON request."""
    # API reads: the links into a container and the links by id are two requests (sent at
    # once) where SQL has one query.
    for production, project_id, container, kitsu_calls, (queries, requests) in (
        ("film", FILM, FILM_IDS["shots"]["SQ010/SH0010"], 1, (3, 4)),
        ("film", FILM, FILM_IDS["assets"]["Castle"], 1, (3, 4)),
        # a tv shot: its casting, the shot and its sequence (to find the episode, whose
        # key follows); SQL: pairing, then its folders and links
        ("tv", TV, TV_IDS["shots"]["E01/SQ010/SH020"], 3, (3, 4)),
        ("tv", TV, TV_IDS["episodes"]["E01"], 1, (3, 4)),
    ):
        kitsu = FakeKitsu.from_fixtures(production, "after_build")  # type: ignore[arg-type]
        async with sync_bed(pg_dsn, kitsu, project_id) as bed:
            await _sync_entities(bed, project_id)
            await reconcile_casting(bed.ctx, project_id, container)
            ctx, recording = _recording(bed)
            kitsu_before, ayon_before = len(kitsu.requests), len(bed.ayon_app.state.requests)

            result = await reconcile_casting(ctx, project_id, container)

            assert result.outcome == "in step"
            assert len(kitsu.requests) - kitsu_before == kitsu_calls, kitsu.requests[kitsu_before:]
            if bed.read_path == "sql":
                assert len(recording.queries) == queries, recording.queries
            else:
                assert len(bed.ayon_reads(ayon_before)) == requests
            assert bed.ayon_requests(ayon_before) == []


# ----------------------------------------------------------------------------- edge cases


async def test_missing_folders_and_link_type_are_made_first(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await bed.pool.execute(
            f"DELETE FROM project_{bed.project}.link_types WHERE name = $1", BREAKDOWN
        )
        others = await bed.pool.fetchval(f"SELECT count(*) FROM project_{bed.project}.link_types")
        shot = FILM_IDS["shots"]["SQ010/SH0010"]

        result = await reconcile_casting(bed.ctx, FILM, shot)  # nothing synced yet

        assert result.changes["create link"] == 3
        assert result.changes["add link type"] == 1
        assert result.changes["create folder"] >= 4  # the shot, its assets, their parents
        assert await _ayon_triples(bed, FILM) == {
            ("SQ010/SH0010", "Hero", 1): 1,
            ("SQ010/SH0010", "Forest", 1): 1,
            ("SQ010/SH0010", "Lantern", 1): 1,
        }
        types = await bed.pool.fetch(f"SELECT name FROM project_{bed.project}.link_types")
        assert len(types) == others + 1  # the PATCH kept every other type
        assert [m for m, p in bed.ayon_writes() if p == f"/api/projects/{bed.project}"] == ["PATCH"]


async def test_a_project_left_by_ayon_kitsu_is_adopted_without_churn(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _sync_entities(bed, FILM)
        shot, assets = FILM_IDS["shots"]["SQ010/SH0020"], FILM_IDS["assets"]
        folders = {
            k: (await bed.folder(k))["id"].hex
            for k in (
                shot,
                *(assets[n] for n in ("Forest", "Goblet", "Hero", "Sidekick", "Villain")),
            )
        }

        def left(asset: str, k: int | None) -> LinkCreate:
            data = {"kitsuAssetId": assets[asset], "kitsuTargetId": shot, "occurence": k}
            return LinkCreate(
                input=folders[assets[asset]],
                output=folders[shot],
                link_type=BREAKDOWN,
                data=data if k else None,
            )

        # Kitsu: Forest 1, Goblet 3, Hero 1, Sidekick 2.
        ids = await bed.ctx.writer.create_links(
            bed.project,
            [
                left("Forest", 1),
                left("Goblet", 1),
                left("Goblet", 2),  # Goblet 3 is missing
                left("Hero", 1),
                left("Hero", 1),  # a duplicate
                left("Sidekick", None),  # no data: matched by input folder
                left("Sidekick", None),
                left("Villain", 1),  # no longer cast
            ],
        )

        result = await reconcile_casting(bed.ctx, FILM, shot)

        assert result.changes == {"create link": 1, "delete link": 2}
        remaining = {row["id"].hex for row in await _ayon_links(bed)}
        assert remaining == {*ids[:4], *ids[5:7], link_id(shot, assets["Goblet"], 3)}
        assert (await reconcile_casting(bed.ctx, FILM, shot)).outcome == "in step"


async def test_concurrent_reconciles_of_one_shot_end_with_the_exact_links(pg_dsn: str) -> None:
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        await _sync_entities(bed, FILM)
        shot = FILM_IDS["shots"]["SQ010/SH0020"]
        bulk = f"/api/projects/{bed.project}/links/bulk"
        # The first bulk create stalls in AYON while a second run reads, creates the same
        # links and commits: the stalled one then gets a 409, re-reads and finds them there.
        inject_delay(bed.ayon_app, 0.5, method="POST", path=bulk)
        first = asyncio.create_task(reconcile_casting(bed.ctx, FILM, shot))
        await asyncio.sleep(0.2)
        second = await reconcile_casting(bed.ctx, FILM, shot)
        results = [await first, second]

        assert sorted(r.outcome for r in results) == ["changed", "in step"]
        assert sum(r.changes.get("create link", 0) for r in results) == 7
        assert [m for m, p in bed.ayon_writes() if p == bulk] == ["POST", "POST"]
        assert len(await _ayon_links(bed)) == 7  # Forest 1, Goblet 3, Hero 1, Sidekick 2


async def test_a_container_kitsu_deleted_loses_its_links(pg_dsn: str) -> None:
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    async with sync_bed(pg_dsn, kitsu, FILM) as bed:
        await _sync_entities(bed, FILM)
        shot = FILM_IDS["shots"]["SQ010/SH0010"]
        await reconcile_casting(bed.ctx, FILM, shot)
        kitsu.delete_entity(shot, force=True)

        result = await reconcile_casting(bed.ctx, FILM, shot)  # before its entity reconcile

        assert result.changes == {"delete link": 3}
        assert await bed.folder(shot)  # the folder is the entity reconcile's business
        assert [r for r in await _ayon_links(bed) if r["container"] == shot] == []


async def test_deleting_an_episode_leaves_no_dangling_link(pg_dsn: str) -> None:
    kitsu = FakeKitsu.from_fixtures("tv", "after_build")
    async with sync_bed(pg_dsn, kitsu, TV) as bed:
        await _sync_entities(bed, TV)
        await _reconcile_all(bed, TV, await _containers(bed, TV))
        e02 = TV_IDS["episodes"]["E02"]
        e02_shots = {TV_IDS["shots"][k] for k in TV_IDS["shots"] if k.startswith("E02/")}
        into_shots = [r for r in await _ayon_links(bed) if r["container"] in e02_shots]
        assert into_shots  # E02's shots cast assets
        kitsu.delete_entity(e02, force=True)
        writes = len(bed.ayon_writes())

        result = await reconcile_entity(bed.ctx, TV, "episode", e02)

        # AYON removed the episode's own links; the ones into its shots were kitsync's to go,
        # one DELETE each and no more.
        assert result.changes["delete folder"] == 1
        assert result.changes["delete link"] == len(into_shots)
        deletes = [p for m, p in bed.ayon_writes()[writes:] if m == "DELETE"]
        assert sorted(deletes) == sorted(
            f"/api/projects/{bed.project}/links/{r['id'].hex}" for r in into_shots
        )
        assert await _dangling(bed) == 0
