"""Running coroutines side by side the way every caller in kitsync wants it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """An ``asyncio.TaskGroup`` that raises the first failure of its tasks (or of its body)
    itself, not wrapped in an ``ExceptionGroup``: callers decide by kitsync's typed errors (a
    ``TransientError`` retries the whole reconcile). The other tasks are cancelled as in any
    TaskGroup; failures beside the first (mostly the same outage seen twice) are dropped."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
