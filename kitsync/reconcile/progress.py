"""A full reconcile's progress by phase, with counts and rates: what ``kitsync pair/sync`` show
on stderr and what the ``kitsync.sync`` AYON event reports, from the same figures.

The reconcile calls its progress callback with ``(done, total, phase)``: each phase starts with
``done`` 0, and ends with ``done`` at its count (``total`` is known in advance only for the
writes; the other phases report their count when they end). A new phase, or ``done``, ends the
one before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# phase -> (what it does, what its count counts)
PHASES: dict[str, tuple[str, str]] = {
    "reading": ("Reading Kitsu and AYON", "entities"),
    "writing": ("Writing to AYON", "operations"),
    "linking": ("Converging breakdown links", "links written"),
    "checking": ("Reading Kitsu's events for changes made meanwhile", "keys changed"),
}
DONE = "done"


@dataclass(frozen=True)
class PhaseStats:
    phase: str
    done: int
    total: int
    seconds: float

    @property
    def rate(self) -> float:
        """Count per second (0 until the phase has counted something)."""
        return self.done / self.seconds if self.done and self.seconds > 0 else 0.0

    @property
    def label(self) -> str:
        return PHASES.get(self.phase, (self.phase, ""))[0]

    def describe(self) -> str:
        """Its count, time and rate, e.g. ``9,769 operations in 5.2 s (1,879/s)``."""
        unit = PHASES.get(self.phase, ("", "items"))[1]
        count = f"{self.done:,}/{self.total:,}" if self.total > self.done else f"{self.done:,}"
        rate = f" ({self.rate:,.0f}/s)" if self.rate else ""
        return f"{count} {unit} in {self.seconds:.1f} s{rate}"

    def summary(self) -> dict[str, object]:
        """For an AYON event's summary."""
        return {
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "seconds": round(self.seconds, 3),
            "perSecond": round(self.rate, 1),
        }


class PhaseMeter:
    """Follows the progress callback: the phase under way and those that ended."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._phase: str | None = None
        self._started = 0.0
        self._done = self._total = 0
        self.ended: list[PhaseStats] = []

    def update(self, done: int, total: int, phase: str) -> PhaseStats | None:
        """Take one callback; returns the phase it ended, if it ended one (a phase that starts
        over, as the writes of a second pass do, ends its first run)."""
        ended = None
        if phase != self._phase or done < self._done:
            ended = self._end()
            self._phase = None if phase == DONE else phase
            self._started = self._clock()
        self._done, self._total = done, total
        return ended

    @property
    def current(self) -> PhaseStats | None:
        if self._phase is None:
            return None
        return PhaseStats(self._phase, self._done, self._total, self._clock() - self._started)

    @property
    def phases(self) -> list[PhaseStats]:
        """Those that ended, and the one under way."""
        current = self.current
        return [*self.ended, *([current] if current else [])]

    def _end(self) -> PhaseStats | None:
        stats = self.current
        if stats is not None:
            self.ended.append(stats)
        return stats
