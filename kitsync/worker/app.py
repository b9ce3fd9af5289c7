"""The Celery application: broker, queues, reliability settings, beat schedule.

Reliability (see docs/DESIGN.md, "Reliability contract"): a task is acknowledged only after it
ran (``acks_late``) and is given back to the broker when its worker process dies; a worker takes
one task at a time (``prefetch_multiplier=1``), so a long one never holds others hostage; the
broker's visibility timeout is longer than any task plus its longest retry delay.
"""

from __future__ import annotations

from celery import Celery
from kombu.entity import Exchange, Queue

from kitsync.config import Settings, reveal
from kitsync.redis_keys import RedisKeys
from kitsync.worker import file_transport, names, tasks, transport
from kitsync.worker.failures import MAX_DELAY
from kitsync.worker.runtime import Runtime

VISIBILITY_TIMEOUT = 3600
assert VISIBILITY_TIMEOUT > 2 * MAX_DELAY


def _queue(name: str) -> Queue:
    """A direct queue as Celery creates one it was not told of (kombu is untyped)."""
    return Queue(name, Exchange(name), routing_key=name)  # type: ignore[no-untyped-call]


def create_celery(settings: Settings, runtime: Runtime | None = None) -> Celery:
    """A configured Celery app with kitsync's tasks registered on it.

    With ``KITSYNC_REDIS_URL`` the broker is Redis. Without it (``kitsync run`` on one machine)
    it is kombu's filesystem transport under ``KITSYNC_STATE_DIR``: queued tasks survive a
    restart; a task taken but not finished is put back on a clean shutdown (not on a kill: the
    full reconcile at start-up repairs that).
    """
    app = Celery("kitsync", broker=reveal(settings.redis_url), set_as_current=False)
    if settings.redis_url is None:
        folder = settings.state_dir / "broker"
        for part in ("processed", "control"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        app.conf.broker_url = "filesystem://"
        # Woken by this process's publishes instead of polling once a second (see the module).
        app.conf.broker_transport = file_transport.TRANSPORT
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
        }
    else:
        # kombu's Redis transport, fixed so a worker survives a Redis restart (see the module).
        transport.install()
        app.conf.broker_transport_options = {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            # Every broker key under kitsync's prefix, beside the key queue's.
            "global_keyprefix": RedisKeys(settings.redis_prefix).celery,
        }
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # Logging is kitsync's (format, level, secret scrubbing), set before the worker starts
        # and inherited by its pool processes; Celery must not replace it.
        worker_hijack_root_logger=False,
        task_default_queue=names.EVENTS_QUEUE,
        # Declared (as Celery would create them), so Flower's Broker page lists every queue
        # with its length even before a worker has answered its inspect.
        task_queues=[_queue(name) for name in names.QUEUES],
        task_routes={
            names.RECONCILE_PROJECT: {"queue": names.RECONCILE_QUEUE},
            names.POLL: {"queue": names.POLL_QUEUE},
            names.AYON_EVENTS: {"queue": names.POLL_QUEUE},
        },
        # Flower shows tasks from these events.
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_soft_time_limit=300,
        task_time_limit=360,
        beat_schedule={
            "kitsync-poll": {
                "task": names.POLL,
                "schedule": settings.poll_interval,
                # Polls that wait (behind a backlog) expire rather than pile up; generously, since
                # a worker judges expiry on its own clock, which may be off by a minute.
                "options": {"expires": settings.poll_interval * 6 + 60},
            },
            "kitsync-recover": {
                "task": names.RECOVER,
                "schedule": min(60.0, settings.recover_after / 2),
            },
            "kitsync-full-reconcile": {
                "task": names.RECONCILE_ALL,
                "schedule": settings.full_sync_interval,
            },
        }
        | (
            # AYON -> Kitsu: AYON's task events drained on the poller's queue, when it is on.
            {
                "kitsync-ayon-events": {
                    "task": names.AYON_EVENTS,
                    "schedule": settings.ayon_events_interval,
                    "options": {"expires": settings.ayon_events_interval * 6 + 60},
                }
            }
            if settings.ayon_to_kitsu
            else {}
        ),
    )
    runtime = runtime or Runtime(settings)
    runtime.bind(app)
    tasks.register(app, runtime)
    return app
