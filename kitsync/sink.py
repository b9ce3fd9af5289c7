"""How events enter kitsync: the sink the webhook receiver and the poller hand events to.

The worker implements it (dedupe by Kitsu event id, then an ingest task); the receiver only
knows this interface, so neither depends on the other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kitsync.errors import TransientError
from kitsync.schemas.kitsu import KitsuEvent


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """How many of the submitted events were new, and how many were already known by id."""

    accepted: int
    duplicates: int


class SinkUnavailable(TransientError):
    """The sink cannot take events now (Redis down); the sender should retry later."""


class EventSink(Protocol):
    async def submit(self, events: Sequence[KitsuEvent], *, source: str) -> SubmitResult:
        """Store and enqueue ``events`` (deduplicated by event id) in one go.

        Raises :class:`SinkUnavailable` when nothing could be stored.
        """
        ...

    async def healthy(self) -> bool:
        """Whether :meth:`submit` can work now. Must not raise for "down": return False."""
        ...
