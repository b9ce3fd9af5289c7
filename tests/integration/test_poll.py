"""The catch-up poller against the fake Kitsu's event log (Zou's paging rules)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from kitsync.kitsu import KitsuClient
from kitsync.schemas import KitsuEvent
from kitsync.tasks.poll import OVERLAP, poll_once
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import serve

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
SQ010 = "9c44efde-020e-4b15-8fe4-2bd0d55358bc"


class MemoryCursor:
    def __init__(self) -> None:
        self.value: datetime | None = None

    async def get(self) -> datetime | None:
        return self.value

    async def set(self, value: datetime) -> None:
        self.value = value


class DedupingSink:
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def __call__(self, events: Sequence[KitsuEvent]) -> int:
        new = [e.id for e in events if e.id not in self.ids]
        self.ids += new
        return len(new)


async def test_catch_up_sees_every_event_once_across_polls() -> None:
    fake = FakeKitsu.from_fixtures("film", "after_build")
    recorded = fake.events()
    start = datetime.fromisoformat(recorded[-1]["created_at"]) - timedelta(seconds=2)
    cursor, sink = MemoryCursor(), DedupingSink()
    with serve(fake.app) as url:
        async with KitsuClient(url, bot_token=BOT_TOKEN) as kitsu:
            first = await poll_once(kitsu, cursor, sink, now=start, start_from=start)
            assert first.new == first.read > 0
            shot = fake.create_shot(FILM, SQ010, "SH0100", nb_frames=10)
            fake.update_entity(shot["id"], name="SH0110")
            for i in range(150):  # more than a page, all within a second or two
                fake.update_entity(shot["id"], description=f"take {i}")
            second = await poll_once(kitsu, cursor, sink, now=start)
            third = await poll_once(kitsu, cursor, sink, now=start)
    since = (start - OVERLAP).isoformat()  # the first poll reads one second early too
    later = [e["id"] for e in fake.events() if e["created_at"] >= since]
    assert sorted(sink.ids) == sorted(later)  # nothing lost
    assert len(sink.ids) == len(set(sink.ids))  # nothing twice
    assert second.new == 152 and third.new == 0
    assert third.read > 0  # the overlap re-reads the cursor's second; the sink drops them
    assert cursor.value is not None and cursor.value >= start


async def test_first_start_begins_now_not_at_the_dawn_of_time() -> None:
    fake = FakeKitsu.from_fixtures("film", "after_build")
    cursor, sink = MemoryCursor(), DedupingSink()
    with serve(fake.app) as url:
        async with KitsuClient(url, bot_token=BOT_TOKEN) as kitsu:
            outcome = await poll_once(kitsu, cursor, sink, now=datetime(2030, 1, 1))
    assert outcome.read == 0 and cursor.value == datetime(2030, 1, 1)
