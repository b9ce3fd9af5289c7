"""`kitsync worker --metrics-port` makes a folder for its processes' metrics and removes it when
it stops; a folder the operator set in PROMETHEUS_MULTIPROC_DIR stays."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.fakes.serve import free_port
from tests.integration.processes import until

pytestmark = pytest.mark.integration


@asynccontextmanager
async def running_worker(env: dict[str, str], logs: Path) -> AsyncIterator[None]:
    """A worker with --metrics-port, from when it serves metrics and Celery is ready until it
    has stopped after a SIGTERM (as an operator stops it)."""
    port = free_port()
    log = logs / "worker.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kitsync", "worker", "-c", "1", "--metrics-port", str(port),
            env=env, cwd=logs, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip

    async def ready() -> bool:
        if " ready." not in log.read_text(errors="replace"):
            return False
        try:
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"http://127.0.0.1:{port}/metrics")
        except httpx.TransportError:
            return False
        return answer.status_code == 200

    try:
        await until(ready, logs, 60)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0, log.read_text(errors="replace")[-3000:]


@pytest.fixture
def env(pg_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tmp").mkdir()
    kept_out = ("KITSU_", "AYON_", "KITSYNC_", "PROMETHEUS_", "TMPDIR")
    return {k: v for k, v in os.environ.items() if not k.startswith(kept_out)} | {
        # Nothing is reconciled here: Kitsu and AYON are never called.
        "KITSU_URL": "http://127.0.0.1:9/api",
        "KITSU_BOT_TOKEN": "unused",
        "AYON_URL": "http://127.0.0.1:9",
        "AYON_API_KEY": "unused",
        "AYON_DB_DSN": pg_dsn,
        "KITSYNC_REDIS_URL": redis_url,
        "KITSYNC_REDIS_PREFIX": redis_prefix,
        "TMPDIR": str(tmp_path / "tmp"),  # where the worker makes its folder
    }


async def test_the_worker_removes_its_metrics_folder_when_it_stops(
    env: dict[str, str], tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    async with running_worker(env, tmp_path):
        made = list(temp.glob("kitsync-metrics-*"))
        assert len(made) == 1
        assert list(made[0].glob("*.db")), "the worker's processes write no metrics there"
    assert not made[0].exists()
    assert list(temp.glob("kitsync-metrics-*")) == []


async def test_a_metrics_folder_the_operator_set_stays(env: dict[str, str], tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    async with running_worker(env | {"PROMETHEUS_MULTIPROC_DIR": str(shared)}, tmp_path):
        assert list(shared.glob("*.db"))
    assert list(shared.glob("*.db"))
    assert list((tmp_path / "tmp").glob("kitsync-metrics-*")) == []
