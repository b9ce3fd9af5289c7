"""Lease heartbeat: a worker renews the lease on the key it reconciles while the work runs.

A lease short enough that a dead worker's key is taken over quickly must not expire under a live
worker's slow reconcile: the lease is renewed every third of its length. If a renewal finds the
lease gone (this worker stalled longer than the lease and another took the key over), the work
is cancelled, so the key is never reconciled by two workers at once for longer than one renewal
period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from kitsync.errors import KitsyncError
from kitsync.worker.keyqueue import KeyQueue

T = TypeVar("T")


class LeaseLost(KitsyncError):
    """Another worker took over the key: this run was cancelled."""


async def while_holding(
    queue: KeyQueue, key: str, owner: str, lease_seconds: float, work: Coroutine[Any, Any, T]
) -> T:
    """Run ``work`` while renewing ``owner``'s lease on ``key``; raise LeaseLost if it goes."""
    running = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({running}, timeout=lease_seconds / 3)
            if done:
                return running.result()
            if not await queue.extend(key, owner, lease_seconds):
                raise LeaseLost(f"lease on {key} was taken over while {owner} reconciled it")
    finally:
        if not running.done():
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
