"""The stores of the AYON -> Kitsu bases behave alike: Redis (farm) and SQLite (single process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from kitsync.ayon_to_kitsu import RedisSyncState, SqliteSyncState, SyncState
from kitsync.ayon_to_kitsu.state import Agreed, DrainRecord, TaskState

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
KEY = "project/task/one"


@pytest.fixture(params=["redis", "sqlite"])
async def store(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[SyncState]:
    if request.param == "sqlite":
        sqlite = SqliteSyncState(tmp_path / "state.sqlite")
        yield sqlite
        sqlite.close()
        return
    client = aioredis.Redis.from_url(redis_url)
    yield RedisSyncState(client, redis_prefix)
    await client.aclose()


async def test_bases_are_kept_per_field_and_the_newest_ayon_change_wins(store: SyncState) -> None:
    assert await store.get(KEY) == TaskState()
    await store.agree({KEY: Agreed(status="s-wip")})
    await store.agree({KEY: Agreed(assignees=("p-b", "p-a")), "project/task/two": Agreed("s-x")})
    await store.ayon_changed(KEY, T0 + timedelta(seconds=5), "anna")
    await store.ayon_changed(KEY, T0, "bob")  # older: ignored (lanes finish out of order)
    assert await store.get(KEY) == TaskState(
        "s-wip", ("p-a", "p-b"), T0 + timedelta(seconds=5), "anna"
    )
    await store.agree({KEY: Agreed(assignees=())})
    assert (await store.get(KEY)).assignees == ()
    assert (await store.get("project/task/two")).status == "s-x"
    assert await store.last_drain() is None
    await store.drained(DrainRecord(T0, 12, 3.5))
    assert await store.last_drain() == DrainRecord(T0, 12, 3.5)


async def test_the_sqlite_file_survives_a_restart(tmp_path: Path) -> None:
    first = SqliteSyncState(tmp_path / "state.sqlite")
    await first.agree({KEY: Agreed("s-done", ("p-a",))})
    first.close()
    again = SqliteSyncState(tmp_path / "state.sqlite")
    assert (await again.get(KEY)) == TaskState("s-done", ("p-a",))
    again.close()
