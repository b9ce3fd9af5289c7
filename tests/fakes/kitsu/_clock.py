"""Zou's notion of time: naive UTC, stored with microseconds, shown truncated to the second."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_ONE_US = timedelta(microseconds=1)


def show(moment: datetime) -> str:
    """The second-precision form every Zou route shows (``2026-11-27T21:12:41``)."""
    return moment.replace(microsecond=0).isoformat()


def show_us(moment: datetime) -> str:
    """The microsecond form of the entity-links list (Python's isoformat drops ``.000000``)."""
    return moment.isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Clock:
    """Strictly increasing naive-UTC clock.

    Every value is later than any recorded timestamp it was told about, so new events sort
    after the loaded fixtures even if the recordings come from a clock ahead of this one.
    """

    def __init__(self) -> None:
        self._last = datetime.min
        self._lock = threading.Lock()

    def observe(self, moment: datetime) -> None:
        with self._lock:
            self._last = max(self._last, moment)

    def now(self) -> datetime:
        with self._lock:
            real = datetime.now(UTC).replace(tzinfo=None)
            self._last = max(real, self._last + _ONE_US)
            return self._last

    def now_str(self) -> str:
        return show(self.now())
