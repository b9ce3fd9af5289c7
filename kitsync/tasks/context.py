"""The shared clients a reconcile works with: one Kitsu client, one AYON pool and HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from kitsync.ayon import AyonReader, AyonWriter, connect
from kitsync.config import Settings, load_settings, reveal
from kitsync.core.plan import DeleteMode
from kitsync.kitsu import KitsuClient
from kitsync.tasks.locks import LocalLocks, ProjectLocks

# A reconcile retries whole on a transient error (a full one reads a dozen Kitsu lists): a read
# Zou fails now and then is tried again on the spot first.
KITSU_GET_RETRIES = 2


@dataclass(frozen=True)
class SyncContext:
    kitsu: KitsuClient
    reader: AyonReader
    writer: AyonWriter
    # What a Kitsu delete does to an AYON folder without products.
    delete_mode: DeleteMode = "delete"
    # Assignees with no AYON user: create one (no password) instead of leaving them out.
    create_users: bool = False
    locks: ProjectLocks = field(default_factory=LocalLocks)


@asynccontextmanager
async def open_context(
    settings: Settings | None = None, locks: ProjectLocks | None = None
) -> AsyncIterator[SyncContext]:
    """Clients built from the settings, closed on exit. One per process and event loop."""
    settings = settings or load_settings(["kitsu", "ayon", "ayon_db"])
    assert settings.kitsu_url and settings.ayon_url and settings.ayon_db_dsn  # load_settings
    pool = await connect(reveal(settings.ayon_db_dsn) or "", command_timeout=settings.db_timeout)
    try:
        async with (
            KitsuClient(
                settings.kitsu_url,
                email=settings.kitsu_email,
                password=reveal(settings.kitsu_password),
                bot_token=reveal(settings.kitsu_bot_token),
                timeout=settings.http_timeout,
                get_retries=KITSU_GET_RETRIES,
            ) as kitsu,
            AyonWriter(
                settings.ayon_url,
                reveal(settings.ayon_api_key) or "",
                timeout=settings.http_timeout,
            ) as writer,
        ):
            yield SyncContext(
                kitsu=kitsu,
                reader=AyonReader(pool),
                writer=writer,
                delete_mode="deactivate" if settings.deactivate_on_delete else "delete",
                create_users=settings.create_users,
                locks=locks or LocalLocks(),
            )
    finally:
        await pool.close()
