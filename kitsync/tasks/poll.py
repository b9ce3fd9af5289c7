"""The catch-up poller: Kitsu's durable event log, from a stored cursor, into the same sink the
webhook receiver uses. Losing the webhook costs latency, never data.

Zou stamps events to the second and lists them newest first; the poller asks from one second
before its cursor (events committed late in the cursor's second are not missed), lets the sink
drop ids it has seen, and moves the cursor only after the sink took the events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kitsync.kitsu import KitsuClient
from kitsync.schemas import KitsuEvent

OVERLAP = timedelta(seconds=1)


class CursorStore(Protocol):
    """Where the poller keeps the second it has read up to (naive UTC)."""

    async def get(self) -> datetime | None: ...

    async def set(self, value: datetime) -> None: ...


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
    kitsu: KitsuClient,
    cursors: CursorStore,
    submit: Submit,
    *,
    now: datetime,
    start_from: datetime | None = None,
) -> PollOutcome:
    """Read every event since the cursor, submit them, then advance the cursor.

    Without a stored cursor the poller starts at ``start_from``, else at ``now``: history before
    the first start is the full reconcile's job, not the poller's.
    """
    cursor = await cursors.get() or start_from or now
    events = [event async for event in kitsu.iter_events_since(cursor - OVERLAP)]
    new = await submit(events) if events else 0
    newest = max((event.created_at for event in events), default=cursor)
    cursor = max(newest, cursor)
    await cursors.set(cursor)
    return PollOutcome(len(events), new, cursor)
