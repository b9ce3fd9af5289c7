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

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


class FailureRate:
    """Each matching request fails with probability ``rate``: a ``timeout_share`` of failures
    stall ``stall`` seconds and then are handled normally (a client that gave up waiting still
    sees its write happen), the others answer one of ``statuses`` (drawn in turn) and write
    nothing. Draws come from one seeded generator, in the order requests arrive."""

    def __init__(
        self,
        rate: float,
        statuses: tuple[int, ...],
        timeout_share: float,
        stall: float,
        seed: int | None,
        method: str | None,
        path: str | None,
    ) -> None:
        if not 0.0 <= rate <= 1.0 or not 0.0 <= timeout_share <= 1.0:
            raise ValueError("rate and timeout_share must be between 0 and 1")
        if timeout_share < 1.0 and not statuses:
            raise ValueError("statuses is empty but some failures must answer a status")
        if timeout_share > 0.0 and stall <= 0.0:
            raise ValueError("timeouts need a stall longer than the client's timeout")
        self.rate = rate
        self.statuses = statuses
        self.timeout_share = timeout_share
        self.stall = stall
        self.method = method
        self.path = path
        self._rng = random.Random(seed)
        self.drawn: dict[str, int] = {"ok": 0, "status": 0, "timeout": 0}

    def draw(self, method: str, path: str) -> Fault | None:
        if not Fault(None, 0.0, self.method, self.path).matches(method, path):
            return None
        if self._rng.random() >= self.rate:
            self.drawn["ok"] += 1
            return None
        if self._rng.random() < self.timeout_share:
            self.drawn["timeout"] += 1
            return Fault(None, self.stall, None, None)
        self.drawn["status"] += 1
        return Fault(self._rng.choice(self.statuses), 0.0, None, None)


class FaultPlan:
    """Rejection rules, queued faults (each used by the first request that matches it) and an
    optional failure rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rejections: list[Rejection] = []
        self._rate: FailureRate | None = None

    def add(self, fault: Fault, count: int) -> None:
        with self._lock:
            self._faults.extend([fault] * count)

    def reject(self, rejection: Rejection) -> None:
        with self._lock:
            self._rejections.append(rejection)

    def set_rate(self, rate: FailureRate | None) -> None:
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
            return self._rate.draw(method, path) if self._rate is not None else None

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
    failure_rate = FailureRate(rate, statuses, timeout_share, stall, seed, method, path)
    app.state.fail_next.set_rate(failure_rate)
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
