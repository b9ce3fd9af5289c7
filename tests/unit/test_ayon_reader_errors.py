"""How AyonReader classes asyncpg's failures: a dropped session is transient (AyonUnavailable,
retried), a missing project schema is AyonNotFound, anything else passes through.

Found by the fault tier (tests/faults/test_postgres_drops.py): a session terminated while idle
in the pool made the next query fail with asyncpg's ``InternalClientError`` ("cannot switch to
state 12; another operation (2) is in progress"), which reached the worker raw and dead-lettered
the key."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from kitsync.ayon import AyonNotFound, AyonReader, AyonUnavailable
from kitsync.worker.failures import is_transient


class _FailingPool:
    """Every query fails, and so does taking a connection (the paged reads take one)."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    async def fetch(self, *_: Any) -> list[Any]:
        raise self._error

    def acquire(self) -> _FailingPool:
        return self

    async def __aenter__(self) -> None:
        raise self._error

    async def __aexit__(self, *_: object) -> None:
        return None


def _reader(error: BaseException) -> AyonReader:
    return AyonReader(_FailingPool(error))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to user request"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        ConnectionResetError("reset by peer"),
        TimeoutError(),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_dropped_sessions_are_transient(error: BaseException) -> None:
    with pytest.raises(AyonUnavailable) as raised:
        await _reader(error).paired_projects()
    assert is_transient(raised.value)
    assert "AyonReader.paired_projects" in str(raised.value)


async def test_missing_schema_is_not_found() -> None:
    error = asyncpg.exceptions.InvalidSchemaNameError('schema "project_x" does not exist')
    with pytest.raises(AyonNotFound):
        await _reader(error).project_folders("x")


async def test_other_errors_pass_through() -> None:
    error = asyncpg.exceptions.SyntaxOrAccessError("permission denied")
    with pytest.raises(asyncpg.exceptions.SyntaxOrAccessError):
        await _reader(error).paired_projects()
