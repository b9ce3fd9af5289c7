"""The worker's sink: an event id is taken in once, big submits become several ingests, and a
submit that cannot hand its events on leaves them untaken for the sender's retry, even when Redis
(broker and marks alike) goes down in the middle of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from kombu.exceptions import OperationalError

from kitsync.schemas import KitsuEvent
from kitsync.sink import SinkUnavailable
from kitsync.worker.keyqueue import KeyQueueUnavailable, StubKeyQueue
from kitsync.worker.sink import INGEST_BATCH, CelerySink


class Broker:
    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def send_task(self, name: str, args: tuple[Any, ...]) -> None:
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append((name, args))


class SharedRedis(StubKeyQueue):
    """The key queue on the broker's Redis: down when the broker is."""

    def __init__(self, broker: Broker) -> None:
        super().__init__()
        self.broker = broker

    async def _keep_seen(self, ids: list[str], ttl_seconds: int, only_new: bool) -> None:
        if self.broker.down:
            raise KeyQueueUnavailable("key queue: Redis unavailable (connection refused)")
        await super()._keep_seen(ids, ttl_seconds, only_new)


class StopsWhilePublishing(Broker):
    """Redis stops as the publish is sent: the message may or may not have reached it."""

    def __init__(self, *, reached: bool) -> None:
        super().__init__()
        self.reached = reached
        self.stops = True

    def send_task(self, name: str, args: tuple[Any, ...]) -> None:
        if self.stops:
            self.stops, self.down = False, True
            if self.reached:
                self.sent.append((name, args))
                return
        super().send_task(name, args)


def _events(count: int, offset: int = 0) -> list[KitsuEvent]:
    return [
        KitsuEvent(
            id=f"00000000-0000-4000-8000-{offset + n:012d}",
            name="shot:update",
            created_at=datetime(2026, 12, 5),
            project_id="d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d",
            data={"shot_id": "f48bffdc-4a40-4304-98f1-80af0adefec9"},
        )
        for n in range(count)
    ]


async def test_a_storm_read_in_one_poll_becomes_ingests_of_a_bounded_size() -> None:
    broker, queue = Broker(), StubKeyQueue()
    sink = CelerySink(broker, queue)  # type: ignore[arg-type]
    result = await sink.submit(_events(2 * INGEST_BATCH + 7), source="poller")
    assert result.accepted == 2 * INGEST_BATCH + 7
    assert [len(args[0]) for _, args in broker.sent] == [INGEST_BATCH, INGEST_BATCH, 7]
    assert {name for name, _ in broker.sent} == {"kitsync.ingest"}


async def test_an_event_is_taken_once_whichever_path_brings_it_again() -> None:
    broker, queue = Broker(), StubKeyQueue()
    sink = CelerySink(broker, queue)  # type: ignore[arg-type]
    await sink.submit(_events(3), source="webhook")
    again = await sink.submit(_events(5), source="poller")  # its ingest has not run yet
    assert (again.accepted, again.duplicates) == (2, 3)
    assert [len(args[0]) for _, args in broker.sent] == [3, 2]


async def test_events_not_handed_on_are_not_taken() -> None:
    broker, queue = Broker(down=True), StubKeyQueue()
    sink = CelerySink(broker, queue)  # type: ignore[arg-type]
    with pytest.raises(SinkUnavailable):
        await sink.submit(_events(3), source="webhook")
    broker.down = False
    retried = await sink.submit(_events(3), source="webhook")
    assert retried.accepted == 3 and len(broker.sent) == 1


@pytest.mark.parametrize("reached", [False, True], ids=["publish lost", "publish landed"])
async def test_redis_stopping_mid_submit_loses_nothing(reached: bool) -> None:
    broker = StopsWhilePublishing(reached=reached)
    sink = CelerySink(broker, SharedRedis(broker))  # type: ignore[arg-type]
    with pytest.raises(SinkUnavailable):
        await sink.submit(_events(3), source="webhook")
    broker.down = False  # Redis is back; the sender retries after Retry-After
    retried = await sink.submit(_events(3), source="webhook")
    assert retried.accepted == 3  # not dropped as duplicates
    # Published once, or twice when the first publish landed: at least once, never lost.
    assert [len(args[0]) for _, args in broker.sent] == [3] * (1 + reached)
