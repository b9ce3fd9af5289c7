"""A seeded failure rate, shared by both fakes: each request fails with probability ``rate``."""

from __future__ import annotations

import random


class FailureRate:
    """A ``timeout_share`` of failures stall ``stall`` seconds and are then handled normally (a
    client that gave up waiting still sees its write happen, as with a slow real server); the
    others answer one of ``statuses`` and write nothing. One seeded generator, drawn in the order
    requests arrive; ``drawn`` counts the outcomes (ok, status, timeout) live."""

    def __init__(
        self,
        rate: float,
        statuses: tuple[int, ...],
        *,
        timeout_share: float,
        stall: float,
        seed: int | None,
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
        self._rng = random.Random(seed)
        self.drawn: dict[str, int] = {"ok": 0, "status": 0, "timeout": 0}

    def draw(self) -> tuple[int | None, float]:
        """(status to answer or None, seconds to stall first)."""
        if self._rng.random() >= self.rate:
            self.drawn["ok"] += 1
            return None, 0.0
        if self._rng.random() < self.timeout_share:
            self.drawn["timeout"] += 1
            return None, self.stall
        self.drawn["status"] += 1
        return self._rng.choice(self.statuses), 0.0
