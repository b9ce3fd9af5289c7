"""Scenario 9: clocks. (c) Workers whose machine clocks are 30 s ahead and 30 s behind Redis's,
while AYON fails a third of its requests (retries with countdowns, sent by one worker and run by
another): no retry is dropped and no key waits for the beat's recovery, which is set an hour
away here. (d) An event that Zou stamps a minute before the poller's cursor (a commit that landed
late, another Zou server's clock) is still read and reconciled.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
import redis.asyncio

from kitsync.redis_keys import RedisKeys
from kitsync.worker.cursor import RedisCursor
from tests.fakes.ayon import clear_faults, inject_failure_rate
from tests.faults._bed import FAKETIME, FaultBed

pytestmark = pytest.mark.faults


@pytest.mark.skipif(FAKETIME is None, reason="libfaketime not installed (.ci/run installs it)")
async def test_workers_with_skewed_clocks_lose_no_retry_and_no_key(
    bed: FaultBed, seed: int
) -> None:
    rng = random.Random(seed)
    bed.env["KITSYNC_RECOVER_AFTER"] = "3600"  # only the retries themselves may bring keys back
    await bed.start_worker(concurrency=2, clock="+30s")
    await bed.start_worker(concurrency=2, clock="-30s")
    await bed.start_beat()
    production = bed.new_production(shots=24, seed=seed)
    project = await bed.pair(production)
    inject_failure_rate(bed.ayon_app, 0.33, seed=seed)
    events = bed.events(production)
    rng.shuffle(events)
    for start in range(0, len(events), 20):
        answer = await bed.post(events[start : start + 20])
        assert answer.status_code == 202, answer.text
    await asyncio.sleep(20)  # retries sent and run across the skewed workers
    clear_faults(bed.ayon_app)
    await bed.converged(production, project, seconds=240)
    logs = "".join(path.read_text(errors="replace") for path in bed.logs.glob("*.log"))
    assert "re-scheduled" not in logs  # no key needed the recovery


async def test_an_event_stamped_before_the_cursor_is_read(bed: FaultBed, seed: int) -> None:
    await bed.start_worker(concurrency=2)
    await bed.start_beat()
    production = bed.new_production(shots=12, seed=seed)
    project = await bed.pair(production)
    events = bed.events(production)
    for start in range(0, len(events), 50):
        await bed.post(events[start : start + 50])
    await bed.converged(production, project)

    shot = production.shot_ids[0]
    bed.kitsu.update_entity(shot, name="SH_LATE")  # no webhook: the poller's to find
    await bed.converged(production, project)
    client = redis.asyncio.Redis.from_url(bed.redis_url)
    try:
        cursor = await RedisCursor(client, RedisKeys(bed.prefix)).get()
    finally:
        await client.aclose()
    assert cursor is not None
    # A change committed late: Zou stamps it a minute before the cursor the poller moved past.
    bed.kitsu.update_entity(shot, name="SH_LATER")
    bed.kitsu.backdate_newest_events(1, cursor - timedelta(seconds=60))
    await bed.converged(production, project)
