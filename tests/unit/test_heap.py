"""A worker gives freed memory back to the OS (glibc's malloc_trim): after a full reconcile, and
after parsing a large Kitsu list."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kitsync.heap import _malloc_trim, release_freed_memory


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim")
def test_freed_memory_goes_back_to_the_os() -> None:
    # In a fresh interpreter, so the figures are its own: ~200 MiB of records too big for
    # Python's small-object allocator (malloc's, as response bodies and large dicts are), most
    # dropped, a few kept: without the trim, malloc keeps the pages of the dropped ones.
    before, after = _measured(
        """
        from kitsync.heap import release_freed_memory

        held = [bytes(1000) + str(i).encode() for i in range(200_000)]
        held = held[::50]
        before = rss()
        release_freed_memory()
        print(before, rss())
        """
    )
    assert after < before / 2, (before, after)


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim")
def test_a_large_kitsu_list_leaves_no_parse_tree_behind() -> None:
    # 60,000 tasks (a long series' project, ~50 MiB of JSON, most of it columns kitsync does
    # not keep) through the Kitsu client. The parse builds a tree of about 2.5 times the body in
    # malloc'd memory; without the trim its pages stay with the process after it.
    body_mib, grown, count = _measured(
        """
        import asyncio, json, uuid
        import httpx
        from kitsync.kitsu import KitsuClient

        def task(number):
            return {
                "id": str(uuid.UUID(int=number)), "type": "Task", "name": "main",
                "task_type_id": str(uuid.UUID(int=1)), "task_status_id": str(uuid.UUID(int=2)),
                "entity_id": str(uuid.UUID(int=10**9 + number // 3)),
                "project_id": str(uuid.UUID(int=3)), "assignees": [str(uuid.UUID(int=4))],
                "description": "a column kitsync does not keep " * 12,
                "created_at": "2026-12-05T10:00:00", "updated_at": "2026-12-05T10:00:00",
            }

        body = json.dumps([task(n) for n in range(60_000)]).encode()
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))

        async def main():
            async with KitsuClient("http://kitsu", bot_token="t", transport=transport) as kitsu:
                before = rss()
                tasks = await kitsu.tasks(str(uuid.UUID(int=3)))
                print(len(body) // 2**20, rss() - before, len(tasks))

        asyncio.run(main())
        """
    )
    assert count == 60_000
    assert grown < body_mib, f"reading {body_mib} MiB of tasks kept {grown} MiB"


def test_releasing_is_harmless_anywhere() -> None:
    assert release_freed_memory() is (_malloc_trim() is not None)


_RSS = """
def rss():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) // 1024
"""


def _measured(probe: str) -> list[int]:
    """The numbers ``probe`` prints, run in a fresh interpreter (its memory figures its own),
    with ``rss()`` (MiB) defined."""
    code = _RSS + textwrap.dedent(probe)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [int(word) for word in run.stdout.split()]
