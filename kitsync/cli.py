"""The ``kitsync`` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

import click

from kitsync import __version__
from kitsync.config import Need, Settings, load_settings, reveal
from kitsync.errors import ConfigError
from kitsync.logs import LogFormat, configure

EXIT_FAILED = 1
EXIT_CONFIG = 2


def _secrets(settings: Settings) -> list[str]:
    values = (
        settings.kitsu_password,
        settings.kitsu_bot_token,
        settings.ayon_api_key,
        settings.ayon_db_dsn,
        settings.redis_url,
        settings.webhook_secret,
    )
    secrets = [secret for value in values if (secret := reveal(value))]
    # A URL's password can surface on its own, e.g. in a driver's error message.
    passwords = [
        urlsplit(url).password
        for url in (reveal(settings.ayon_db_dsn), reveal(settings.redis_url))
        if url
    ]
    return secrets + [password for password in passwords if password]


def _settings(ctx: click.Context, need: Iterable[Need] = ()) -> Settings:
    """Load the settings once per run, or end with the list of problems (exit 2)."""
    try:
        settings = load_settings(need)
    except ConfigError as error:
        click.echo(str(error), err=True)
        ctx.exit(EXIT_CONFIG)
    level = ctx.obj["log_level"] or settings.log_level
    configure(level, ctx.obj["log_format"], secrets=_secrets(settings))
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kitsync")
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log lines as plain text or one JSON object per line.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Overrides KITSYNC_LOG_LEVEL.",
)
@click.pass_context
def main(ctx: click.Context, log_format: LogFormat, log_level: str | None) -> None:
    """kitsync keeps AYON in step with Kitsu.

    Settings come from the environment or a .env file in the current folder
    (see .env.example and the README's configuration table).
    """
    ctx.ensure_object(dict)
    ctx.obj["log_format"] = log_format
    ctx.obj["log_level"] = log_level.upper() if log_level else None


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check that Kitsu, AYON, AYON's database and Redis are reachable and usable.

    Prints one line per dependency, and exits 1 if any check fails.

    \b
    Example:
      $ kitsync check
      ok    Kitsu          https://kitsu.example.com/api: logged in, 12 projects visible
      FAIL  AYON           https://ayon.example.com: the API key was refused (AYON_API_KEY)
    """
    from kitsync.check import run_checks

    settings = _settings(ctx)
    results = asyncio.run(run_checks(settings))
    width = max(len(result.name) for result in results)
    for result in results:
        verdict = click.style("ok  ", fg="green") if result.ok else click.style("FAIL", fg="red")
        click.echo(f"{verdict}  {result.name:<{width}}  {result.detail}")
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)


WORKER_NEEDS: tuple[Need, ...] = ("kitsu", "ayon", "ayon_db", "redis")


@main.command()
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker processes; each reconciles one key at a time.",
)
@click.option(
    "-Q",
    "--queues",
    default="kitsync.events,kitsync.reconcile",
    show_default=True,
    help="Queues to take tasks from: kitsync.events (event reconciles), "
    "kitsync.reconcile (full project reconciles).",
)
@click.pass_context
def worker(ctx: click.Context, concurrency: int, queues: str) -> None:
    """Run a Celery worker: reconciles keys taken from Redis.

    Start as many as you like, on as many machines as you like, against the same Redis.

    \b
    Example:
      $ kitsync worker -c 4
      $ kitsync worker -Q kitsync.reconcile -c 1   # a node for full reconciles only
    """
    _settings(ctx, WORKER_NEEDS)
    from kitsync.worker.celery_app import app

    level = ctx.obj["log_level"] or "INFO"
    app.worker_main(
        [
            "worker",
            "--loglevel",
            level,
            "--concurrency",
            str(concurrency),
            "--queues",
            queues,
            "--without-gossip",
            "--without-mingle",
        ]
    )


@main.command()
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run the scheduler: the catch-up poller every KITSYNC_POLL_INTERVAL seconds and the
    recovery of lost tasks every minute. Run exactly one.

    \b
    Example:
      $ kitsync beat
    """
    _settings(ctx, WORKER_NEEDS)
    from kitsync.worker.celery_app import app

    level = ctx.obj["log_level"] or "INFO"
    app.start(["beat", "--loglevel", level])
