"""The roles of a kitsync deployment: ``worker``, ``beat`` (and ``receiver``, ``run``)."""

from __future__ import annotations

import click

from kitsync.cli._common import settings_or_exit
from kitsync.cli._main import main
from kitsync.config import Need

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
    settings_or_exit(ctx, WORKER_NEEDS)
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
    settings_or_exit(ctx, WORKER_NEEDS)
    from kitsync.worker.celery_app import app

    level = ctx.obj["log_level"] or "INFO"
    app.start(["beat", "--loglevel", level])


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.pass_context
def receiver(ctx: click.Context, host: str, port: int) -> None:
    """Run the webhook receiver: takes events from the Zou plugin and queues them in Redis.

    POST /kitsu/events (signed with KITSYNC_WEBHOOK_SECRET), GET /healthz.

    \b
    Example:
      $ kitsync receiver --port 8080
    """
    settings = settings_or_exit(ctx, (*WORKER_NEEDS, "webhook"))
    import uvicorn

    from kitsync.config import reveal
    from kitsync.receiver import create_app
    from kitsync.worker.app import key_queue_prefix
    from kitsync.worker.celery_app import app
    from kitsync.worker.keyqueue import RedisKeyQueue
    from kitsync.worker.sink import CelerySink

    queue = RedisKeyQueue(reveal(settings.redis_url) or "", prefix=key_queue_prefix(settings))
    web = create_app(CelerySink(app, queue), secret=reveal(settings.webhook_secret) or "")
    uvicorn.run(web, host=host, port=port, log_config=None, access_log=False)
