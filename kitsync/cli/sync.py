"""``kitsync pair`` and ``kitsync sync``: pair a Kitsu project with AYON, reconcile it whole."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, ExitStack
from typing import TypeVar

import asyncpg
import click
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kitsync.ayon import AyonError
from kitsync.cli._common import EXIT_CONFIG, EXIT_FAILED, settings_or_exit
from kitsync.cli._main import main
from kitsync.config import Need, Settings, reveal
from kitsync.errors import ConfigError, KitsyncError
from kitsync.kitsu import KitsuError
from kitsync.reconcile import (
    Pairing,
    ProjectReport,
    SyncContext,
    find_kitsu_project,
    open_context,
    pair_project,
    reconcile_project,
)
from kitsync.reconcile.progress import PhaseMeter
from kitsync.redis_keys import RedisKeys

NEEDS: tuple[Need, ...] = ("kitsu", "ayon")
T = TypeVar("T")


@main.command()
@click.argument("kitsu_project")
@click.option(
    "--ayon-project",
    metavar="NAME",
    help="The AYON project to pair with (created if missing). "
    "Default: made from the Kitsu project's name, e.g. 'My Show' -> my_show.",
)
@click.option("-v", "--verbose", is_flag=True, help="List every change of the first sync.")
@click.pass_context
def pair(ctx: click.Context, kitsu_project: str, ayon_project: str | None, verbose: bool) -> None:
    """Pair a Kitsu project with an AYON project, then sync it whole.

    KITSU_PROJECT is the Kitsu project's name or id. The AYON project is created if it does not
    exist (AYON's default anatomy), gets the folder types, task types and statuses Kitsu needs,
    and is marked with data.kitsuProjectId. Pairing refuses a Kitsu project already paired with
    another AYON project, and an AYON project paired with another Kitsu project. Pairing again is
    safe: it tops up the anatomy and syncs.

    Exit codes: 0 paired and in step, 1 refused or some entities failed, 2 configuration.

    \b
    Examples:
      $ kitsync pair "My Show"
      $ kitsync pair 5f0e3c1a-1b2c-4d5e-8f90-123456789abc --ayon-project myshow
    """
    settings = settings_or_exit(ctx, NEEDS)

    async def run(sync: SyncContext) -> tuple[Pairing, ProjectReport]:
        await sync.writer.me()  # AYON's REST API answers, with this key, before any change
        found = await find_kitsu_project(sync, kitsu_project)
        pairing = await pair_project(sync, found, ayon_project)
        click.echo(f"{pairing.describe()}; syncing it", err=True)
        with ExitStack() as stack:
            report = await reconcile_project(
                sync, found.id, progress=_Progress(stack), itemize=verbose
            )
        return pairing, report

    pairing, report = _run(ctx, settings, run)
    click.echo(pairing.describe())
    _show(report, verbose)
    _hand_over(settings, report)
    if report.failures:
        ctx.exit(EXIT_FAILED)


@main.command()
@click.argument("project")
@click.option("--dry-run", is_flag=True, help="Plan only: print what would change, write nothing.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Also list every change, one per line, and notes."
)
@click.pass_context
def sync(ctx: click.Context, project: str, dry_run: bool, verbose: bool) -> None:
    """Reconcile a whole project: make its AYON project match Kitsu.

    PROJECT is the Kitsu project's name or id, or the name of the AYON project paired with it.
    Creates, updates, moves, deactivates and deletes folders and tasks, adds missing task
    types and statuses, and converges breakdown links. A project already in step gets no write.
    An entity AYON refuses is reported and the rest still syncs.

    Exit codes: 0 in step (or synced), 1 some entities failed (listed) or the project, Kitsu or
    AYON could not be reached or found, 2 configuration.

    \b
    Examples:
      $ kitsync sync "My Show" --dry-run
      Kitsu project 5f0e... -> AYON project my_show: would 12 create folder, 30 create task
      $ kitsync sync my_show --dry-run -v     # every planned change, one per line
      $ kitsync sync my_show
    """
    settings = settings_or_exit(ctx, NEEDS)

    async def run(sync: SyncContext) -> ProjectReport:
        if not dry_run:
            await sync.writer.me()  # fail early, before a long read, if AYON cannot take writes
        found = await find_kitsu_project(sync, project)
        with ExitStack() as stack:
            progress = None if dry_run else _Progress(stack)
            return await reconcile_project(
                sync, found.id, dry_run=dry_run, progress=progress, itemize=verbose
            )

    report = _run(ctx, settings, run)
    _show(report, verbose)
    _hand_over(settings, report)
    if report.failures:
        ctx.exit(EXIT_FAILED)


class _Progress:
    """The reconcile's progress on stderr: each phase as it starts, then its count, time and
    rate; a bar with the rate while writing."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._meter = PhaseMeter()
        self._bar: ExitStack | None = None
        self._shown = 0
        self._update: Callable[[int, str], None] = lambda _, __: None
        self._phase: str | None = None

    def __call__(self, done: int, total: int, phase: str) -> None:
        ended = self._meter.update(done, total, phase)
        if ended is not None:
            self._close()
            click.echo(f"  {ended.describe()}", err=True)
        starts, self._phase = ended is not None or phase != self._phase, phase
        current = self._meter.current
        if current is None:
            return
        if phase != "writing":
            if starts:
                click.echo(f"{current.label}...", err=True)
            return
        if not total:
            return
        if self._bar is None:
            self._bar = self._stack.enter_context(ExitStack())
            bar = self._bar.enter_context(
                click.progressbar(
                    length=total,
                    label=current.label,
                    file=sys.stderr,
                    show_pos=True,
                    item_show_func=lambda rate: rate,
                )
            )
            self._update, self._shown = bar.update, 0
        self._update(done - self._shown, f"{current.rate:,.0f}/s")
        self._shown = done

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()  # the bar ends its line
            self._bar = None


def _run(ctx: click.Context, settings: Settings, work: Callable[[SyncContext], Awaitable[T]]) -> T:
    """Run ``work`` with the clients; user-facing errors end the command with one line."""

    async def with_context() -> T:
        async with AsyncExitStack() as stack:
            locks = None
            if settings.redis_url is not None:
                # The workers' locks: an anatomy change made here must not race one of theirs.
                from kitsync.worker.locks import RedisLocks

                redis = aioredis.Redis.from_url(reveal(settings.redis_url) or "")
                stack.push_async_callback(redis.aclose)
                locks = RedisLocks(redis, RedisKeys(settings.redis_prefix))
            sync = await stack.enter_async_context(open_context(settings, locks=locks))
            return await work(sync)

    try:
        return asyncio.run(with_context())
    except ConfigError as error:
        click.echo(f"error: {error}", err=True)
        ctx.exit(EXIT_CONFIG)
    except KitsyncError as error:
        click.echo(f"error: {_explain(error, settings)}", err=True)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        # Refused logins, missing databases: the DSN's password is never in these messages.
        click.echo(
            f"error: AYON's database (AYON_DB_DSN): {type(error).__name__}: {error}", err=True
        )
    ctx.exit(EXIT_FAILED)


def _hand_over(settings: Settings, report: ProjectReport) -> None:
    """The keys the run hands back (Kitsu changed them while it wrote, or they differ in a
    field synced both ways): queued for the workers when there is a Redis, else said."""
    keys = report.follow_ups
    if not keys:
        return
    if settings.redis_url is None:
        click.echo(
            f"{len(keys)} keys changed in Kitsu while this ran, or differ in a field synced both "
            "ways: `kitsync run` reconciles them; or run this again",
            err=True,
        )
        return
    from kitsync.worker.app import create_celery
    from kitsync.worker.runtime import Runtime
    from kitsync.worker.scheduling import trigger

    runtime = Runtime(settings)
    create_celery(settings, runtime)
    try:
        trigger(runtime, keys)
    except (KitsyncError, RedisError, OSError) as error:
        click.echo(f"{len(keys)} keys to reconcile again could not be queued: {error}", err=True)
        return
    finally:
        runtime.close()
    click.echo(f"{len(keys)} keys changed meanwhile, queued for the workers", err=True)


def _explain(error: KitsyncError, settings: Settings) -> str:
    if isinstance(error, KitsuError):
        return f"Kitsu ({settings.kitsu_url}): {error}"
    if isinstance(error, AyonError):
        return f"AYON ({settings.ayon_url}): {error}"
    return str(error)


def _show(report: ProjectReport, verbose: bool) -> None:
    click.echo(report.describe())
    if report.changes:
        width = max(len(what) for what in report.changes)
        for what, count in report.changes.items():
            click.echo(f"  {what:<{width}}  {count:>7}")
    if verbose:
        for line in report.planned:
            click.echo(f"    {line}")
        for note in report.notes:
            click.echo(f"  note: {note}")
    elif report.notes:
        click.echo(f"  {len(report.notes)} notes (-v shows them)")
    if report.failures:
        click.echo(f"{len(report.failures)} could not be written:")
        for failure in report.failures:
            click.echo(f"  FAILED {failure.describe()}")
