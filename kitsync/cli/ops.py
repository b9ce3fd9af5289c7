"""Operating a running kitsync: ``status`` and ``dlq list | replay | drop``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kitsync.ayon_to_kitsu import RedisSyncState, describe_direction
from kitsync.cli._common import EXIT_FAILED, settings_or_exit
from kitsync.cli._main import main
from kitsync.config import Settings, reveal
from kitsync.errors import TransientError
from kitsync.redis_keys import RedisKeys
from kitsync.worker import names
from kitsync.worker.clock import redis_now
from kitsync.worker.cursor import RedisCursor
from kitsync.worker.keyqueue import KeyQueue, KeyQueueError, RedisKeyQueue

T = TypeVar("T")


def _queue(settings: Settings) -> tuple[aioredis.Redis, KeyQueue]:
    redis = aioredis.Redis.from_url(reveal(settings.redis_url) or "")
    return redis, RedisKeyQueue(redis, prefix=RedisKeys(settings.redis_prefix).key_queue)


def _on_redis(command: str, work: Coroutine[Any, Any, T]) -> T:
    """Run a command's work on Redis; Redis failing is one line and exit 1, not a traceback."""
    try:
        return asyncio.run(work)
    except (KeyQueueError, TransientError, RedisError, OSError) as error:
        click.echo(f"kitsync {command}: Redis is unreachable: {error}", err=True)
        sys.exit(EXIT_FAILED)


def _on_queue(command: str, settings: Settings, work: Callable[[KeyQueue], Awaitable[T]]) -> T:
    """Run one key-queue call with a client of its own, closed afterwards."""

    async def run() -> T:
        redis, queue = _queue(settings)
        try:
            return await work(queue)
        finally:
            await redis.aclose()

    return _on_redis(command, run())


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show queue depths, keys in flight, dead letters, poller lag, budgets, paired projects.

    \b
    Example:
      $ kitsync status
    """
    settings = settings_or_exit(ctx, ("redis",))
    click.echo("\n".join(_on_redis("status", _status(settings))))


async def _status(settings: Settings) -> list[str]:
    redis, queue = _queue(settings)
    keys = RedisKeys(settings.redis_prefix)
    try:
        stats = await queue.stats()
        depths = {name: await redis.llen(keys.broker_queue(name)) for name in names.QUEUES}
        cursor = await RedisCursor(redis, keys).get()
        last_poll = await redis.get(keys.poll_last)
        polled_ago = await redis_now(redis) - float(last_poll) if last_poll else None
        dead = await queue.dead_letters()
        budget_lines = await _budgets(settings, redis)
        drain = await RedisSyncState(redis, settings.redis_prefix).last_drain()
    finally:
        await redis.aclose()
    lines = [f"broker queues: {', '.join(f'{k} {v}' for k, v in depths.items())}"]
    lines.append(
        f"keys: {stats.queued} queued ({stats.retrying} waiting to retry), "
        f"{len(stats.processing)} in flight, {stats.dirty} dirty"
    )
    for item in stats.processing:
        state = "lease expired" if item.expires_in < 0 else f"{item.age:.0f} s"
        lines.append(f"  {item.key}  on {item.owner}  ({state})")
    if polled_ago is None:
        lines.append("poller: never ran")
    else:
        read_to = cursor.isoformat() if cursor else "none yet"
        lines.append(
            f"poller: last poll {polled_ago:.0f} s ago (lag), read Kitsu's events up to {read_to}"
        )
    direction = describe_direction(settings.ayon_to_kitsu, drain, datetime.now(UTC))
    lines.append(f"AYON -> Kitsu: {direction}")
    lines.append(f"dead letters: {len(dead)}")
    for letter in dead[-5:]:
        lines.append(f"  {letter.key}: {letter.error}")
    lines += budget_lines
    lines += await _paired(settings)
    return lines


async def _budgets(settings: Settings, redis: aioredis.Redis) -> list[str]:
    from kitsync.budget import redis_budgets

    lines = ["budgets (requests in flight, all kitsync processes):"]
    for usage in await redis_budgets(settings, redis).usage():
        paused = f", paused {usage.paused_for:.0f} s more" if usage.paused_for else ""
        lines.append(f"  {usage.server}: {usage.in_use} of {usage.limit}{paused}")
    return lines


async def _paired(settings: Settings) -> list[str]:
    if settings.ayon_url is None or settings.ayon_api_key is None:
        return ["paired projects: AYON_URL / AYON_API_KEY not set"]
    from kitsync.ayon import AyonError, AyonReader
    from kitsync.reconcile.context import open_reader

    lines: list[str] = []
    try:
        async with open_reader(settings) as reader:
            paired = await reader.paired_projects()
            if isinstance(reader, AyonReader):  # only the database path holds connections
                connections = await reader.kitsync_connections()
                lines.append(
                    f"AYON database: {connections} kitsync connections "
                    f"(at most {settings.ayon_db_pool} per worker process)"
                )
    except AyonError as error:
        return [f"paired projects: {error}"]
    return [*lines, f"paired projects: {len(paired)}"] + [
        f"  Kitsu {kitsu} -> AYON {ayon}" for kitsu, ayon in sorted(paired.items())
    ]


@main.group()
def dlq() -> None:
    """Dead letters: keys whose reconcile failed for good, with the error."""


@dlq.command("list")
@click.pass_context
def dlq_list(ctx: click.Context) -> None:
    """List dead letters, oldest first.

    \b
    Example:
      $ kitsync dlq list
    """
    settings = settings_or_exit(ctx, ("redis",))
    lines = [
        f"{datetime.fromtimestamp(d.failed_at, UTC).isoformat(timespec='seconds')}  "
        f"{d.key}  ({d.attempts} attempts)  {d.error}"
        for d in _on_queue("dlq list", settings, lambda queue: queue.dead_letters())
    ]
    click.echo("\n".join(lines) if lines else "no dead letters")


@dlq.command("replay")
@click.argument("keys", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Replay every dead letter.")
@click.pass_context
def dlq_replay(ctx: click.Context, keys: tuple[str, ...], everything: bool) -> None:
    """Queue dead letters again (after fixing their cause).

    \b
    Example:
      $ kitsync dlq replay d6b4.../shot/f48b...
      $ kitsync dlq replay --all
    """
    settings = settings_or_exit(ctx, ("kitsu", "ayon", "redis"))
    if not keys and not everything:
        raise click.UsageError("name the keys to replay, or give --all")
    from kitsync.worker.celery_app import app

    replayed = _on_queue(
        "dlq replay", settings, lambda queue: queue.replay(None if everything else keys)
    )
    for key in replayed:
        app.send_task(names.RECONCILE, args=(key,))
    click.echo(f"replayed {len(replayed)} keys")


@dlq.command("drop")
@click.argument("keys", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Drop every dead letter.")
@click.pass_context
def dlq_drop(ctx: click.Context, keys: tuple[str, ...], everything: bool) -> None:
    """Forget dead letters.

    \b
    Example:
      $ kitsync dlq drop --all
    """
    settings = settings_or_exit(ctx, ("redis",))
    if not keys and not everything:
        raise click.UsageError("name the keys to drop, or give --all")

    dropped = _on_queue(
        "dlq drop", settings, lambda queue: queue.drop(None if everything else keys)
    )
    click.echo(f"dropped {len(dropped)} keys")
