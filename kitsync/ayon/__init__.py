"""AYON gateway: read AYON's state from its database (asyncpg), write through its REST API (httpx).

``AyonReader(await connect(dsn))`` for reads; ``async with AyonWriter(url, api_key) as w:`` for
writes. Both share one connection pool / one HTTP client for their whole life.
"""

from kitsync.ayon._reader import AyonReader, ProjectSummary, connect, index_by_kitsu_id
from kitsync.ayon._writer import AyonWriter
from kitsync.ayon.errors import (
    AmbiguousPairing,
    AyonAuthError,
    AyonBadRequest,
    AyonConflict,
    AyonError,
    AyonNotFound,
    AyonUnavailable,
    OperationFailed,
    UnsafeProjectName,
)

__all__ = [
    "AmbiguousPairing",
    "AyonAuthError",
    "AyonBadRequest",
    "AyonConflict",
    "AyonError",
    "AyonNotFound",
    "AyonReader",
    "AyonUnavailable",
    "AyonWriter",
    "OperationFailed",
    "ProjectSummary",
    "UnsafeProjectName",
    "connect",
    "index_by_kitsu_id",
]
