"""Give freed memory back to the operating system.

glibc's malloc keeps freed pages in its arenas for the process to reuse, and two kinds of frees
then swell a worker's resident memory for nothing (bench/RESULTS.md, worker memory):

- pydantic-core parses a JSON body into its own tree, in malloc'd memory, about 2.5 times the
  body's size, and frees it when the records are built. CPython's small objects live in arenas
  of their own, so what the reconcile allocates next never reuses those pages: a large Kitsu
  list's or AYON query's parse would be held through the rest of the reconcile
  (``trim_after_parsing``);
- a full reconcile builds its whole plan, then frees it: an idle worker would go on holding its
  peak until it exits (``release_freed_memory`` after it).

``malloc_trim(0)`` hands the free pages back (a few milliseconds). Where the C library has no
such call (musl, macOS) nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


# A JSON body this big leaves tens of MiB of freed parse tree behind.
LARGE_BODY = 4 * 1024 * 1024


def trim_after_parsing(body_size: int) -> None:
    """After a JSON body of ``body_size`` bytes was parsed: its tree's pages back, if large."""
    if body_size >= LARGE_BODY:
        trim_heap()


def trim_heap() -> bool:
    """Return free heap pages to the OS; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def release_freed_memory() -> bool:
    """Collect cycles, then return free heap pages to the OS; False where that is not possible."""
    gc.collect()
    return trim_heap()
