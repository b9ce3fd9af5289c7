"""The AYON gateway against the fake AYON server on the real Postgres: writes through REST, reads
back through SQL, as a worker does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from kitsync.ayon import (
    AyonNotFound,
    AyonReader,
    AyonUnavailable,
    AyonWriter,
    OperationFailed,
    UnsafeProjectName,
    connect,
)
from kitsync.core.ids import ayon_id, link_id
from kitsync.schemas.ayon import (
    BREAKDOWN,
    AnatomyItem,
    LinkCreate,
    LinkTypeItem,
    Operation,
)
from tests.fakes.ayon import HUMAN_KEY, SERVICE_KEY, create_app, create_project
from tests.fakes.serve import serve

pytestmark = pytest.mark.integration


class RecordingPool:
    """Forwards to a real pool and keeps every query it was asked to run."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries: list[str] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.queries.append(query)
        return await self.pool.fetch(query, *args)


@pytest.fixture(scope="module")
def ayon_url(pg_dsn: str) -> Iterator[str]:
    with serve(create_app(pg_dsn)) as url:
        yield url


@pytest.fixture
async def project(pg_dsn: str, ayon_url: str) -> str:
    name = f"kitsync_{uuid.uuid4().hex[:10]}"
    await create_project(pg_dsn, name, data={"kitsuProjectId": f"kitsu-{name}"})
    return name


@pytest.fixture
async def writer(ayon_url: str) -> AsyncIterator[AyonWriter]:
    async with AyonWriter(ayon_url, SERVICE_KEY, chunk_size=50) as ayon:
        yield ayon


@pytest.fixture
def recording(pg_pool: asyncpg.Pool) -> RecordingPool:
    return RecordingPool(pg_pool)


@pytest.fixture
def reader(recording: RecordingPool) -> AyonReader:
    return AyonReader(recording)  # type: ignore[arg-type]


def create_folder(
    folder_id: str, name: str, folder_type: str, parent_id: str | None = None, **data: Any
) -> Operation:
    body: dict[str, Any] = {"name": name, "folderType": folder_type, "data": data}
    if parent_id is not None:
        body["parentId"] = parent_id
    return Operation(type="create", entity_type="folder", entity_id=folder_id, data=body)


def create_task(task_id: str, name: str, folder_id: str, **data: Any) -> Operation:
    body = {"name": name, "taskType": "Animation", "folderId": folder_id, "data": data}
    return Operation(type="create", entity_type="task", entity_id=task_id, data=body)


def random_id() -> str:
    return uuid.uuid1().hex  # what AYON (and so ayon-kitsu) gives a folder created without id


async def make_shots(writer: AyonWriter, project: str, count: int) -> tuple[str, list[str]]:
    """A ``shots`` root with ``count`` shots under it and an ``assets/hero`` asset."""
    shots, assets, hero = ayon_id("k-shots"), ayon_id("k-assets"), ayon_id("k-hero")
    shot_ids = [ayon_id(f"k-sh{i:03d}") for i in range(count)]
    await writer.operations(
        project,
        [
            create_folder(shots, "shots", "Folder"),
            create_folder(assets, "assets", "Folder"),
            create_folder(hero, "hero", "Asset", assets, kitsuId="k-hero"),
            *(
                create_folder(sid, f"sh{i:03d}", "Shot", shots, kitsuId=f"k-sh{i:03d}")
                for i, sid in enumerate(shot_ids)
            ),
        ],
    )
    return hero, shot_ids


# ----------------------------------------------------------------------------- folders and tasks


async def test_written_folders_and_tasks_resolve_by_kitsync_id_and_by_data_kitsu_id(
    writer: AyonWriter, reader: AyonReader, recording: RecordingPool, project: str
) -> None:
    root, hero = ayon_id("k-assets"), ayon_id("k-hero")
    legacy = random_id()  # created by ayon-kitsu: random id, kitsuId in data
    legacy_task = random_id()
    await writer.operations(
        project,
        [
            create_folder(root, "assets", "Folder"),
            create_folder(hero, "hero", "Asset", root, kitsuId="k-hero"),
            create_folder(legacy, "villain", "Asset", root, kitsuId="k-villain"),
            create_task(ayon_id("k-task-1"), "animation", hero, kitsuId="k-task-1"),
            create_task(legacy_task, "animation", legacy, kitsuId="k-task-2"),
            Operation(
                type="update", entity_type="folder", entity_id=legacy, data={"active": False}
            ),
        ],
    )
    recording.queries.clear()

    folders = await reader.folders_by_kitsu_ids(
        project, ["k-assets", "k-hero", "k-villain", "k-missing"]
    )
    tasks = await reader.tasks_by_kitsu_ids(project, ["k-task-1", "k-task-2", "k-missing"])

    assert len(recording.queries) == 2  # one query per call, not one per entity
    assert set(folders) == {"k-assets", "k-hero", "k-villain"}
    assert folders["k-hero"].id == hero and folders["k-hero"].parent_id == root
    assert folders["k-hero"].path == "assets/hero"
    assert folders["k-hero"].folder_type == "Asset" and folders["k-hero"].active
    assert folders["k-villain"].id == legacy
    assert folders["k-villain"].active is False  # inactive rows are returned too
    assert folders["k-assets"].path == "assets" and folders["k-assets"].parent_id is None
    assert {k: t.id for k, t in tasks.items()} == {
        "k-task-1": ayon_id("k-task-1"),
        "k-task-2": legacy_task,
    }
    assert tasks["k-task-1"].folder_id == hero and tasks["k-task-1"].task_type == "Animation"


