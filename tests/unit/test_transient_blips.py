"""Short-lived failures absorbed where they happen (found by the fault tier, scenario 4): a Kitsu
read retried on the spot, a Kitsu event's AYON record retried on the spot, and a full sync's
AYON progress event that AYON fails to take never failing the sync."""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import datetime
from typing import Any

import httpx
import pytest

from kitsync.ayon import AyonUnavailable
from kitsync.kitsu import KitsuClient, KitsuUnavailable
from kitsync.kitsu import _session as kitsu_session
from kitsync.reconcile import SyncContext, SyncProgress, record, record_kitsu_events
from kitsync.schemas.kitsu import KitsuEvent

BASE = "https://kitsu.test/api"
PROJECT = "0f1e2d3c-4b5a-4969-8877-665544332211"


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kitsu_session, "GET_RETRY_DELAY", 0.0)
    monkeypatch.setattr(record, "RECORD_RETRY_DELAY", 0.0)


# -- Kitsu reads ---------------------------------------------------------------------------
def _zou(*answers: int | Exception) -> tuple[httpx.MockTransport, list[str]]:
    """A transport answering ``answers`` in turn (a status, or an exception to raise), then
    200 with an empty list; and the paths it was asked for."""
    pending = list(answers)
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        answer = pending.pop(0) if pending else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json=[] if answer == 200 else {"message": "down"})

    return httpx.MockTransport(handle), asked


async def test_a_read_zou_fails_now_and_then_is_retried_on_the_spot() -> None:
    transport, asked = _zou(502, httpx.ConnectError("refused"))
    async with KitsuClient(BASE, bot_token="t", transport=transport, get_retries=2) as kitsu:
        assert await kitsu.persons() == []
    assert len(asked) == 3


async def test_a_read_that_keeps_failing_is_unavailable_after_its_retries() -> None:
    transport, asked = _zou(503, 500, 502, 503)
    async with KitsuClient(BASE, bot_token="t", transport=transport, get_retries=2) as kitsu:
        with pytest.raises(KitsuUnavailable, match="HTTP 502"):
            await kitsu.persons()
    assert len(asked) == 3


@pytest.mark.parametrize("status", [400, 404])
async def test_refusals_are_not_retried(status: int) -> None:
    transport, asked = _zou(status)
    async with KitsuClient(BASE, bot_token="t", transport=transport, get_retries=2) as kitsu:
        with pytest.raises(Exception, match=f"HTTP {status}"):
            await kitsu.persons()
    assert len(asked) == 1


async def test_without_get_retries_a_failure_is_raised_at_once() -> None:
    transport, asked = _zou(503)
    async with KitsuClient(BASE, bot_token="t", transport=transport) as kitsu:
        with pytest.raises(KitsuUnavailable):
            await kitsu.persons()
    assert len(asked) == 1


# -- AYON records --------------------------------------------------------------------------
class Writer:
    """emit_event / update_event answering AyonUnavailable ``fails[key]`` times first (key: the
    event hash, or the topic, or "update"); every call is kept."""

    def __init__(self, fails: dict[str, int]) -> None:
        self.fails = dict(fails)
        self.calls: list[str] = []

    def _call(self, key: str) -> None:
        self.calls.append(key)
        if self.fails.get(key, 0) > 0:
            self.fails[key] -= 1
            raise AyonUnavailable(f"{key} -> 503: down")

    async def emit_event(self, topic: str, *, hash: str | None, **_: Any) -> str | None:
        self._call(hash or topic)
        return "e" * 32

    async def update_event(self, event_id: str, **_: Any) -> None:
        await asyncio.sleep(0)
        self._call("update")


class Reader:
    async def paired_projects(self) -> dict[str, str]:
        return {PROJECT: "p_one"}


def _context(writer: Writer) -> SyncContext:
    return SyncContext(kitsu=None, reader=Reader(), writer=writer)  # type: ignore[arg-type]


def _event(number: int) -> KitsuEvent:
    return KitsuEvent(
        id=f"00000000-0000-4000-8000-{number:012d}",
        name="shot:update",
        created_at=datetime(2026, 11, 28),
        project_id=PROJECT,
        data={"shot_id": "11111111-2222-4333-8444-555555555555"},
    )


async def test_an_event_record_ayon_fails_to_take_is_retried_on_the_spot() -> None:
    first, second = _event(1), _event(2)
    writer = Writer({record.kitsu_event_hash(first.id): record.RECORD_ATTEMPTS - 1})
    assert await record_kitsu_events(_context(writer), [first, second]) == record.Recorded(2, 0)
    assert writer.calls.count(record.kitsu_event_hash(first.id)) == record.RECORD_ATTEMPTS


async def test_a_record_ayon_keeps_refusing_is_counted_never_raised() -> None:
    """The record is an audit trail: it must never fail (and so repeat) the ingest."""
    events = [_event(number) for number in range(1, 6)]
    writer = Writer({record.kitsu_event_hash(events[0].id): record.RECORD_ATTEMPTS})
    assert await record_kitsu_events(_context(writer), events) == record.Recorded(4, 1)
    assert writer.calls.count(record.kitsu_event_hash(events[0].id)) == record.RECORD_ATTEMPTS


async def test_the_full_sync_event_is_shown_when_ayon_takes_it_and_never_fails_the_sync(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "kitsync.record")
    # AYON refuses the start: nothing more is shown, and nothing is raised.
    unshown = SyncProgress(_context(Writer({record.SYNC_TOPIC: 1})), "p_one", PROJECT)
    await unshown.start()
    unshown.update(5, 10, "writing")
    await unshown.finish("done", {}, failed=False)

    # An update fails in the background before the end, and so does the end itself.
    writer = Writer({"update": 2})
    shown = SyncProgress(_context(writer), "p_one", PROJECT)
    await shown.start()
    shown.update(5, 10, "writing")
    await asyncio.sleep(0.01)  # the update fails and is done before finish() gathers it
    await shown.finish("done", {}, failed=False)
    gc.collect()  # an unretrieved task exception would be reported now

    assert writer.calls == [record.SYNC_TOPIC, "update", "update"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3 and all("in AYON" in w or "could not show" in w for w in warnings)
    assert not [r for r in caplog.records if r.name == "asyncio"]
