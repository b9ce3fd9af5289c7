"""Everything one fake Kitsu server holds, shared by its HTTP app and its Python API."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .._failure_rate import FailureRate
from ._auth import Tokens
from ._clock import Clock
from ._events import EventLog
from ._mutations import Mutations
from ._store import Store


@dataclass
class Faults:
    """Failures and delays queued by the test for the next requests, then a failure rate."""

    failures: list[int] = field(default_factory=list)  # statuses, one per request
    delays: list[float] = field(default_factory=list)  # seconds, one per request
    rate: FailureRate | None = None

    def next_failure(self) -> int | None:
        return self.failures.pop(0) if self.failures else None

    def next_delay(self) -> float:
        return self.delays.pop(0) if self.delays else 0.0

    def next(self) -> tuple[int | None, float]:
        """The next request's (failure status or None, delay): queued ones first."""
        failure, delay = self.next_failure(), self.next_delay()
        if failure is None and not delay and self.rate is not None:
            return self.rate.draw()
        return failure, delay


@dataclass
class FakeState:
    store: Store
    log: EventLog
    clock: Clock
    admin_id: str
    tokens: Tokens = field(init=False)
    mutations: Mutations = field(init=False)
    faults: Faults = field(default_factory=Faults)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # One lock for the HTTP thread and the test thread: every read or write holds it.
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.tokens = Tokens(bot_person_id=self.admin_id)
        self.mutations = Mutations(self.store, self.log, self.clock, self.admin_id)
