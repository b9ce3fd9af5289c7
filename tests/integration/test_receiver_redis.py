"""The receiver on the real Redis sink: one enqueue per event id; 503 while Redis is down."""

from __future__ import annotations

import json

import httpx
import pytest

from kitsync.config import Settings
from kitsync.receiver import SIGNATURE_HEADER, create_app, sign_body
from kitsync.redis_keys import RedisKeys
from kitsync.worker.app import create_celery
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.names import EVENTS_QUEUE
from kitsync.worker.queue_metrics import QueueStateCollector, redis_queue_state
from kitsync.worker.sink import CelerySink
from tests.fakes.serve import free_port

pytestmark = pytest.mark.integration

EVENT = {
    "id": "11111111-2222-4333-8444-555555555555",
    "name": "shot:update",
    "created_at": "2026-11-27T21:12:40",
    "project_id": "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d",
    "data": {"shot_id": "f48bffdc-4a40-4304-98f1-80af0adefec9"},
}


async def _post(app: object, body: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        return await client.post(
            "/kitsu/events",
            content=body,
            headers={
                SIGNATURE_HEADER: sign_body("s3cret", body),
                "content-type": "application/json",
            },
        )


def _receiver(redis_url: str, prefix: str) -> tuple[object, RedisKeyQueue, Settings]:
    settings = Settings(KITSYNC_REDIS_URL=redis_url, KITSYNC_REDIS_PREFIX=prefix)  # type: ignore[call-arg]
    queue = RedisKeyQueue(redis_url, prefix=RedisKeys(settings.redis_prefix).key_queue)
    return create_app(CelerySink(create_celery(settings), queue), secret="s3cret"), queue, settings


async def test_events_are_queued_once_per_id(redis_url: str, redis_prefix: str) -> None:
    app, queue, settings = _receiver(redis_url, redis_prefix)
    body = json.dumps(EVENT).encode()
    first = await _post(app, body)
    assert first.status_code == 202 and first.json()["accepted"] == 1
    # Taken in once: a repeat while its ingest still waits (the poller's overlap) is dropped.
    again = await _post(app, body)
    assert again.status_code == 202 and again.json()["duplicates"] == 1
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        scraped = (await client.get("/metrics/")).text
    assert 'kitsync_events_received_total{source="webhook"}' in scraped
    assert 'kitsync_events_duplicate_total{source="webhook"}' in scraped
    import redis as sync_redis

    client = sync_redis.Redis.from_url(redis_url)
    try:
        assert client.llen(RedisKeys(settings.redis_prefix).broker_queue(EVENTS_QUEUE)) == 1
    finally:
        client.close()
    await queue.close()


async def test_redis_down_answers_503_and_healthz_says_so(redis_prefix: str) -> None:
    app, queue, _ = _receiver(f"redis://127.0.0.1:{free_port()}/0", redis_prefix)
    answer = await _post(app, json.dumps(EVENT).encode())
    assert answer.status_code == 503 and answer.headers["retry-after"]
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        assert (await client.get("/healthz")).status_code == 503
    await queue.close()


async def test_queue_gauges_are_read_from_redis_at_scrape_time(
    redis_url: str, redis_prefix: str
) -> None:
    """The receiver never polls nor reconciles: what its /metrics says of the queue and the
    poller must be Redis's state, not a gauge it never set (it said a lag of 0 s at 395 s)."""
    settings = Settings(KITSYNC_REDIS_URL=redis_url, KITSYNC_REDIS_PREFIX=redis_prefix)  # type: ignore[call-arg]
    keys = RedisKeys(settings.redis_prefix)
    queue = RedisKeyQueue(redis_url, prefix=keys.key_queue)
    app = create_app(
        CelerySink(create_celery(settings), queue),
        secret="s3cret",
        shared_metrics=QueueStateCollector(redis_queue_state(settings)),
    )
    await queue.add(["p/shot/a", "p/shot/b", "p/task/c"])
    import redis as sync_redis

    client = sync_redis.Redis.from_url(redis_url)
    try:
        seconds, micro = client.time()
        client.set(keys.poll_last, str(seconds + micro / 1e6 - 395))
    finally:
        client.close()
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        scraped = (await http.get("/metrics/")).text
    assert 'kitsync_keys{state="queued"} 3.0' in scraped
    lag = next(
        float(line.split()[-1])
        for line in scraped.splitlines()
        if line.startswith("kitsync_poller_lag_seconds ")
    )
    assert 395 <= lag < 420
    await queue.close()
