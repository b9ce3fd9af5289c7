"""The key queue with several worker PROCESSES on the real Redis: 1,000 triggers over 50 keys,
duplicated and shuffled; no key ever runs twice at once, every key runs after its last
trigger, and the key of a SIGKILLed worker is taken over when its lease expires."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from kitsync.worker.keyqueue import RedisKeyQueue

pytestmark = pytest.mark.integration

# One worker process: claims keys from a Redis list of scheduled tasks, "reconciles" each by
# appending (key, start, end) to its own log, then done(); done() -> True re-schedules the key.
WORKER = r"""
import asyncio, json, os, sys, time
import redis.asyncio as aioredis
from kitsync.worker.keyqueue import Claim, RedisKeyQueue

async def main(url, prefix, log_path, lease):
    redis = aioredis.Redis.from_url(url)
    queue = RedisKeyQueue(redis, prefix=prefix)
    owner = f"w{os.getpid()}"
    with open(log_path, "a") as log:
        while True:
            item = await redis.blpop([prefix + "tasks"], timeout=1)
            if item is None:
                continue
            key = item[1].decode()
            claim = await queue.claim(key, owner, lease)
            if claim is Claim.BUSY:
                await redis.rpush(prefix + "tasks", key)
                await asyncio.sleep(0.05)
                continue
            if claim is Claim.NOT_QUEUED:
                continue
            start = time.time()
            if key == os.environ.get("SLOW_KEY") and await redis.setnx(prefix + "slowed", 1):
                await asyncio.sleep(30)  # the first run of it hangs: its worker gets killed
            await asyncio.sleep(0.002)
            log.write(json.dumps([key, start, time.time()]) + "\n"); log.flush()
            if await queue.done(key, owner):
                await redis.rpush(prefix + "tasks", key)

asyncio.run(main(*sys.argv[1:4], float(sys.argv[4])))
"""


def _runs(logs: Path) -> list[tuple[str, float, float]]:
    runs = []
    for log in logs.glob("*.log"):
        for line in log.read_text().splitlines():
            key, start, end = json.loads(line)
            runs.append((key, start, end))
    return runs


async def test_many_processes_never_run_a_key_twice_at_once(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{redis_prefix}kq:"
    keys = [f"project/shot/{i:02d}" for i in range(50)]
    slow = keys[0]
    env = os.environ | {"SLOW_KEY": slow}
    workers = [
        subprocess.Popen(  # noqa: ASYNC220 - a test harness starting its own processes
            [sys.executable, "-c", WORKER, redis_url, prefix, str(tmp_path / f"w{i}.log"), "2"],
            env=env,
            start_new_session=True,
            stderr=(tmp_path / f"w{i}.err").open("wb"),
        )
        for i in range(4)
    ]
    queue = RedisKeyQueue(redis_url, prefix=prefix)
    tasks = aioredis.Redis.from_url(redis_url)  # the test's stand-in for the broker
    try:
        rng = random.Random(5)
        triggers = keys + [rng.choice(keys) for _ in range(1000 - len(keys))]
        rng.shuffle(triggers)
        last_trigger: dict[str, float] = {}
        for batch_start in range(0, len(triggers), 20):
            batch = triggers[batch_start : batch_start + 20]
            for key in batch:
                last_trigger[key] = time.time()
            for key in await queue.add(batch + batch[:5]):  # duplicates collapse
                await tasks.rpush(prefix + "tasks", key)
            await asyncio.sleep(0.01)
        # Kill the worker stuck on the slow key: its lease (2 s) expires and recover() or a
        # re-delivered task gives the key to another worker.
        deadline = time.monotonic() + 10
        holder = None
        while holder is None and time.monotonic() < deadline:
            stats = await queue.stats()
            holder = next((p.owner for p in stats.processing if p.key == slow), None)
            await asyncio.sleep(0.1)
        assert holder is not None, f"the slow key was never claimed: {await queue.stats()}"
        victim = next(w for w in workers if f"w{w.pid}" == holder)
        os.killpg(victim.pid, signal.SIGKILL)
        await asyncio.sleep(2.5)
        for key in await queue.recover(0):
            await tasks.rpush(prefix + "tasks", key)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = await queue.stats()
            if stats.queued == 0 and not stats.processing:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"queue never drained: {await queue.stats()}")
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(10)
        await queue.close()
        await tasks.aclose()

    runs = _runs(tmp_path)
    by_key: dict[str, list[tuple[float, float]]] = {}
    for key, start, end in runs:
        by_key.setdefault(key, []).append((start, end))
    for key, spans in by_key.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"{key} ran twice at once"
    # Every key ran after its last trigger (the slow one on another worker, after the kill).
    for key, triggered in last_trigger.items():
        assert any(end >= triggered for _, end in by_key.get(key, [])), f"{key} lost a trigger"
    assert len(runs) < len(triggers)  # triggers collapsed
