"""AyonReader's folder, task and link rows, as AYON's tables hold them, written straight in SQL:
one JSON document per query, parsed into the same models the row-by-row reads gave."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from kitsync.ayon import AyonReader
from kitsync.schemas.ayon import BREAKDOWN
from tests.fakes.ayon import create_project

pytestmark = pytest.mark.integration


async def test_rows_keep_every_column_and_read_odd_jsonb_as_empty_objects(
    pg_dsn: str, pg_pool: asyncpg.Pool
) -> None:
    project = f"kitsync_{uuid.uuid4().hex[:10]}"
    await create_project(pg_dsn, project)
    schema = f"project_{project}"
    root, shot, task, link = (uuid.uuid4() for _ in range(4))
    status = await pg_pool.fetchval(f"SELECT name FROM {schema}.statuses LIMIT 1")
    task_type = await pg_pool.fetchval(f"SELECT name FROM {schema}.task_types LIMIT 1")
    await pg_pool.execute(
        f"""INSERT INTO {schema}.folder_types (name, position) VALUES ('Shot', 99)
            ON CONFLICT DO NOTHING"""
    )
    await pg_pool.execute(
        f"""INSERT INTO {schema}.folders (id, name, label, folder_type, parent_id, attrib, data,
                                          status, tags, active)
            VALUES ($1, 'shots', NULL, 'Shot', NULL, '[]', 'null', $3, '{{}}', true),
                   ($2, 'sh010', 'SH010', 'Shot', $1, '{{"fps": 24.0, "frameStart": 1001}}',
                    '{{"kitsuId": "k1", "nested": {{"a": [1, "b"]}}}}', $3, '{{hero,wip}}', false)
        """,
        root,
        shot,
        status,
    )
    await pg_pool.execute(
        f"""INSERT INTO {schema}.tasks (id, name, folder_id, task_type, assignees, attrib, data,
                                        status)
            VALUES ($1, 'anim', $2, $3, '{{alice,bruno}}', '{{}}', '"text"', $4)""",
        task,
        shot,
        task_type,
        status,
    )
    await pg_pool.execute(
        f"""INSERT INTO {schema}.link_types (name, input_type, output_type, link_type)
            VALUES ($1, 'folder', 'folder', 'breakdown') ON CONFLICT DO NOTHING""",
        BREAKDOWN,
    )
    await pg_pool.execute(
        f"""INSERT INTO {schema}.links (id, name, link_type, input_id, output_id, data)
            VALUES ($1, NULL, $2, $3, $4, '{{"occurence": 2, "kitsuAssetId": "a"}}')""",
        link,
        BREAKDOWN,
        root,
        shot,
    )
    reader = AyonReader(pg_pool)

    folders = await reader.project_folders(project)
    assert [(f.id, f.parent_id, f.path) for f in folders] == [
        (root.hex, None, "shots"),
        (shot.hex, root.hex, "shots/sh010"),
    ]
    assert (folders[0].label, folders[0].attrib, folders[0].data, folders[0].tags) == (
        None,
        {},
        {},
        [],
    )
    assert folders[1].attrib == {"fps": 24.0, "frameStart": 1001}
    assert folders[1].data == {"kitsuId": "k1", "nested": {"a": [1, "b"]}}
    assert (folders[1].label, folders[1].tags, folders[1].active) == (
        "SH010",
        ["hero", "wip"],
        False,
    )

    (read_task,) = await reader.project_tasks(project)
    assert (read_task.id, read_task.folder_id, read_task.assignees, read_task.data) == (
        task.hex,
        shot.hex,
        ["alice", "bruno"],
        {},
    )
    (read_link,) = await reader.links_of_type(project, BREAKDOWN)
    assert (read_link.id, read_link.input_id, read_link.output_id, read_link.name) == (
        link.hex,
        root.hex,
        shot.hex,
        None,
    )
    assert read_link.data == {"occurence": 2, "kitsuAssetId": "a"}
    assert await reader.links_of_type(project, "reference|folder|folder") == []
