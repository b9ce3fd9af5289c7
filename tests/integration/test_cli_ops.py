"""`kitsync status` and `kitsync dlq` against the real Redis (under a test prefix)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap

import pytest
import redis
from click.testing import CliRunner

from kitsync.cli import main
from kitsync.redis_keys import RedisKeys
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.names import EVENTS_QUEUE

pytestmark = pytest.mark.integration

KEY = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d/shot/f48bffdc-4a40-4304-98f1-80af0adefec9"


@pytest.fixture
def env(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> str:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    for name, value in {
        "KITSYNC_REDIS_URL": redis_url,
        "KITSYNC_REDIS_PREFIX": redis_prefix,
        "KITSU_URL": "http://127.0.0.1:9/api",
        "KITSU_BOT_TOKEN": "token",
        "AYON_URL": "http://127.0.0.1:9",
        "AYON_API_KEY": "key",
        "AYON_DB_DSN": "postgresql://nobody@127.0.0.1:9/none",
    }.items():
        monkeypatch.setenv(name, value)
    return redis_prefix


def _dead_letter(redis_url: str, prefix: str) -> None:
    async def make() -> None:
        queue = RedisKeyQueue(redis_url, prefix=RedisKeys(prefix).key_queue)
        try:
            await queue.add([KEY])
            await queue.claim(KEY, "worker-1", 30)
            await queue.fail(KEY, "worker-1", "OperationFailed: name refused", retry_in=None)
        finally:
            await queue.close()

    asyncio.run(make())


def test_dlq_list_replay_drop_and_status(env: str, redis_url: str) -> None:
    runner = CliRunner()
    assert "no dead letters" in runner.invoke(main, ["dlq", "list"]).output
    _dead_letter(redis_url, env)

    listed = runner.invoke(main, ["dlq", "list"])
    assert listed.exit_code == 0 and KEY in listed.output and "name refused" in listed.output

    status = runner.invoke(main, ["status"])
    assert status.exit_code == 0, status.output
    assert "dead letters: 1" in status.output and "poller: never ran" in status.output
    assert "paired projects" in status.output  # AYON's database is down: said, not raised

    usage = runner.invoke(main, ["dlq", "replay"])
    assert usage.exit_code == 2 and "--all" in usage.output

    replayed = runner.invoke(main, ["dlq", "replay", "--all"])
    assert replayed.exit_code == 0 and "replayed 1 keys" in replayed.output
    client = redis.Redis.from_url(redis_url)
    try:
        assert (
            client.llen(RedisKeys(env).broker_queue(EVENTS_QUEUE)) == 1
        )  # one reconcile task sent
    finally:
        client.close()
    assert "no dead letters" in runner.invoke(main, ["dlq", "list"]).output

    _dead_letter(redis_url, env)
    dropped = runner.invoke(main, ["dlq", "drop", KEY])
    assert dropped.exit_code == 0 and "dropped 1 keys" in dropped.output


@pytest.mark.parametrize(
    "command", [["status"], ["dlq", "list"], ["dlq", "replay", "--all"], ["dlq", "drop", "--all"]]
)
def test_without_redis_each_command_says_so(
    env: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("KITSYNC_REDIS_URL", "redis://127.0.0.1:9/0")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1 and "Redis is unreachable" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_status_shows_the_budgets_and_their_use(env: str, redis_url: str) -> None:
    # A process takes a slot, asks for a pause and dies holding the slot (os._exit skips every
    # finally): only its lease gives the slot back. Done in-process, the slot's generator is
    # finalised (and the slot released) whenever the garbage collector gets to it.
    holder = textwrap.dedent(
        f"""
        import asyncio, os
        import redis.asyncio as aioredis
        from kitsync.budget import RedisBudget

        async def main():
            client = aioredis.Redis.from_url({redis_url!r})
            budget = RedisBudget(
                client, "ayon", 8, prefix={env!r}, lease_seconds=60, wait_seconds=60
            )
            async with budget.slot():
                await budget.pause(30)
                os._exit(0)

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", holder], check=True, timeout=60)
    status = CliRunner().invoke(main, ["status"], env={"KITSYNC_KITSU_MAX_REQUESTS": "3"})
    assert status.exit_code == 0, status.output
    assert re.search(r"  ayon: 1 of 8, paused (29|30) s more\n", status.output), status.output
    assert "  kitsu: 0 of 3\n" in status.output
