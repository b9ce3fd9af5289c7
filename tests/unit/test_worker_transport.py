"""kitsync's Redis transport: a channel closed after its connection was detached reports a lost
connection (which Celery handles by reconnecting), not an AttributeError (which stopped the worker:
tests/faults/test_redis_restart.py found it). The whole path, a worker living through a Redis
restart, is the fault tier's to check."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from kombu.transport import filesystem
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

from kitsync.config import Settings
from kitsync.worker import file_transport
from kitsync.worker.app import create_celery
from kitsync.worker.names import (
    EVENTS_QUEUE,
    INGEST,
    POLL,
    POLL_QUEUE,
    QUEUES,
    RECONCILE_PROJECT,
    RECONCILE_QUEUE,
)
from kitsync.worker.transport import Channel, Transport


def test_a_detached_channel_reports_a_lost_connection() -> None:
    channel = Channel.__new__(Channel)  # as Celery leaves it: its transport's client gone
    channel.connection = SimpleNamespace(client=None)
    with pytest.raises(RedisConnectionError):
        channel._connparams()
    assert RedisConnectionError in kombu_redis.Transport.connection_errors


def test_the_broker_uses_it_and_still_reads_redis_urls() -> None:
    app = create_celery(Settings(KITSYNC_REDIS_URL="redis://:secret@redis.example:6380/3"))
    connection = app.connection_for_write()
    assert isinstance(connection.transport, Transport)
    # Flower shows queue lengths only for a broker URL whose scheme it knows.
    assert connection.as_uri().startswith("redis://")
    assert (connection.hostname, connection.port, connection.virtual_host) == (
        "redis.example",
        6380,
        "3",
    )
    assert connection.password == "secret"


def test_flower_knows_every_queue_before_a_worker_answers() -> None:
    app = create_celery(Settings(KITSYNC_REDIS_URL="redis://redis.example:6380/3"))
    # Flower's Broker page falls back to these when no worker has reported its queues yet.
    assert {queue.name for queue in app.conf.task_queues} == set(QUEUES)
    for task, queue in (
        (POLL, POLL_QUEUE),
        (INGEST, EVENTS_QUEUE),
        (RECONCILE_PROJECT, RECONCILE_QUEUE),
    ):
        assert app.amqp.router.route({}, task)["queue"].name == queue


def test_without_redis_the_file_broker_is_kept(tmp_path: Path) -> None:
    app = create_celery(Settings(KITSYNC_STATE_DIR=str(tmp_path)))
    connection = app.connection_for_write()
    assert connection.transport_cls == file_transport.TRANSPORT
    assert isinstance(connection.transport, filesystem.Transport)