async def test_active_folder_wins_over_an_inactive_one_for_the_same_kitsu_id(
    writer: AyonWriter, reader: AyonReader, project: str
) -> None:
    old = random_id()
    await writer.operations(
        project,
        [
            create_folder(old, "hero_old", "Asset", kitsuId="k-hero"),
            Operation(type="update", entity_type="folder", entity_id=old, data={"active": False}),
            create_folder(ayon_id("k-hero"), "hero", "Asset", kitsuId="k-hero"),
        ],
    )
    found = await reader.folders_by_kitsu_ids(project, ["k-hero"])
    assert found["k-hero"].id == ayon_id("k-hero")


async def test_children_paths_and_tasks_of_folders(
    writer: AyonWriter, reader: AyonReader, project: str
) -> None:
    hero, shot_ids = await make_shots(writer, project, 3)
    shots, assets = ayon_id("k-shots"), ayon_id("k-assets")
    await writer.operations(project, [create_task(ayon_id("k-t"), "anim", shot_ids[0])])

    children = await reader.children(project, [shots, None, ayon_id("k-empty")])
    assert sorted(f.name for f in children[shots]) == ["sh000", "sh001", "sh002"]
    assert sorted(f.name for f in children[None]) == ["assets", "shots"]
    assert children[ayon_id("k-empty")] == []

    by_id = await reader.folders_by_ids(project, [hero, shot_ids[2], assets, "f" * 32])
    paths = {folder_id: folder.path for folder_id, folder in by_id.items()}
    assert paths == {hero: "assets/hero", shot_ids[2]: "shots/sh002", assets: "assets"}

    tasks = await reader.tasks_of_folders(project, shot_ids[:2])
    assert [t.name for t in tasks[shot_ids[0]]] == ["anim"] and tasks[shot_ids[1]] == []


async def test_folders_with_products_counts_products_anywhere_below(
    writer: AyonWriter, reader: AyonReader, pg_pool: asyncpg.Pool, project: str
) -> None:
    hero, shot_ids = await make_shots(writer, project, 2)
    # Products are published by AYON's own tools, never by kitsync: put one in place directly.
    await pg_pool.execute(
        f"INSERT INTO project_{project}.products (id, name, folder_id, product_type) "
        "VALUES ($1, 'modelMain', $2, 'model')",
        uuid.uuid4(),
        uuid.UUID(hero),
    )
    found = await reader.folders_with_products(project, [hero, ayon_id("k-assets"), *shot_ids])
    assert found == {hero, ayon_id("k-assets")}


# ----------------------------------------------------------------------------- operations


async def test_duplicate_folder_name_differing_in_case_is_a_409(
    writer: AyonWriter, reader: AyonReader, project: str
) -> None:
    await make_shots(writer, project, 1)
    clash = create_folder(ayon_id("k-clash"), "SH000", "Shot", ayon_id("k-shots"))
    with pytest.raises(OperationFailed) as caught:
        await writer.operations(project, [clash])
    assert caught.value.result.status == 409
    assert caught.value.result.error_code == "unique-violation"
    assert "sh000" in str(caught.value)
    assert await reader.folders_by_ids(project, [ayon_id("k-clash")]) == {}


