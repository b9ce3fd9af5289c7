"""The roles of a kitsync deployment: ``worker``, ``beat`` (and ``receiver``, ``run``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kitsync.cli._common import settings_or_exit
from kitsync.cli._main import main
from kitsync.config import Need
from kitsync.worker.names import ALL_QUEUES

if TYPE_CHECKING:  # imported where a command runs: `kitsync --help` must not pay for them
    import threading

    import uvicorn

WORKER_NEEDS: tuple[Need, ...] = ("kitsu", "ayon", "redis")
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
            folder = tempfile.mkdtemp(prefix="kitsync-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
            os.environ[_OWN_METRICS_DIR] = folder
            os.execv(sys.executable, [sys.executable, "-m", "kitsync", *sys.argv[1:]])  # noqa: S606
        if own_folder := os.environ.pop(_OWN_METRICS_DIR, None):
            _remove_at_exit(own_folder)
        from kitsync.metrics import serve_worker_metrics
        from kitsync.worker.queue_metrics import QueueStateCollector, redis_queue_state

        serve_worker_metrics(metrics_port, QueueStateCollector(redis_queue_state(settings)))
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


# Set across the re-exec when the metrics folder is the worker's own, not one the operator set.
_OWN_METRICS_DIR = "_KITSYNC_OWN_METRICS_DIR"


def _remove_at_exit(folder: str) -> None:
    """Remove ``folder`` when this process exits, not when a prefork child (a fork that inherits
    the hook) does: its siblings still write there."""
    import atexit
    import os
    import shutil

    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)


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
    from kitsync.worker.celery_app import app
    from kitsync.worker.queue_metrics import QueueStateCollector, redis_queue_state
    from kitsync.worker.runtime import redis_key_queue
    from kitsync.worker.sink import CelerySink

    web = create_app(
        CelerySink(app, redis_key_queue(settings)),
        secret=reveal(settings.webhook_secret) or "",
        shared_metrics=QueueStateCollector(redis_queue_state(settings)),
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
    settings = settings_or_exit(ctx, ("kitsu", "ayon"))
    import threading

    import uvicorn

    from kitsync.config import reveal
    from kitsync.receiver import create_app
    from kitsync.worker.app import create_celery
    from kitsync.worker.keyqueue import KeyQueue
    from kitsync.worker.names import RECONCILE_ALL
    from kitsync.worker.queue_metrics import QueueStateCollector, queue_state, redis_queue_state
    from kitsync.worker.runtime import Runtime, redis_key_queue
    from kitsync.worker.sink import CelerySink

    runtime = Runtime(settings)
    app = create_celery(settings, runtime)
    secret = reveal(settings.webhook_secret)
    if secret:
        # The receiver runs on its own thread and loop: a Redis queue needs its own client there;
        # the in-process queue is shared, that is the point of it.
        queue: KeyQueue = runtime.queue() if runtime.single_process else redis_key_queue(settings)
        if runtime.single_process:

            async def last_poll() -> float | None:
                return runtime.last_poll

            shared = QueueStateCollector(lambda: queue_state(queue, last_poll))
        else:
            shared = QueueStateCollector(redis_queue_state(settings))
        web = create_app(CelerySink(app, queue), secret=secret, shared_metrics=shared)
        server = uvicorn.Server(
            uvicorn.Config(web, host=host, port=port, log_config=None, access_log=False)
        )
        receiver = threading.Thread(target=server.run, name="receiver", daemon=True)
        receiver.start()
        _until_listening(server, receiver, f"{host}:{port}")
    else:
        click.echo(
            "KITSYNC_WEBHOOK_SECRET is not set: receiver off, the poller brings events in", err=True
        )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    # A full reconcile first: it repairs whatever a crash or a long stop left behind.
    app.send_task(RECONCILE_ALL)
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


def _until_listening(server: uvicorn.Server, thread: threading.Thread, where: str) -> None:
    """Wait for the receiver to listen; stop `kitsync run` if it cannot (a port in use): uvicorn
    ends only its own thread then, and the Zou plugin's posts would be refused without a word."""
    import sys
    import time

    from kitsync.cli._common import EXIT_FAILED

    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            click.echo(f"kitsync run: the receiver cannot listen on {where} (in use?)", err=True)
            sys.exit(EXIT_FAILED)
        time.sleep(0.05)
