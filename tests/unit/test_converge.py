"""``converge``: plan again after a race with another writer; a race that never ends is
transient (retried later), any other refusal is not."""

from __future__ import annotations

import asyncio

import pytest

from kitsync.ayon import AyonBadRequest, AyonConflict
from kitsync.errors import TransientError
from kitsync.reconcile._apply import REPLANS, StillRacing, converge


def _run(failures: list[Exception]) -> tuple[int, str]:
    """Converge a plan whose apply raises ``failures`` in turn; (plans made, plan applied)."""
    made = 0

    async def make_plan() -> str:
        nonlocal made
        made += 1
        return f"plan {made}"

    async def apply(planned: str) -> None:
        if failures:
            raise failures.pop(0)

    applied = asyncio.run(converge(make_plan, apply, empty=lambda planned: False))
    return made, applied


def _raced() -> AyonConflict:
    return AyonConflict("409", status=409, detail="Folder with id 'x' already exists.")


def test_a_race_is_planned_again_from_fresh_reads() -> None:
    assert _run([_raced(), _raced()]) == (3, "plan 3")


def test_a_race_that_never_ends_is_transient() -> None:
    with pytest.raises(StillRacing) as raised:
        _run([_raced() for _ in range(REPLANS)])
    assert isinstance(raised.value, TransientError)
    assert "already exists" in str(raised.value)


def test_other_refusals_are_not_retried() -> None:
    with pytest.raises(AyonBadRequest):
        _run([AyonBadRequest("400", status=400)])