async def test_batch_failing_half_way_writes_nothing_of_its_chunk(
    ayon_url: str, reader: AyonReader, project: str
) -> None:
    ops = [
        create_folder(ayon_id("k-a"), "a", "Folder"),
        create_folder(ayon_id("k-b"), "b", "Folder"),
        create_folder(ayon_id("k-c"), "c", "Folder"),
        create_folder(ayon_id("k-B"), "B", "Folder"),  # clashes with "b"
        create_folder(ayon_id("k-d"), "d", "Folder"),
    ]
    async with AyonWriter(ayon_url, SERVICE_KEY, chunk_size=3) as writer:
        with pytest.raises(OperationFailed) as caught:
            await writer.operations(project, ops)
    assert (caught.value.index, caught.value.committed) == (3, 3)
    found = await reader.folders_by_kitsu_ids(project, ["k-a", "k-b", "k-c", "k-B", "k-d"])
    assert set(found) == {"k-a", "k-b", "k-c"}  # the first chunk only

    # Without chunking the whole batch is one transaction: nothing at all.
    other = [create_folder(ayon_id(f"k-x{i}"), f"x{i}", "Folder") for i in range(4)]
    other.append(create_folder(ayon_id("k-x-dup"), "X0", "Folder"))
    async with AyonWriter(ayon_url, SERVICE_KEY) as writer:
        with pytest.raises(OperationFailed):
            await writer.operations(project, other)
    assert await reader.folders_by_ids(project, [op.entity_id or "" for op in other]) == {}


# ----------------------------------------------------------------------------- links


async def test_links_of_many_outputs_come_back_in_one_query(
    writer: AyonWriter, reader: AyonReader, recording: RecordingPool, project: str
) -> None:
    hero, shot_ids = await make_shots(writer, project, 30)
    links = [
        LinkCreate(
            id=link_id(shot, "k-hero", occurrence),
            input=hero,
            output=shot,
            link_type=BREAKDOWN,
            data={"kitsuAssetId": "k-hero", "kitsuTargetId": shot, "occurence": occurrence},
        )
        for shot in shot_ids[:20]
        for occurrence in (1, 2)
    ]
    created = await writer.create_links(project, links)
    assert created == [link.id for link in links]
    recording.queries.clear()

    found = await reader.links_of_outputs(project, shot_ids)

    assert len(recording.queries) == 1
    assert set(found) == set(shot_ids)
    assert all(len(found[shot]) == 2 for shot in shot_ids[:20])
    assert all(found[shot] == [] for shot in shot_ids[20:])
    first = found[shot_ids[0]][0]
    assert (first.input_id, first.output_id, first.link_type) == (hero, shot_ids[0], BREAKDOWN)
    assert first.data == {"kitsuAssetId": "k-hero", "kitsuTargetId": shot_ids[0], "occurence": 1}

    touching = await reader.links_touching(project, [hero])
    assert len(touching) == 40

    assert await writer.delete_links(project, [links[0].id or "", links[0].id or "", "e" * 32]) == 1
    assert len((await reader.links_of_outputs(project, [shot_ids[0]]))[shot_ids[0]]) == 1


async def test_anatomy_addition_keeps_existing_link_types_and_their_links(
    writer: AyonWriter, reader: AyonReader, project: str
) -> None:
    hero, shot_ids = await make_shots(writer, project, 1)
    await writer.create_links(
        project,
        [
            LinkCreate(
                id=link_id(shot_ids[0], "k-hero", 1),
                input=hero,
                output=shot_ids[0],
                link_type=BREAKDOWN,
            )
        ],
    )
    before = await reader.anatomy(project)

    added = await writer.add_anatomy_items(
        project,
        task_types=[AnatomyItem(name="Previz", shortName="pvz", color="#123456")],
        statuses=[AnatomyItem(name="in progress")],  # exists as "In progress"
        link_types=[LinkTypeItem(name="casting|folder|folder", data={"color": "#00aaff"})],
    )
    after = await reader.anatomy(project)

    assert added
    assert [t.name for t in after.link_types] == sorted(
        [t.name for t in before.link_types] + ["casting|folder|folder"]
    )
    assert [t.name for t in after.task_types] == [t.name for t in before.task_types] + ["Previz"]
    assert after.task_types[-1].model_dump(by_alias=True).items() >= {
        ("shortName", "pvz"),
        ("color", "#123456"),
    }
    assert after.statuses == before.statuses
    assert after.folder_types == before.folder_types
    links = await reader.links_of_outputs(project, shot_ids)
    assert [link.input_id for link in links[shot_ids[0]]] == [hero]

    # Nothing missing now: no PATCH at all.
    assert not await writer.add_anatomy_items(project, task_types=[AnatomyItem(name="PREVIZ")])


async def test_reader_anatomy_matches_what_rest_returns(
    writer: AyonWriter, reader: AyonReader, project: str
) -> None:
    from_sql = await reader.anatomy(project)
    from_rest = await writer.get_project(project)
    assert from_sql.folder_types == from_rest.folder_types
    assert from_sql.task_types == from_rest.task_types
    assert from_sql.statuses == from_rest.statuses
    assert sorted(t.name for t in from_sql.link_types) == sorted(
        t.name for t in from_rest.link_types
    )


