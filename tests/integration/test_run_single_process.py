"""`kitsync run` without Redis: one process, files for the broker, everything end to end.

A real subprocess against the fake Kitsu and the fake AYON (real Postgres); killed with SIGKILL
and started again, it carries on from its files."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.expected import FILM_TREE
from tests.fakes.ayon import SERVICE_KEY
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import free_port
from tests.integration.processes import post_events, until
from tests.integration.sync_bed import SyncBed, sync_bed

# The quick start's way (AYON read through its API, no AYON_DB_DSN) and the database's.
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("read_path")]

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
SH0010 = "f48bffdc-4a40-4304-98f1-80af0adefec9"
SECRET = "single-process-secret"


@asynccontextmanager
async def kitsync_run(bed: SyncBed, pg_dsn: str, state: Path, port: int) -> AsyncIterator[int]:
    env = _run_env(bed, pg_dsn, state)
    log = (state.parent / f"run-{port}.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kitsync", "run", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=log, stderr=log, start_new_session=True, cwd=state.parent,
    )  # fmt: skip
    try:
        await until(lambda: _healthy(port), state.parent, 30)
        yield process.pid
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _run_env(bed: SyncBed, pg_dsn: str, state: Path) -> dict[str, str]:
    """``kitsync run``'s environment: this machine's, without any setting of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITSU_", "AYON_", "KITSYNC_"))}
    env |= {
        "KITSU_URL": bed.kitsu_url,
        "KITSU_BOT_TOKEN": BOT_TOKEN,
        "AYON_URL": bed.ayon_url,
        "AYON_API_KEY": SERVICE_KEY,
        "KITSYNC_WEBHOOK_SECRET": SECRET,
        "KITSYNC_STATE_DIR": str(state),
        "KITSYNC_POLL_INTERVAL": "2",
    }
    if bed.read_path == "sql":
        env["AYON_DB_DSN"] = pg_dsn
    return env


async def _healthy(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def test_run_without_redis_end_to_end_and_after_a_kill(pg_dsn: str, tmp_path: Path) -> None:
    fake = FakeKitsu.from_fixtures("film", "after_build")
    state = tmp_path / "state"
    async with sync_bed(pg_dsn, fake, FILM) as bed:
        port = free_port()
        async with kitsync_run(bed, pg_dsn, state, port) as pid:
            build = [e for e in fake.events() if e.get("project_id") == FILM]
            assert (await post_events(f"http://127.0.0.1:{port}", SECRET, build)).status_code == 202

            async def converged() -> bool:
                return await bed.tree() == FILM_TREE and len(await bed.tasks()) == 48

            await until(converged, tmp_path)
            os.killpg(pid, signal.SIGKILL)  # no clean shutdown at all

        mark = len(fake.events())
        fake.update_entity(SH0010, name="SH0011")
        # The receiver is down: the change arrives through the poller after the restart.
        async with kitsync_run(bed, pg_dsn, state, free_port()):

            async def renamed() -> bool:
                return "sequences/sq010/sh0011" in await bed.tree()

            await until(renamed, tmp_path)
        assert len(fake.events()) > mark


async def test_run_stops_when_its_receiver_cannot_listen(pg_dsn: str, tmp_path: Path) -> None:
    """A port in use ended only uvicorn's thread: kitsync ran on, the Zou plugin's posts refused
    without a word. It stops now, saying why."""
    state = tmp_path / "state"
    state.mkdir()
    async with sync_bed(pg_dsn, FakeKitsu.from_fixtures("film", "after_build"), FILM) as bed:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = _run_env(bed, pg_dsn, state)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kitsync", "run", "--host", "127.0.0.1", "--port", str(port),
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path, start_new_session=True,
            )  # fmt: skip
            try:
                output, _ = await asyncio.wait_for(process.communicate(), 60)
            finally:
                if process.returncode is None:
                    os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1, output.decode()
    assert f"the receiver cannot listen on 127.0.0.1:{port}" in output.decode()
