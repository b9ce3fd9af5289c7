"""Shared fixtures: the real Postgres and Redis of the machine, each test run isolated.

Postgres: every session creates its own database ``kitsync_test_<hex>`` and drops it at the end.
Redis: tests use one db index (``KITSYNC_TEST_REDIS_DB``, default 13) and a key prefix unique to
the session; only keys under that prefix are ever deleted.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis

from tests.read_paths import READ_PATHS, ReadPath, reading_through

FIXTURES = Path(__file__).parent / "fixtures"

PG_ADMIN_DSN = os.environ.get(
    "KITSYNC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("KITSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("KITSYNC_TEST_REDIS_DB", "13"))


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _require(url: str, default_port: int, what: str) -> None:
    if not _reachable(url, default_port):
        where = f"{urlsplit(url).hostname}:{urlsplit(url).port or default_port}"
        pytest.fail(
            f"{what} is not reachable at {where}. "
            "Run the tests with scripts/test, which starts it, or start it yourself.",
            pytrace=False,
        )


@contextmanager
def own_database(prefix: str) -> Iterator[str]:
    """Create a database named ``<prefix><random hex>``, yield its name, drop it afterwards."""
    _require(PG_ADMIN_DSN, 5432, "PostgreSQL")
    name = f"{prefix}{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_dsn(name: str) -> str:
    """The DSN of database ``name`` on the tests' Postgres."""
    return urlsplit(PG_ADMIN_DSN)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """DSN of a fresh database owned by this test session (dropped afterwards)."""
    with own_database("kitsync_test_") as name:
        yield database_dsn(name)


@pytest.fixture
async def pg_pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    _require(REDIS_BASE_URL, 6379, "Redis")
    return f"{REDIS_BASE_URL.rstrip('/')}/{REDIS_DB}"


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to one test; its keys are deleted afterwards (and nothing else)."""
    prefix = f"kitsync-test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=READ_PATHS)
def read_path(request: pytest.FixtureRequest) -> Iterator[ReadPath]:
    """Run the test once reading AYON through its database, once through its API (see
    ``tests/read_paths.py``)."""
    path: ReadPath = request.param
    with reading_through(path):
        yield path
