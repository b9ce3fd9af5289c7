"""Fault injection: make requests fail with a status, or stall, to test retries.

Three kinds:

- queued faults (``inject_failures``, ``inject_delay``): each used by exactly one request;
- a failure rate (``inject_failure_rate``): each request fails with a seeded probability, when
  no queued fault took it; these two apply before authentication, as a proxy's or an overloaded
  server's would;
- rejections (``inject_rejection``): a permanent rule on the request's JSON body, as AYON's own
  validation refusing one value, checked after authentication; until ``clear_faults``.

Tests call these from their own thread while the app serves in another, hence the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._failure_rate import FailureRate

BodyMatch = Callable[[str, str, Any], bool]
"""``match(method, path, body)``: ``body`` is the request's decoded JSON (None if not JSON)."""


@dataclass(frozen=True)
class Fault:
    status: int | None  # None: only delay, then handle the request normally
    delay: float
    method: str | None
    path: str | None
    detail: str = "Injected failure (fake AYON server)"

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass(frozen=True)
class Rejection:
    match: BodyMatch
    status: int
    detail: str


class FaultPlan:
    """Rejection rules, queued faults (each used by the first request that matches it) and an
    optional failure rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rejections: list[Rejection] = []
        self._rate: tuple[FailureRate, Fault] | None = None  # the rate, and whom it hits

    def add(self, fault: Fault, count: int) -> None:
        with self._lock:
            self._faults.extend([fault] * count)

    def reject(self, rejection: Rejection) -> None:
        with self._lock:
            self._rejections.append(rejection)

    def set_rate(self, rate: tuple[FailureRate, Fault] | None) -> None:
        with self._lock:
            self._rate = rate

    @property
    def inspects_bodies(self) -> bool:
        with self._lock:
            return bool(self._rejections)

    def rejection(self, method: str, path: str, body: Any) -> Fault | None:
        """The first rejection rule ``body`` matches, as a fault to answer with."""
        with self._lock:
            rules = list(self._rejections)
        for rule in rules:  # outside the lock: a rule is the test's code
            if rule.match(method, path, body):
                return Fault(rule.status, 0.0, None, None, rule.detail)
        return None

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    return self._faults.pop(index)
            if self._rate is None or not self._rate[1].matches(method, path):
                return None
            status, stall = self._rate[0].draw()
            return Fault(status, stall, None, None) if status or stall else None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._rejections.clear()
            self._rate = None


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


def inject_failure_rate(
    app: Any,
    rate: float,
    statuses: tuple[int, ...] = (503,),
    *,
    timeout_share: float = 0.0,
    stall: float = 0.0,
    seed: int | None = None,
    method: str | None = None,
    path: str | None = None,
) -> dict[str, int]:
    """From now on, each matching request fails with probability ``rate`` (seeded: the same
    ``seed`` draws the same sequence of outcomes for the same sequence of requests).

    A failure is a timeout with probability ``timeout_share``: the request stalls ``stall``
    seconds (make it longer than the client's timeout) and is then handled normally, so the
    client sees a timeout while its write happens, as with a slow real server. Other failures
    answer one of ``statuses`` and write nothing. Queued faults (``inject_failures``) come first.
    Replaces an earlier rate; ``clear_faults`` ends it. Returns the live counts of the outcomes
    drawn (ok, status, timeout).
    """
    failure_rate = FailureRate(rate, statuses, timeout_share=timeout_share, stall=stall, seed=seed)
    app.state.fail_next.set_rate((failure_rate, Fault(None, 0.0, method, path)))
    return failure_rate.drawn


def inject_rejection(
    app: Any, match: BodyMatch, status: int = 400, detail: str = "Invalid data provided"
) -> None:
    """Refuse, with ``status`` and ``{code, detail}``, every request for which
    ``match(method, path, body)`` is true, until ``clear_faults``: a value AYON's own validation
    refuses (an attribute out of its range, a name a server addon forbids). Nothing is written.
    While a rule is set, every request body is read before the request is handled."""
    app.state.fail_next.reject(Rejection(match, status, detail))


def clear_faults(app: Any) -> None:
    app.state.fail_next.clear()
