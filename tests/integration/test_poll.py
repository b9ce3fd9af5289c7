"""The catch-up poller against the fake Kitsu's event log (Zou's paging rules)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from kitsync.kitsu import KitsuClient
from kitsync.poller import BEGINNING, poll_once
from kitsync.schemas import KitsuEvent
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import serve

OVERLAP = timedelta(seconds=120)
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
    cursor, sink = MemoryCursor(), DedupingSink()
    with serve(fake.app) as url:
        async with KitsuClient(url, bot_token=BOT_TOKEN) as kitsu:
            first = await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
            newest = datetime.fromisoformat(fake.events()[-1]["created_at"])
            # The first cursor is Kitsu's newest event (Kitsu's clock); history is not submitted.
            assert (first.read, first.new, cursor.value) == (0, 0, newest)
            shot = fake.create_shot(FILM, SQ010, "SH0100", nb_frames=10)
            fake.update_entity(shot["id"], name="SH0110")
            for i in range(150):  # more than a page, all within a second or two
                fake.update_entity(shot["id"], description=f"take {i}")
            second = await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
            third = await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
    since = (newest - OVERLAP).isoformat()
    read = [e["id"] for e in fake.events() if e["created_at"] >= since]
    assert sorted(sink.ids) == sorted(read)  # nothing lost
    assert len(sink.ids) == len(set(sink.ids))  # nothing twice
    assert second.new == len(read) and second.new >= 152 and third.new == 0
    assert third.read > 0  # the overlap re-reads; the sink drops them
    assert cursor.value is not None and cursor.value >= newest


async def test_a_late_commit_stamped_before_the_cursor_is_read() -> None:
    """An event stamped a minute before the cursor (a slow commit, another Zou server's clock)
    appears after a poll already moved past its second: the overlap still finds it."""
    fake = FakeKitsu.from_fixtures("film", "after_build")
    cursor, sink = MemoryCursor(), DedupingSink()
    with serve(fake.app) as url:
        async with KitsuClient(url, bot_token=BOT_TOKEN) as kitsu:
            await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
            shot = fake.create_shot(FILM, SQ010, "SH0200", nb_frames=10)
            await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
            assert cursor.value is not None
            fake.update_entity(shot["id"], description="committed late")
            late = fake.backdate_newest_events(1, cursor.value - timedelta(seconds=60))
            outcome = await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
    assert set(late) <= set(sink.ids) and outcome.new == len(late)


async def test_on_a_kitsu_without_events_every_event_to_come_is_read() -> None:
    fake = FakeKitsu.from_fixtures("film", "after_build")
    fake.clear_events()
    cursor, sink = MemoryCursor(), DedupingSink()
    with serve(fake.app) as url:
        async with KitsuClient(url, bot_token=BOT_TOKEN) as kitsu:
            first = await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
            shot = fake.create_shot(FILM, SQ010, "SH0300", nb_frames=10)
            second = await poll_once(kitsu, cursor, sink, overlap=OVERLAP)
    assert (first.read, first.cursor) == (0, BEGINNING)
    assert second.new == len(fake.events()) > 0 and shot["id"] in str(fake.events())
