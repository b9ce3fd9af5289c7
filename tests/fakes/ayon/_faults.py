"""Fault injection: make the next requests fail with a status, or stall, to test retries.

Tests call these from their own thread while the app serves in another, hence the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    status: int | None  # None: only delay, then handle the request normally
    delay: float
    method: str | None
    path: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


class FaultPlan:
    """Queued faults, each used by exactly one request (the first one that matches it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault, count: int) -> None:
        with self._lock:
            self._faults.extend([fault] * count)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    return self._faults.pop(index)
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def inject_failures(
    app: Any,
    count: int = 1,
    status: int = 503,
    *,
    delay: float = 0.0,
    method: str | None = None,
    path: str | None = None,
) -> None:
    """Answer the next ``count`` matching requests with ``status`` and ``{code, detail}``.

    Nothing is written. ``method`` (e.g. "POST") and ``path`` (a prefix, e.g.
    "/api/projects/p/operations") restrict which requests the faults hit; ``delay`` seconds pass
    before the answer.
    """
    app.state.fail_next.add(Fault(status, delay, method, path), count)


def inject_delay(
    app: Any,
    seconds: float,
    count: int = 1,
    *,
    method: str | None = None,
    path: str | None = None,
) -> None:
    """Stall the next ``count`` matching requests for ``seconds``, then handle them normally.

    Like a slow real server, the request still takes effect after the stall, even when the client
    has given up waiting: a timed-out write may or may not have happened.
    """
    app.state.fail_next.add(Fault(None, seconds, method, path), count)


def clear_faults(app: Any) -> None:
    app.state.fail_next.clear()
