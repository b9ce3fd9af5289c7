"""Scenario 2: a worker SIGKILLed at a random point, 20 seeded runs: while it reconciles the keys
of a production's events, and while it runs a full project reconcile. Half the kills take a
whole worker (its node died: its reserved tasks stay unacknowledged in Redis), half one pool
process (the OOM killer: Celery gives its task back). AYON still ends equal to a full sync."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.faults._bed import FaultBed

pytestmark = pytest.mark.faults

RUNS = 20


async def test_workers_killed_at_random_points_lose_nothing(bed: FaultBed, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    await bed.start_beat()

    for run in range(RUNS):
        during = "events" if run % 2 == 0 else "full reconcile"
        whole = rng.random() < 0.5
        production = bed.new_production(shots=12, seed=seed * 100 + run)
        project = await bed.pair(production)
        if during == "events":
            answer = await bed.post(bed.events(production))
            assert answer.status_code == 202, answer.text
        else:  # the poller brings the events in as well, as it would
            bed.celery.send_task("kitsync.reconcile_project", args=(production.project_id,))
        await asyncio.sleep(rng.uniform(0.0, 2.0))
        victim = rng.choice(bed.workers)
        killed = bed.kill(victim, pool_child_only=not whole)
        if whole:
            await bed.start_worker(concurrency=2)
        context = (
            f"run {run} (seed {seed}): killed {'worker' if whole else 'pool process'} "
            f"{killed} during {during}"
        )
        print(context)
        try:
            await bed.converged(production, project, seconds=90)
        except AssertionError as failure:
            raise AssertionError(f"{context}: {failure}") from None
    # The kills did land in the middle of reconciles (not only between them).
    assert bed.interrupted() >= RUNS // 4, f"only {bed.interrupted()} reconciles were cut short"
