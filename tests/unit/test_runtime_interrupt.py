"""A task interrupted while its coroutine runs (Celery's soft time limit raises inside the loop)
leaves nothing running on the process's loop: the next task must not share it with a ghost."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from kitsync.config import Settings
from kitsync.worker.runtime import Runtime


def test_a_soft_time_limit_cancels_the_coroutine_it_interrupts(tmp_path: Path) -> None:
    runtime = Runtime(Settings(KITSYNC_STATE_DIR=str(tmp_path)))
    writes: list[int] = []

    async def slow_writer() -> None:
        for n in range(100):
            await asyncio.sleep(0.02)
            writes.append(n)

    def limit_hit(signum: int, frame: object) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, limit_hit)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(SoftTimeLimitExceeded):
            runtime.run(slow_writer())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    written = len(writes)
    assert 0 < written < 100
    # The next task runs on the same loop: the interrupted writer must not write any more.
    runtime.run(asyncio.sleep(0.2))
    assert len(writes) == written
    assert runtime.run(_other_tasks()) == []
    runtime.close()


async def _other_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