# ----------------------------------------------------------------------------- events, pairs, users


async def test_event_is_recorded_once_per_hash(
    writer: AyonWriter, pg_pool: asyncpg.Pool, project: str
) -> None:
    event_hash = f"kitsu-event-{uuid.uuid4().hex}"
    first = await writer.emit_event(
        "kitsync.kitsu.event",
        project=project,
        hash=event_hash,
        summary={"kitsuTopic": "shot:update"},
    )
    again = await writer.emit_event("kitsync.kitsu.event", project=project, hash=event_hash)
    rows = await pg_pool.fetch(
        "SELECT id, sender, sender_type, status FROM public.events WHERE hash = $1", event_hash
    )
    assert first is not None and again is None
    assert [(r["id"].hex, r["sender"], r["sender_type"], r["status"]) for r in rows] == [
        (first, "kitsync", "kitsu", "finished")
    ]


async def test_paired_project_lookup(reader: AyonReader, pg_dsn: str, project: str) -> None:
    assert await reader.paired_project(f"kitsu-{project}") == project
    assert (await reader.paired_projects())[f"kitsu-{project}"] == project
    assert await reader.paired_project("kitsu-never-paired") is None


async def test_users_by_email_ignores_case(reader: AyonReader, pg_pool: asyncpg.Pool) -> None:
    name = f"artist_{uuid.uuid4().hex[:8]}"
    await pg_pool.execute(
        "INSERT INTO public.users (name, attrib) VALUES ($1, $2::jsonb)",
        name,
        f'{{"email": "{name}@Studio.Example"}}',
    )
    found = await reader.users_by_email([f"{name.upper()}@studio.example", "nobody@x.y"])
    assert found == {f"{name}@studio.example": name}


async def test_me_tells_a_service_user(ayon_url: str) -> None:
    async with (
        AyonWriter(ayon_url, SERVICE_KEY) as service,
        AyonWriter(ayon_url, HUMAN_KEY) as human,
    ):
        assert (await service.me()).is_service
        assert not (await human.me()).is_service


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("name", ["x; DROP TABLE public.projects", "a.b", "", "p\n", "é"])
async def test_unsafe_project_name_is_refused_before_any_sql(
    reader: AyonReader, recording: RecordingPool, name: str
) -> None:
    calls = [
        reader.folders_by_kitsu_ids(name, ["k"]),
        reader.tasks_by_kitsu_ids(name, ["k"]),
        reader.folders_by_ids(name, ["a" * 32]),
        reader.children(name, [None]),
        reader.folders_with_products(name, ["a" * 32]),
        reader.links_of_outputs(name, ["a" * 32]),
        reader.links_touching(name, ["a" * 32]),
        reader.anatomy(name),
    ]
    for call in calls:
        with pytest.raises(UnsafeProjectName):
            await call
    assert recording.queries == []


async def test_unknown_project_is_not_found(reader: AyonReader) -> None:
    with pytest.raises(AyonNotFound, match="nosuchproject"):
        await reader.folders_by_ids("nosuchproject", ["a" * 32])


async def test_connect_gives_a_read_only_pool(pg_dsn: str, project: str) -> None:
    pool = await connect(pg_dsn, max_size=2)
    try:
        assert await AyonReader(pool).paired_project(f"kitsu-{project}") == project
        with pytest.raises(asyncpg.exceptions.ReadOnlySQLTransactionError):
            await pool.execute("CREATE TABLE public.kitsync_must_not_exist (x int)")
    finally:
        await pool.close()


async def test_unreachable_database_is_transient_and_hides_the_password() -> None:
    with pytest.raises(AyonUnavailable) as caught:
        await connect("postgresql://kitsync:s3cr3t-pw@127.0.0.1:1/ayon", command_timeout=2)
    assert "s3cr3t-pw" not in str(caught.value)


async def test_kitsync_connections_counts_the_sessions_of_kitsync_pools(
    pg_dsn: str, pg_pool: asyncpg.Pool
) -> None:
    asking = await connect(pg_dsn, min_size=1, max_size=1)
    others = await connect(pg_dsn, min_size=3, max_size=3)
    try:
        # The test's own pool is not named kitsync; the asking pool's one session is left out.
        assert await AyonReader(asking).kitsync_connections() == 3
    finally:
        await others.close()
    try:
        assert await AyonReader(asking).kitsync_connections() == 0
    finally:
        await asking.close()
