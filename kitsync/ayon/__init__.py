"""AYON gateway: read AYON's state through its API or from its database, write through its REST
API (httpx).

Reads follow :class:`AyonReads`: ``ApiReader(GraphQL(url, api_key))`` (GraphQL and REST, the
default) or ``AyonReader(await connect(dsn))`` (asyncpg, with ``AYON_DB_DSN``).
``async with AyonWriter(url, api_key) as w:`` for writes. Each shares one HTTP client or one
connection pool for its whole life.
"""

from kitsync.ayon._api_reader import ApiReader
from kitsync.ayon._graphql import GraphQL
from kitsync.ayon._reader import AyonReader, ProjectSummary, connect, index_by_kitsu_id
from kitsync.ayon._reads import AyonReads
from kitsync.ayon._writer import SENDER, SENDER_TYPE, AyonWriter
from kitsync.ayon.errors import (
    AmbiguousPairing,
    AyonAuthError,
    AyonBadRequest,
    AyonConflict,
    AyonError,
    AyonNotFound,
    AyonQueryError,
    AyonUnavailable,
    IncompleteRead,
    OperationFailed,
    UnsafeProjectName,
)

__all__ = [
    "SENDER",
    "SENDER_TYPE",
    "AmbiguousPairing",
    "ApiReader",
    "AyonAuthError",
    "AyonBadRequest",
    "AyonConflict",
    "AyonError",
    "AyonNotFound",
    "AyonQueryError",
    "AyonReader",
    "AyonReads",
    "AyonUnavailable",
    "AyonWriter",
    "GraphQL",
    "IncompleteRead",
    "OperationFailed",
    "ProjectSummary",
    "UnsafeProjectName",
    "connect",
    "index_by_kitsu_id",
]
