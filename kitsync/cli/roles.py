"""The roles of a kitsync deployment: ``worker``, ``beat`` (and ``receiver``, ``run``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from kitsync.cli._common import settings_or_exit
from kitsync.cli._main import main
from kitsync.config import Need
from kitsync.worker.app import ALL_QUEUES

WORKER_NEEDS: tuple[Need, ...] = ("kitsu", "ayon", "ayon_db", "redis")
F = TypeVar("F", bound=Callable[..., Any])


def _concurrency(text: str) -> Callable[[F], F]:
    return click.option(
        "-c", "--concurrency", type=click.IntRange(1, 64), default=2, show_default=True, help=text
    )


def _listen(text: str) -> Callable[[F], F]:
    def options(command: F) -> F:
        port = click.option(
            "--port", type=click.IntRange(1, 65535), default=8080, show_default=True
        )
        host = click.option("--host", default="0.0.0.0", show_default=True, help=text)  # noqa: S104
        return host(port(command))

    return options


@main.command()
@_concurrency("Worker processes; each reconciles one key at a time.")
@click.option(
    "-Q",
    "--queues",
    default=ALL_QUEUES,
    show_default=True,
    help="Queues to take tasks from: kitsync.events (event reconciles), "
    "kitsync.reconcile (full project reconciles).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics of all this worker's processes on this port.",
)
@click.pass_context
def worker(ctx: click.Context, concurrency: int, queues: str, metrics_port: int | None) -> None:
    """Run a Celery worker: reconciles keys taken from Redis.

    Start as many as you like, on as many machines as you like, against the same Redis.

    \b
    Example:
      $ kitsync worker -c 4 --metrics-port 9100
      $ kitsync worker -Q kitsync.reconcile -c 1   # a node for full reconciles only
    """
    settings = settings_or_exit(ctx, WORKER_NEEDS)
    if metrics_port is not None:
        import os
        import sys
        import tempfile

        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Metrics must be born knowing where the worker processes share their values, and
            # this process made them already (on import): start again with the folder set.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kitsync-metrics-")
            os.execv(sys.executable, [sys.executable, "-m", "kitsync", *sys.argv[1:]])  # noqa: S606
        from kitsync.metrics import serve_worker_metrics

        serve_worker_metrics(metrics_port)
    from kitsync.worker.celery_app import app

    level = ctx.obj["log_level"] or settings.log_level
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
    settings = settings_or_exit(ctx, WORKER_NEEDS)
    from kitsync.worker.celery_app import app

    level = ctx.obj["log_level"] or settings.log_level
    app.start(["beat", "--loglevel", level])


@main.command()
@_listen("Address to listen on.")
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
    from kitsync.worker.app import redis_key_queue
    from kitsync.worker.celery_app import app
    from kitsync.worker.sink import CelerySink

    web = create_app(
        CelerySink(app, redis_key_queue(settings)), secret=reveal(settings.webhook_secret) or ""
    )
    uvicorn.run(web, host=host, port=port, log_config=None, access_log=False)


@main.command()
@_listen("Receiver address.")
@_concurrency("Worker processes (with Redis only; without Redis, one).")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, concurrency: int) -> None:
    """Everything in one process: receiver, poller, worker and beat, for a studio with one machine.

    Without KITSYNC_REDIS_URL it needs no Redis: tasks wait in files under KITSYNC_STATE_DIR
    (they survive a restart) and keys are coordinated in the process. With it, this is the same as
    running `kitsync receiver`, `kitsync worker` and `kitsync beat` side by side. Without
    KITSYNC_WEBHOOK_SECRET the receiver stays off and the poller alone brings events in.

    \b
    Example:
      $ kitsync run --port 8080
    """
    settings = settings_or_exit(ctx, ("kitsu", "ayon", "ayon_db"))
    import threading

    import uvicorn

    from kitsync.config import reveal
    from kitsync.receiver import create_app
    from kitsync.worker.app import create_celery, redis_key_queue
    from kitsync.worker.keyqueue import KeyQueue
    from kitsync.worker.runtime import Runtime
    from kitsync.worker.sink import CelerySink

    runtime = Runtime(settings)
    app = create_celery(settings, runtime)
    secret = reveal(settings.webhook_secret)
    if secret:
        # The receiver runs on its own thread and loop: a Redis queue needs its own client there;
        # the in-process queue is shared, that is the point of it.
        queue: KeyQueue = runtime.queue() if runtime.single_process else redis_key_queue(settings)
        web = create_app(CelerySink(app, queue), secret=secret)
        server = uvicorn.Server(
            uvicorn.Config(web, host=host, port=port, log_config=None, access_log=False)
        )
        threading.Thread(target=server.run, name="receiver", daemon=True).start()
    else:
        click.echo(
            "KITSYNC_WEBHOOK_SECRET is not set: receiver off, the poller brings events in", err=True
        )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    # A full reconcile first: it repairs whatever a crash or a long stop left behind.
    app.send_task("kitsync.reconcile_all")
    level = ctx.obj["log_level"] or settings.log_level
    app.worker_main(
        [
            "worker",
            "--beat",
            "--schedule-filename",
            str(settings.state_dir / "beat-schedule"),
            "--loglevel",
            level,
            "--pool",
            "solo" if runtime.single_process else "prefork",
            "--concurrency",
            "1" if runtime.single_process else str(concurrency),
            "--queues",
            ALL_QUEUES,
            "--without-gossip",
            "--without-mingle",
        ]
    )
