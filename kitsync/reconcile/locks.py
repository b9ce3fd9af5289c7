"""Project-wide locks for read-modify-write of AYON's anatomy.

AYON's project PATCH replaces whole anatomy lists, so two workers adding a task type and a
status at the same moment would each send a list without the other's addition, and one would be
deleted. Every anatomy change therefore runs under the project's lock: an ``asyncio.Lock`` in one
process, a Redis lock across workers (``kitsync.worker`` provides it).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class ProjectLocks(Protocol):
    def anatomy(self, project: str) -> AbstractAsyncContextManager[object]: ...


class LocalLocks:
    """Locks for a single process (tests, the single-process mode)."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def anatomy(self, project: str) -> AbstractAsyncContextManager[object]:
        return self._locks[project]
