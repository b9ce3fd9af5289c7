"""The Celery application: broker, queues, reliability settings, beat schedule.

Reliability (see docs/DESIGN.md, "Reliability contract"): a task is acknowledged only after it
ran (``acks_late``) and is given back to the broker when its worker process dies; a worker takes
one task at a time (``prefetch_multiplier=1``), so a long one never holds others hostage; the
broker's visibility timeout is longer than any task plus its longest retry delay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import Celery

from kitsync.config import Settings, reveal
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.retries import MAX_DELAY
from kitsync.worker.transport import TRANSPORT

if TYPE_CHECKING:
    from kitsync.worker.runtime import Runtime

EVENTS_QUEUE = "kitsync.events"
RECONCILE_QUEUE = "kitsync.reconcile"
ALL_QUEUES = f"{EVENTS_QUEUE},{RECONCILE_QUEUE}"
VISIBILITY_TIMEOUT = 3600
assert VISIBILITY_TIMEOUT > 2 * MAX_DELAY


def key_queue_prefix(settings: Settings) -> str:
    """Where the key queue keeps its Redis keys (beside Celery's, under the same prefix)."""
    return f"{settings.redis_prefix}keyqueue:"


def redis_key_queue(settings: Settings) -> RedisKeyQueue:
    """A key queue on Redis with a client of its own (for a process outside the worker runtime,
    or a thread with its own event loop, such as the receiver's)."""
    return RedisKeyQueue(reveal(settings.redis_url) or "", prefix=key_queue_prefix(settings))


def create_celery(settings: Settings, runtime: Runtime | None = None) -> Celery:
    """A configured Celery app with kitsync's tasks registered on it.

    With ``KITSYNC_REDIS_URL`` the broker is Redis. Without it (``kitsync run`` on one machine)
    it is kombu's filesystem transport under ``KITSYNC_STATE_DIR``: queued tasks survive a
    restart; a task taken but not finished is put back on a clean shutdown (not on a kill: the
    full reconcile at start-up repairs that).
    """
    from kitsync.worker import jobs
    from kitsync.worker.runtime import Runtime

    app = Celery("kitsync", broker=reveal(settings.redis_url), set_as_current=False)
    if settings.redis_url is None:
        folder = settings.state_dir / "broker"
        for part in ("processed", "control"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        app.conf.broker_url = "filesystem://"
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
        }
    else:
        # kombu's Redis transport, fixed so a worker survives a Redis restart (see the module).
        app.conf.broker_transport = TRANSPORT
        app.conf.broker_transport_options = {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            # Every broker key under kitsync's prefix, beside the key queue's.
            "global_keyprefix": f"{settings.redis_prefix}celery:",
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
        task_default_queue=EVENTS_QUEUE,
        task_routes={"kitsync.reconcile_project": {"queue": RECONCILE_QUEUE}},
        # Flower shows tasks from these events.
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_soft_time_limit=300,
        task_time_limit=360,
        beat_schedule={
            "kitsync-poll": {"task": "kitsync.poll", "schedule": settings.poll_interval},
            "kitsync-recover": {
                "task": "kitsync.recover",
                "schedule": min(60.0, settings.recover_after / 2),
            },
            "kitsync-full-reconcile": {
                "task": "kitsync.reconcile_all",
                "schedule": settings.full_sync_interval,
            },
        },
    )
    jobs.register(app, settings, runtime or Runtime(settings))
    return app
