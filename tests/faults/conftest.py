"""The fault tier: kill, cut and corrupt everything; AYON must still end up right.

Runs only when asked: ``-m faults`` or ``KITSYNC_FAULTS=1`` (``scripts/test -m faults
tests/faults``, a step of ``.ci/run``). Randomised scenarios take their seed from
``KITSYNC_FAULT_SEED`` (default fixed) and print it when they fail, so any failure replays.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import database_dsn, own_database
from tests.faults._bed import FaultBed, fault_bed

SEED = int(os.environ.get("KITSYNC_FAULT_SEED", "20261128"))


def _faults_requested(config: pytest.Config) -> bool:
    return os.environ.get("KITSYNC_FAULTS") == "1" or "faults" in (config.option.markexpr or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _faults_requested(config):
        return
    skip = pytest.mark.skip(reason="fault tier: run with -m faults or KITSYNC_FAULTS=1")
    for item in items:
        if item.get_closest_marker("faults"):
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"fault tier seed: KITSYNC_FAULT_SEED={SEED}" if _faults_requested(config) else None


@pytest.fixture
def seed() -> int:
    return SEED


@pytest.fixture(scope="session")
def reference_dsn() -> Iterator[str]:
    """A database for the reference AYON projects (full syncs from scratch) of every scenario."""
    with own_database("kitsync_faults_ref_") as name:
        yield database_dsn(name)


@pytest.fixture
async def bed(
    pg_dsn: str, redis_url: str, redis_prefix: str, reference_dsn: str, tmp_path: Path
) -> AsyncIterator[FaultBed]:
    """A fault bed on the machine's Redis (the test's own prefix), no worker started yet."""
    async with fault_bed(pg_dsn, redis_url, redis_prefix, tmp_path, reference_dsn) as made:
        yield made
