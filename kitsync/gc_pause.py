"""Pausing CPython's cyclic garbage collector while a whole project is parsed or planned.

A full reconcile builds a few hundred thousand objects in a few bursts (Kitsu records, AYON rows,
specs, planned links) that all live until it ends and take part in no reference cycle. The
collector starts a pass every few hundred allocations, and once enough objects have survived
passes, a pass over the whole heap: during a no-op reconcile of a large project it went over
the heap several times, found nothing to free, and took as much CPU as the rest of the
reconcile. Paused around such a burst, it sees the new objects once, at its next pass.

Only around synchronous code (no ``await`` inside, so no other coroutine runs meanwhile): the
pause is process-wide and must stay short. Pauses nest, across threads too; the collector is
enabled again when the last one ends, unless it was disabled before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_resume = False  # whether the collector was enabled when the first pause began


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (see the module's docstring)."""
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
