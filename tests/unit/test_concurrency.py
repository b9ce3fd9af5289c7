"""The task group helper: the first failure comes out bare, the other tasks are cancelled."""

from __future__ import annotations

import asyncio

import pytest

from kitsync.ayon import AyonUnavailable
from kitsync.concurrency import task_group


async def test_results_of_tasks_that_all_succeed() -> None:
    async with task_group() as group:
        one = group.create_task(asyncio.sleep(0, result=1))
        two = group.create_task(asyncio.sleep(0, result=2))
    assert (one.result(), two.result()) == (1, 2)


async def test_the_first_failure_is_raised_itself_and_the_rest_cancelled() -> None:
    async def fail(after: float, error: Exception) -> None:
        await asyncio.sleep(after)
        raise error

    first = AyonUnavailable("AYON answered 503")
    with pytest.raises(AyonUnavailable) as raised:
        async with task_group() as group:
            group.create_task(fail(0, first))
            slow = group.create_task(fail(10, ValueError("never raised")))
    assert raised.value is first
    assert slow.cancelled()


async def test_a_failure_of_the_body_is_raised_itself() -> None:
    with pytest.raises(KeyError):
        async with task_group() as group:
            pending = group.create_task(asyncio.sleep(10))
            raise KeyError("body")
    assert pending.cancelled()
