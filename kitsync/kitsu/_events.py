"""Reading Zou's durable event log, ``/data/events/last``, with its real rules (Zou 1.0.97):

- pages are newest first, ordered on the full-precision timestamp, but ``created_at`` shows
  only whole seconds (a hundred events can share one second);
- ``after`` / ``before`` accept ``YYYY-MM-DDTHH:MM:SS`` only (no microseconds, no offset) and
  compare strictly with ``S.000000``, so ``after=S`` includes the events of second ``S``;
- ``cursor_event_id`` returns what is strictly older than that event: the way to page;
- ``limit`` above 1000 is silently capped, which would break "a short page is the last one".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from kitsync.kitsu._session import Params, check_id
from kitsync.kitsu.errors import KitsuBadResponse
from kitsync.schemas.kitsu import KitsuEvent

PATH = "/data/events/last"
MAX_LIMIT = 1000

GetJson = Callable[[str, Params | None], Awaitable[Any]]
_EVENTS = TypeAdapter(list[KitsuEvent])


def utc_second(value: datetime) -> datetime:
    """``value`` as naive UTC truncated to the second (naive input is taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


async def fetch_page(
    get_json: GetJson,
    *,
    after: datetime | None,
    before: datetime | None,
    cursor_event_id: str | None,
    limit: int,
    project_id: str | None,
) -> list[KitsuEvent]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    params: Params = {"limit": limit}
    if after is not None:
        params["after"] = utc_second(after).isoformat()
    if before is not None:
        params["before"] = utc_second(before).isoformat()
    if cursor_event_id is not None:
        params["cursor_event_id"] = check_id(cursor_event_id)
    if project_id is not None:
        params["project_id"] = check_id(project_id)
    body = await get_json(PATH, params)
    try:
        return _EVENTS.validate_python(body)
    except ValidationError as exc:
        raise KitsuBadResponse(f"Kitsu GET {PATH}: unexpected body: {exc}") from None


async def events_since(
    get_json: GetJson, after: datetime, *, project_id: str | None, page_size: int
) -> list[KitsuEvent]:
    """Every event of second ``after`` or later, oldest first, each id once."""
    since = utc_second(after)
    # Zou's strict comparison would drop an event stamped exactly S.000000: ask from one
    # second earlier and cut client-side.
    query_after = since - timedelta(seconds=1)
    newest_first: list[KitsuEvent] = []
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        page = await fetch_page(
            get_json,
            after=query_after,
            before=None,
            cursor_event_id=cursor,
            limit=page_size,
            project_id=project_id,
        )
        fresh = [event for event in page if event.id not in seen]
        seen.update(event.id for event in fresh)
        newest_first.extend(fresh)
        if len(page) < page_size or not fresh:
            break
        cursor = page[-1].id
    return [event for event in reversed(newest_first) if event.created_at >= since]
