"""Operating a running kitsync: ``status`` and ``dlq list | replay | drop``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click
import redis.asyncio as aioredis

from kitsync.cli._common import EXIT_FAILED, settings_or_exit
from kitsync.cli._main import main
from kitsync.config import Settings, reveal
from kitsync.worker.app import EVENTS_QUEUE, RECONCILE_QUEUE, key_queue_prefix
from kitsync.worker.cursor import RedisCursor
from kitsync.worker.keyqueue import KeyQueue, KeyQueueError, RedisKeyQueue

T = TypeVar("T")


def _queue(settings: Settings) -> tuple[aioredis.Redis, KeyQueue]:
    redis = aioredis.Redis.from_url(reveal(settings.redis_url) or "")
    return redis, RedisKeyQueue(redis, prefix=key_queue_prefix(settings))


def _on_queue(settings: Settings, work: Callable[[KeyQueue], Awaitable[T]]) -> T:
    """Run one key-queue call with a client of its own, closed afterwards."""

    async def run() -> T:
        redis, queue = _queue(settings)
        try:
            return await work(queue)
        finally:
            await redis.aclose()

    return asyncio.run(run())


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show queue depths, keys in flight, dead letters, poller lag and paired projects.

    \b
    Example:
      $ kitsync status
    """
    settings = settings_or_exit(ctx, ("redis",))
    try:
        lines = asyncio.run(_status(settings))
    except (KeyQueueError, OSError) as error:
        click.echo(f"kitsync status: Redis is unreachable: {error}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo("\n".join(lines))


async def _status(settings: Settings) -> list[str]:
    redis, queue = _queue(settings)
    try:
        stats = await queue.stats()
        depths = {
            name: await redis.llen(f"{settings.redis_prefix}celery:{name}")
            for name in (EVENTS_QUEUE, RECONCILE_QUEUE)
        }
        cursor = await RedisCursor(redis, settings.redis_prefix).get()
        last_poll = await redis.get(f"{settings.redis_prefix}poll:last")
        dead = await queue.dead_letters()
    finally:
        await redis.aclose()
    now = datetime.now(UTC).replace(tzinfo=None)
    lines = [f"broker queues: {', '.join(f'{k} {v}' for k, v in depths.items())}"]
    lines.append(
        f"keys: {stats.queued} queued, {len(stats.processing)} in flight, {stats.dirty} dirty"
    )
    for item in stats.processing:
        state = "lease expired" if item.expires_in < 0 else f"{item.age:.0f} s"
        lines.append(f"  {item.key}  on {item.owner}  ({state})")
    if cursor is None:
        lines.append("poller: never ran")
    else:
        lag = (now - cursor).total_seconds()
        polled = last_poll.decode() if isinstance(last_poll, bytes) else last_poll
        lines.append(f"poller: cursor {cursor.isoformat()} (lag {lag:.0f} s), last poll {polled}")
    lines.append(f"dead letters: {len(dead)}")
    for letter in dead[-5:]:
        lines.append(f"  {letter.key}: {letter.error}")
    lines += await _paired(settings)
    return lines


async def _paired(settings: Settings) -> list[str]:
    if settings.ayon_db_dsn is None:
        return ["paired projects: AYON_DB_DSN not set"]
    from kitsync.ayon import AyonError, AyonReader, connect

    try:
        pool = await connect(reveal(settings.ayon_db_dsn) or "", max_size=1)
    except AyonError as error:
        return [f"paired projects: {error}"]
    try:
        paired = await AyonReader(pool).paired_projects()
    except AyonError as error:
        return [f"paired projects: {error}"]
    finally:
        await pool.close()
    return [f"paired projects: {len(paired)}"] + [
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
        for d in _on_queue(settings, lambda queue: queue.dead_letters())
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
    settings = settings_or_exit(ctx, ("kitsu", "ayon", "ayon_db", "redis"))
    if not keys and not everything:
        raise click.UsageError("name the keys to replay, or give --all")
    from kitsync.worker.celery_app import app

    replayed = _on_queue(settings, lambda queue: queue.replay(None if everything else keys))
    for key in replayed:
        app.send_task("kitsync.reconcile", args=(key,))
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

    dropped = _on_queue(settings, lambda queue: queue.drop(None if everything else keys))
    click.echo(f"dropped {len(dropped)} keys")
