"""What one reconcile did, for logs, Celery results and AYON events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from kitsync.core.routing import Key

Outcome = Literal["in step", "changed", "skipped"]


@dataclass(frozen=True)
class ReconcileResult:
    key: str
    outcome: Outcome
    changes: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # Other keys to reconcile because of what this one changed (a sibling whose collision
    # suffix can go now that this one freed the name): queued by the worker, never run here.
    follow_ups: tuple[Key, ...] = ()
    # What the key is about, readably (Flower shows it): ``my_show /shots/sq010/sh010``.
    label: str = ""

    def describe(self) -> str:
        if self.outcome == "changed":
            done = ", ".join(f"{count} {what}" for what, count in self.changes.items())
            return f"{self.key}: {done}"
        reason = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.key}: {self.outcome}{reason}"
