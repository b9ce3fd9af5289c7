"""The catch-up poller: Kitsu's durable event log, from a stored cursor, into the same sink the
webhook receiver uses. Losing the webhook costs latency, never data.

Zou stamps events to the second and lists them newest first. The poller asks from ``overlap``
before its cursor (``KITSYNC_POLL_OVERLAP``, default 120 s): an event is stamped when its
request began but may be committed seconds later, after a poll that read past its second, and
several Zou servers a few seconds apart stamp on their own clocks; the sink drops ids it has seen,
so the overlap costs a re-read, never a duplicate. The cursor moves only after the sink took the
events. The first cursor is Kitsu's own newest event, never kitsync's clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kitsync.kitsu import KitsuClient
from kitsync.schemas import KitsuEvent


class CursorStore(Protocol):
    """Where the poller keeps the second it has read up to (naive UTC)."""

    async def get(self) -> datetime | None: ...

    async def set(self, value: datetime) -> None: ...


BEGINNING = datetime(1970, 1, 1)
# Zou's largest page of events: a backlog after a long downtime comes in a tenth of the requests.
EVENTS_PAGE = 1000

Submit = Callable[[Sequence[KitsuEvent]], Awaitable[int]]
"""Takes events, drops those already seen, returns how many were new."""


@dataclass(frozen=True)
class PollOutcome:
    read: int
    new: int
    cursor: datetime

    def describe(self) -> str:
        return f"read {self.read} Kitsu events, {self.new} new; cursor {self.cursor.isoformat()}"


async def poll_once(
    kitsu: KitsuClient, cursors: CursorStore, submit: Submit, *, overlap: timedelta
) -> PollOutcome:
    """Read every event since the cursor (less ``overlap``), submit them, advance the cursor.

    Without a stored cursor the poller starts at Kitsu's newest event: history before the first
    start is the full reconcile's job, not the poller's.
    """
    cursor = await cursors.get()
    if cursor is None:
        newest = await kitsu.events_page(after=None, limit=1)
        # A Kitsu with no event yet has no history: everything from now on is new.
        cursor = newest[0].created_at if newest else BEGINNING
        await cursors.set(cursor)
        return PollOutcome(0, 0, cursor)
    events = [
        event async for event in kitsu.iter_events_since(cursor - overlap, page_size=EVENTS_PAGE)
    ]
    new = await submit(events) if events else 0
    newest_at = max((event.created_at for event in events), default=cursor)
    cursor = max(newest_at, cursor)
    await cursors.set(cursor)
    return PollOutcome(len(events), new, cursor)
