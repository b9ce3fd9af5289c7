"""The shared clients a reconcile works with: one Kitsu client, one AYON reader (its HTTP client,
or its database pool with ``AYON_DB_DSN``) and one AYON writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from kitsync.ayon import ApiReader, AyonReader, AyonReads, AyonWriter, GraphQL, connect
from kitsync.ayon_to_kitsu import RedisSyncState, SqliteSyncState, SyncState, TwoWay
from kitsync.budget import Budget, open_budgets
from kitsync.config import Settings, load_settings, reveal
from kitsync.core.plan import DeleteMode
from kitsync.kitsu import KitsuClient
from kitsync.reconcile.locks import LocalLocks, ProjectLocks

# A reconcile retries whole on a transient error (a full one reads a dozen Kitsu lists): a read
# Zou fails now and then is tried again on the spot first.
KITSU_GET_RETRIES = 2


@dataclass(frozen=True)
class SyncContext:
    kitsu: KitsuClient
    reader: AyonReads
    writer: AyonWriter
    # What a Kitsu delete does to an AYON folder without products.
    delete_mode: DeleteMode = "delete"
    # Assignees with no AYON user: create one (no password) instead of leaving them out.
    create_users: bool = False
    locks: ProjectLocks = field(default_factory=LocalLocks)
    # The AYON -> Kitsu direction, when KITSYNC_AYON_TO_KITSU names a field.
    two_way: TwoWay | None = None


def read_path(settings: Settings) -> str:
    """How AYON is read with these settings, in words (``kitsync check`` says it)."""
    if settings.ayon_db_dsn is not None:
        return "AYON's database (AYON_DB_DSN)"
    return "AYON's API (GraphQL + REST with the service user's key)"


@asynccontextmanager
async def open_reader(settings: Settings, budget: Budget | None = None) -> AsyncIterator[AyonReads]:
    """The AYON reader the settings ask for: SQL on AYON's database when ``AYON_DB_DSN`` is set
    (a pool of ``KITSYNC_AYON_DB_POOL`` connections), else AYON's API, its requests within
    ``budget``. Closed on exit."""
    assert settings.ayon_url and settings.ayon_api_key  # load_settings(["ayon"])
    if settings.ayon_db_dsn is not None:
        pool = await connect(
            settings.ayon_db_dsn.get_secret_value(),
            min_size=1,
            max_size=settings.ayon_db_pool,
            command_timeout=settings.db_timeout,
        )
        try:
            yield AyonReader(pool)
        finally:
            await pool.close()
        return
    graphql = GraphQL(
        settings.ayon_url,
        settings.ayon_api_key.get_secret_value(),
        timeout=settings.http_timeout,
        budget=budget,
    )
    try:
        yield ApiReader(graphql)
    finally:
        await graphql.aclose()


@asynccontextmanager
async def open_context(
    settings: Settings | None = None,
    locks: ProjectLocks | None = None,
    sync_state: SyncState | None = None,
) -> AsyncIterator[SyncContext]:
    """Clients built from the settings, closed on exit. One per process and event loop.

    Their requests are sent within the cluster's budgets (``kitsync.budget``: in the queue's
    Redis, else in this process), and a database pool holds at most ``KITSYNC_AYON_DB_POOL``
    connections. ``sync_state``: where the AYON -> Kitsu direction keeps its bases; by default
    in Redis (a client of its own) with ``KITSYNC_REDIS_URL``, else in a file under the state
    folder.
    """
    settings = settings or load_settings(["kitsu", "ayon"])
    assert settings.kitsu_url and settings.ayon_url  # load_settings
    own_redis: aioredis.Redis | None = None
    own_file: SqliteSyncState | None = None
    two_way: TwoWay | None = None
    if settings.ayon_to_kitsu:
        if sync_state is None and settings.redis_url is not None:
            own_redis = aioredis.Redis.from_url(reveal(settings.redis_url) or "")
            sync_state = RedisSyncState(own_redis, settings.redis_prefix)
        elif sync_state is None:
            settings.state_dir.mkdir(parents=True, exist_ok=True)
            sync_state = own_file = SqliteSyncState(settings.state_dir / "ayon-to-kitsu.sqlite")
        two_way = TwoWay(settings.ayon_to_kitsu, sync_state)
    try:
        async with (
            open_budgets(settings) as budgets,
            open_reader(settings, budgets.ayon) as reader,
            KitsuClient(
                settings.kitsu_url,
                email=settings.kitsu_email,
                password=reveal(settings.kitsu_password),
                bot_token=reveal(settings.kitsu_bot_token),
                timeout=settings.http_timeout,
                get_retries=KITSU_GET_RETRIES,
                budget=budgets.kitsu,
            ) as kitsu,
            AyonWriter(
                settings.ayon_url,
                reveal(settings.ayon_api_key) or "",
                timeout=settings.http_timeout,
                budget=budgets.ayon,
            ) as writer,
        ):
            yield SyncContext(
                kitsu=kitsu,
                reader=reader,
                writer=writer,
                delete_mode="deactivate" if settings.deactivate_on_delete else "delete",
                create_users=settings.create_users,
                locks=locks or LocalLocks(),
                two_way=two_way,
            )
    finally:
        if own_redis is not None:
            await own_redis.aclose()
        if own_file is not None:
            own_file.close()
