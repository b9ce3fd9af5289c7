"""Scenario 1: every event delivered one to three times, in random order, by the receiver and
the poller at once. AYON ends equal to a full sync of Kitsu's final state."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.faults._bed import FaultBed

pytestmark = pytest.mark.faults


async def test_duplicated_shuffled_events_from_receiver_and_poller(
    bed: FaultBed, seed: int
) -> None:
    rng = random.Random(seed)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    await bed.start_beat()

    production = bed.new_production(shots=40, seed=seed)
    project = await bed.pair(production)
    events = bed.events(production)
    deliveries = [event for event in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)
    while deliveries:
        size = rng.randint(1, 25)
        batch, deliveries = deliveries[:size], deliveries[size:]
        answer = await bed.post(batch)
        assert answer.status_code == 202, answer.text
        await asyncio.sleep(rng.uniform(0, 0.05))

    await bed.converged(production, project)
