"""The key queue contract, run on the in-process stub and on the Redis backend over fakeredis.

``KeyQueueContract`` is also run on the real Redis by tests/integration/test_keyqueue_redis.py.
A subclass provides three fixtures: ``queue`` (an empty queue), ``advance`` (move the queue's
clock forward: the stub's clock is shifted, Redis time is waited for) and ``same_store`` (another
handle on the same queue, as a second worker process would open).
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import BusyLoadingError, OutOfMemoryError, ResponseError

from kitsync.worker.keyqueue import (
    Claim,
    KeyQueue,
    KeyQueueError,
    KeyQueueUnavailable,
    QueueStats,
    RedisKeyQueue,
    StubKeyQueue,
)

Advance = Callable[[float], Awaitable[None]]
SameStore = Callable[[], Awaitable[KeyQueue]]

LEASE = 0.05  # short, so the Redis backends see it expire after a brief real wait
EMPTY = QueueStats(queued=0, processing=(), dirty=0, dead=0)
KEY = "proj/shot/1"


async def run_once(queue: KeyQueue, key: str, owner: str) -> bool:
    """claim + done, asserting the claim was granted; returns what done returned."""
    assert await queue.claim(key, owner, 30) is Claim.GRANTED
    return await queue.done(key, owner)


@dataclass
class Simulation:
    """Workers, each with its own queue handle, draining tasks that triggers schedule.

    A task is a message a broker would deliver at least once. Every GRANTED claim is recorded
    with the time it was granted; ``running`` catches two simultaneous runs of one key.
    """

    queues: list[KeyQueue]
    keys: list[str]
    triggers: int
    duplicate_rate: float = 0.0
    crash_rate: float = 0.0
    max_crashes: int = 0
    retry_rate: float = 0.0
    lease: float = 5.0  # long enough that a stalled event loop never lets a lease lapse mid-run
    tasks: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    running: dict[str, str] = field(default_factory=dict)
    runs: dict[str, list[float]] = field(default_factory=dict)
    last_trigger: dict[str, float] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)
    crashes: int = 0
    pending: int = 0  # tasks scheduled and not yet finished or dropped
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set when pending drops to 0
    rng: random.Random = field(default_factory=random.Random)

    def schedule(self, key: str, delay: float = 0.0) -> None:
        # At-least-once delivery: now and then the broker hands the same task out twice.
        for _ in range(2 if self.rng.random() < self.duplicate_rate else 1):
            self.pending += 1
            if delay:
                asyncio.get_running_loop().call_later(delay, self.tasks.put_nowait, key)
            else:
                self.tasks.put_nowait(key)

    async def trigger(self) -> None:
        queue, rng = self.queues[0], self.rng
        for _ in range(self.triggers):
            batch = rng.sample(self.keys, rng.randint(1, min(3, len(self.keys))))
            started = time.monotonic()
            for key in batch:
                self.last_trigger[key] = started
            for key in await queue.add(batch):
                self.schedule(key)
            await asyncio.sleep(rng.random() * 0.002)

    async def work(self, queue: KeyQueue, owner: str, rng: random.Random) -> None:
        while True:
            key = await self.tasks.get()
            claim = await queue.claim(key, owner, self.lease)
            if claim is Claim.BUSY:
                self.schedule(key, 0.005)
            elif claim is Claim.GRANTED:
                await self.run(queue, key, owner, rng)
            self.pending -= 1
            if not self.pending:
                self.idle.set()

    async def run(self, queue: KeyQueue, key: str, owner: str, rng: random.Random) -> None:
        self.runs.setdefault(key, []).append(time.monotonic())
        if key in self.running:
            self.overlaps.append(f"{key}: {self.running[key]} and {owner}")
        self.running[key] = owner
        await asyncio.sleep(rng.random() * 0.003)
        if self.running.pop(key, None) != owner:
            self.overlaps.append(f"{key}: {owner} lost it mid-run")
        roll = rng.random()
        if roll < self.crash_rate and self.crashes < self.max_crashes:
            # The worker dies mid-run: nothing is released; the broker redelivers the task
            # (acks_late) and another worker takes the key over once the lease expires.
            self.crashes += 1
            self.schedule(key, 0.01)
        elif roll < self.crash_rate + self.retry_rate:
            assert await queue.fail(key, owner, "transient", retry_in=0.002)
            self.schedule(key, 0.002)
        elif await queue.done(key, owner):
            self.schedule(key)

    async def play(self, seed: int, limit: float) -> None:
        self.rng.seed(seed)
        workers = [
            asyncio.create_task(self.work(queue, f"worker-{i}", random.Random(seed + i)))
            for i, queue in enumerate(self.queues)
        ]
        drained = asyncio.create_task(self.drain())
        try:
            async with asyncio.timeout(limit):
                await asyncio.wait([drained, *workers], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (drained, *workers):
                task.cancel()
            outcomes = await asyncio.gather(drained, *workers, return_exceptions=True)
        # A worker that stopped on its own raised: surface that, not a timeout.
        errors = [e for e in outcomes if not isinstance(e, asyncio.CancelledError | None)]
        assert errors == []

    async def drain(self) -> None:
        await self.trigger()
        while self.pending:
            self.idle.clear()
            await self.idle.wait()

    def check(self) -> None:
        assert self.overlaps == []
        for key, triggered in self.last_trigger.items():
            # Level-triggered guarantee: the last trigger of every key is followed by a run.
            assert self.runs[key][-1] > triggered, key


class KeyQueueContract:
    """Every backend passes these."""

    async def test_add_schedules_each_new_key_once(self, queue: KeyQueue) -> None:
        assert await queue.add(["a", "b", "a"]) == ["a", "b"]
        assert await queue.add(["b", "c"]) == ["c"]
        assert await queue.add([]) == []
        assert (await queue.stats()).queued == 3

    async def test_concurrent_adds_of_one_key_schedule_exactly_one(
        self, queue: KeyQueue, same_store: SameStore
    ) -> None:
        handles = [queue] + [await same_store() for _ in range(3)]
        results = await asyncio.gather(*(handles[i % 4].add([KEY, "x"]) for i in range(40)))
        scheduled = [key for result in results for key in result]
        assert sorted(scheduled) == sorted([KEY, "x"])

    async def test_claim_outcomes(self, queue: KeyQueue) -> None:
        assert await queue.claim(KEY, "w1", 30) is Claim.NOT_QUEUED
        await queue.add([KEY])
        assert await queue.claim(KEY, "w1", 30) is Claim.GRANTED
        assert await queue.claim(KEY, "w2", 30) is Claim.BUSY
        # The same task delivered again to the same worker id may go on.
        assert await queue.claim(KEY, "w1", 30) is Claim.GRANTED
        assert await queue.done(KEY, "w1") is False
        # A duplicate delivery of the task that already ran is dropped.
        assert await queue.claim(KEY, "w2", 30) is Claim.NOT_QUEUED
        assert await queue.stats() == EMPTY

    async def test_concurrent_claims_grant_one_owner(self, queue: KeyQueue) -> None:
        await queue.add([KEY])
        claims = await asyncio.gather(*(queue.claim(KEY, f"w{i}", 30) for i in range(20)))
        assert claims.count(Claim.GRANTED) == 1
        assert claims.count(Claim.BUSY) == 19
        (processing,) = (await queue.stats()).processing
        assert processing.owner == f"w{claims.index(Claim.GRANTED)}"

    async def test_triggers_while_processing_cause_exactly_one_more_run(
        self, queue: KeyQueue
    ) -> None:
        await queue.add([KEY])
        assert await queue.claim(KEY, "w1", 30) is Claim.GRANTED
        assert await queue.add([KEY]) == []
        assert await queue.add([KEY, KEY]) == []
        stats = await queue.stats()
        assert (stats.queued, stats.dirty, len(stats.processing)) == (0, 1, 1)
        assert await queue.done(KEY, "w1") is True
        # Queued again: further triggers collapse into that one run.
        assert await queue.add([KEY]) == []
        assert await run_once(queue, KEY, "w2") is False
        assert await queue.claim(KEY, "w1", 30) is Claim.NOT_QUEUED
        assert await queue.stats() == EMPTY

    async def test_claim_clears_the_dirty_mark(self, queue: KeyQueue) -> None:
        await queue.add([KEY])
        await queue.claim(KEY, "w1", 30)
        await queue.add([KEY])
        # Redelivered to the same worker: the new run starts after the trigger, so covers it.
        assert await queue.claim(KEY, "w1", 30) is Claim.GRANTED
        assert (await queue.stats()).dirty == 0
        assert await queue.done(KEY, "w1") is False

    async def test_lease_is_exclusive_until_it_expires(
        self, queue: KeyQueue, advance: Advance
    ) -> None:
        await queue.add([KEY])
        assert await queue.claim(KEY, "w1", LEASE) is Claim.GRANTED
        assert await queue.claim(KEY, "w2", LEASE) is Claim.BUSY
        assert await queue.extend(KEY, "w1", 30) is True
        await advance(LEASE * 2)
        assert await queue.claim(KEY, "w2", LEASE) is Claim.BUSY
        assert await queue.extend(KEY, "w2", LEASE) is False
        assert await queue.done(KEY, "w1") is False
        assert await queue.stats() == EMPTY

    async def test_expired_lease_is_taken_over_and_old_owner_is_ignored(
        self, queue: KeyQueue, advance: Advance
    ) -> None:
        await queue.add([KEY])
        assert await queue.claim(KEY, "dead-worker", LEASE) is Claim.GRANTED
        await queue.add([KEY])
        await advance(LEASE * 2)
        before = await queue.stats()
        assert before.processing[0].expires_in < 0
        assert await queue.claim(KEY, "w2", 30) is Claim.GRANTED
        # The old owner comes back: it owns nothing any more and changes nothing.
        assert await queue.extend(KEY, "dead-worker", 30) is False
        assert await queue.done(KEY, "dead-worker") is False
        assert await queue.fail(KEY, "dead-worker", "late", retry_in=None) is False
        after = await queue.stats()
        assert [(p.key, p.owner) for p in after.processing] == [(KEY, "w2")]
        assert (after.queued, after.dirty, after.dead) == (0, 0, 0)
        assert await queue.attempts(KEY) == 2
        assert await queue.done(KEY, "w2") is False
        assert await queue.stats() == EMPTY

    async def test_attempts_count_claims_until_done(self, queue: KeyQueue) -> None:
        await queue.add([KEY])
        assert await queue.attempts(KEY) == 0
        for attempt in (1, 2, 3):
            assert await queue.claim(KEY, "w1", 30) is Claim.GRANTED
            assert await queue.attempts(KEY) == attempt
            assert await queue.fail(KEY, "w1", "timeout", retry_in=1) is True
        stats = await queue.stats()
        assert (stats.queued, stats.processing, stats.dead) == (1, (), 0)
        assert await run_once(queue, KEY, "w2") is False
        assert await queue.attempts(KEY) == 0

    async def test_an_early_claim_of_a_retry_is_dropped_and_costs_no_attempt(
        self, queue: KeyQueue
    ) -> None:
        await queue.add([KEY])
        await queue.claim(KEY, "w1", 30)
        assert await queue.fail(KEY, "w1", "503", retry_in=60) is True
        # A duplicate task (recovery, redelivery) long before the retry is due.
        assert await queue.claim(KEY, "w2", 30) is Claim.NOT_DUE
        assert await queue.attempts(KEY) == 1
        assert (await queue.stats()).queued == 1

    async def test_retry_replaces_the_pending_rerun(self, queue: KeyQueue) -> None:
        await queue.add([KEY])
        await queue.claim(KEY, "w1", 30)
        await queue.add([KEY])
        assert await queue.fail(KEY, "w1", "503", retry_in=0) is True
        assert await queue.add([KEY]) == []
        assert await run_once(queue, KEY, "w1") is False
        assert await queue.stats() == EMPTY

    async def test_dead_letters_are_listed_and_replayed(self, queue: KeyQueue) -> None:
        await queue.add(["a", "b", "c"])
        for key in ("a", "b", "c"):
            await queue.claim(key, "w1", 30)
        await queue.claim("a", "w1", 30)  # a second attempt
        assert await queue.fail("a", "w1", "KitsuNotFound: shot gone", retry_in=None) is False
        assert await queue.fail("b", "w1", "boom", retry_in=None) is False
        letters = await queue.dead_letters()
        assert [(d.key, d.error, d.attempts) for d in letters] == [
            ("a", "KitsuNotFound: shot gone", 2),
            ("b", "boom", 1),
        ]
        assert abs(letters[0].failed_at - time.time()) < 60
        assert await queue.attempts("a") == 0
        assert await queue.claim("a", "w1", 30) is Claim.NOT_QUEUED
        # "c" is processing, not dead: replaying it does nothing.
        assert await queue.replay(["b", "c", "missing"]) == ["b"]
        assert [d.key for d in await queue.dead_letters()] == ["a"]
        assert await queue.replay() == ["a"]
        assert await queue.dead_letters() == []
        stats = await queue.stats()
        assert (stats.queued, len(stats.processing), stats.dead) == (2, 1, 0)

    async def test_replaying_a_key_that_runs_makes_it_run_again(self, queue: KeyQueue) -> None:
        await queue.add([KEY])
        await queue.claim(KEY, "w1", 30)
        await queue.fail(KEY, "w1", "boom", retry_in=None)
        await queue.add([KEY])  # a new trigger runs a dead key; its letter stays until it works
        await queue.claim(KEY, "w2", 30)
        assert await queue.replay() == []
        assert await queue.done(KEY, "w2") is True
        assert await queue.dead_letters() == []

    async def test_success_clears_the_dead_letter(self, queue: KeyQueue) -> None:
        await queue.add([KEY])
        await queue.claim(KEY, "w1", 30)
        await queue.fail(KEY, "w1", "boom", retry_in=None)
        assert await queue.add([KEY]) == [KEY]
        assert [d.key for d in await queue.dead_letters()] == [KEY]
        assert await run_once(queue, KEY, "w1") is False
        assert await queue.stats() == EMPTY

    async def test_dead_letter_with_a_pending_trigger_runs_again(self, queue: KeyQueue) -> None:
        await queue.add([KEY])
        await queue.claim(KEY, "w1", 30)
        await queue.add([KEY])
        assert await queue.fail(KEY, "w1", "boom", retry_in=None) is True
        stats = await queue.stats()
        assert (stats.queued, stats.dirty, stats.dead) == (1, 0, 1)

    async def test_drop_forgets_dead_letters(self, queue: KeyQueue) -> None:
        await queue.add(["a", "b", "c"])
        for key in ("a", "b", "c"):
            await queue.claim(key, "w1", 30)
            await queue.fail(key, "w1", "boom", retry_in=None)
        assert await queue.drop(["b", "missing"]) == ["b"]
        assert sorted(await queue.drop()) == ["a", "c"]
        assert await queue.replay() == []
        assert await queue.stats() == EMPTY

    async def test_recover_reschedules_keys_whose_task_was_lost(
        self, queue: KeyQueue, advance: Advance
    ) -> None:
        await queue.add(["never-sent", "running"])
        assert await queue.claim("running", "dead-worker", LEASE) is Claim.GRANTED
        await queue.add(["running"])
        assert await queue.recover(60) == []
        await advance(LEASE * 2)
        assert sorted(await queue.recover(LEASE / 2)) == ["never-sent", "running"]
        # Recovered keys count as due now: not returned again until that much time passes.
        assert await queue.recover(60) == []
        stats = await queue.stats()
        assert (stats.queued, stats.processing, stats.dirty) == (2, (), 0)
        assert await queue.done("running", "dead-worker") is False
        assert await run_once(queue, "running", "w2") is False

    async def test_stats_show_owners_and_lease_ages(self, queue: KeyQueue) -> None:
        await queue.add(["a", "b", "c"])
        await queue.claim("b", "w2", 30)
        await queue.claim("a", "w1", 10)
        await queue.add(["a"])
        stats = await queue.stats()
        assert (stats.queued, stats.dirty, stats.dead) == (1, 1, 0)
        assert [(p.key, p.owner) for p in stats.processing] == [("a", "w1"), ("b", "w2")]
        a, b = stats.processing
        assert 0 <= a.age < 5 and 5 < a.expires_in < 10.01
        assert 0 <= b.age < 5 and 25 < b.expires_in < 30.01

    async def test_due_in_and_retrying_say_when_a_failed_key_runs_again(
        self, queue: KeyQueue, advance: Advance
    ) -> None:
        await queue.add(["a", "b"])
        assert await queue.due_in("nope") is None
        assert (await queue.due_in("b") or 0.0) <= 0  # due now
        await queue.claim("a", "w1", 30)
        assert await queue.due_in("a") is None  # processing, not queued
        await queue.fail("a", "w1", "TransientError: 503", retry_in=20)
        left = await queue.due_in("a")
        assert left is not None and 19 < left <= 20
        assert (await queue.stats()).retrying == 1
        await advance(21)
        left = await queue.due_in("a")
        assert left is not None and left < 0
        await queue.claim("a", "w1", 30)
        await queue.done("a", "w1")
        assert (await queue.stats()).retrying == 0

    async def test_seen_marks_expire_after_their_ttl(
        self, queue: KeyQueue, advance: Advance
    ) -> None:
        await queue.keep_seen(["e1", "e2", "e1"], 1)
        await queue.keep_seen(["e3"], 60)
        await queue.keep_seen([], 60)
        assert await queue.unseen(["e1", "e2", "e3", "e4"]) == ["e4"]
        await advance(1.2)
        assert await queue.unseen(["e1", "e2", "e3", "e4"]) == ["e1", "e2", "e4"]

    async def test_keep_seen_extends_unless_only_new(
        self, queue: KeyQueue, advance: Advance
    ) -> None:
        await queue.keep_seen(["e1", "e2"], 1)
        await queue.keep_seen(["e1", "e3"], 60)  # extends e1, marks e3
        await queue.keep_seen(["e2", "e4"], 60, only_new=True)  # e2 keeps its second
        await advance(1.2)
        assert await queue.unseen(["e1", "e2", "e3", "e4"]) == ["e2"]

    async def test_only_new_leaves_a_longer_mark_alone(
        self, queue: KeyQueue, advance: Advance
    ) -> None:
        await queue.keep_seen(["e1"], 60)  # the ingest's mark, before the sink's
        await queue.keep_seen(["e1"], 1, only_new=True)
        await advance(1.2)
        assert await queue.unseen(["e1"]) == []

    async def test_unseen_reads_without_marking(self, queue: KeyQueue) -> None:
        assert await queue.unseen(["e1", "e2", "e1"]) == ["e1", "e2"]
        assert await queue.unseen(["e1"]) == ["e1"]  # still unmarked
        await queue.keep_seen(["e1"], 60)
        assert await queue.unseen(["e2", "e1", "e3"]) == ["e2", "e3"]
        assert await queue.unseen([]) == []

    async def test_arguments_are_checked(self, queue: KeyQueue) -> None:
        with pytest.raises(TypeError):
            await queue.add(KEY)
        with pytest.raises(ValueError, match="owner"):
            await queue.claim(KEY, "", 30)
        for lease in (0, -1, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="lease_seconds"):
                await queue.claim(KEY, "w1", lease)
        with pytest.raises(ValueError, match="retry_in"):
            await queue.fail(KEY, "w1", "x", retry_in=-1)
        with pytest.raises(ValueError, match="ttl_seconds"):
            await queue.keep_seen(["e1"], 0)
        with pytest.raises(ValueError, match="older_than_seconds"):
            await queue.recover(-1)
        assert await queue.stats() == EMPTY

    async def test_workers_never_run_a_key_twice_at_once(
        self, queue: KeyQueue, same_store: SameStore
    ) -> None:
        queues = [queue] + [await same_store() for _ in range(3)]
        keys = [f"p/shot/{i}" for i in range(4)]
        sim = Simulation(queues, keys, triggers=60, duplicate_rate=0.3, retry_rate=0.1)
        await sim.play(seed=7, limit=20)
        sim.check()
        assert await queue.stats() == EMPTY


def shifting_clock() -> tuple[Callable[[], float], Advance]:
    """Real time plus an offset that ``advance`` moves forward without sleeping."""
    offset = [0.0]

    async def advance(seconds: float) -> None:
        offset[0] += seconds

    return (lambda: time.time() + offset[0]), advance


class TestStub(KeyQueueContract):
    @pytest.fixture
    def clock(self) -> tuple[Callable[[], float], Advance]:
        return shifting_clock()

    @pytest.fixture
    def queue(self, clock: tuple[Callable[[], float], Advance]) -> StubKeyQueue:
        return StubKeyQueue(clock[0])

    @pytest.fixture
    def advance(self, clock: tuple[Callable[[], float], Advance]) -> Advance:
        return clock[1]

    @pytest.fixture
    def same_store(self, queue: StubKeyQueue) -> SameStore:
        async def same() -> KeyQueue:
            return queue  # one process: every worker shares the instance

        return same

    async def test_expired_seen_ids_are_forgotten(self) -> None:
        clock, advance = shifting_clock()
        queue = StubKeyQueue(clock)
        await queue.keep_seen([f"e{i}" for i in range(100)], 1)
        await advance(2)
        await queue.keep_seen(["new"], 1, only_new=True)
        assert len(queue._seen) == 1


async def real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class TestRedisOnFakeRedis(KeyQueueContract):
    PREFIX = "test:kq:"

    @pytest.fixture
    def server(self) -> fakeredis.FakeServer:
        return fakeredis.FakeServer()

    @pytest.fixture
    async def queue(self, server: fakeredis.FakeServer) -> AsyncIterator[RedisKeyQueue]:
        client = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
        queue = RedisKeyQueue(client, prefix=self.PREFIX)
        yield queue
        # Nothing outside the prefix, on a server only this test used.
        assert all(str(key).startswith(self.PREFIX) for key in await client.keys("*"))
        await client.aclose()

    @pytest.fixture
    def advance(self) -> Advance:
        return real_sleep

    @pytest.fixture
    async def same_store(self, server: fakeredis.FakeServer) -> AsyncIterator[SameStore]:
        clients: list[aioredis.Redis] = []

        async def same() -> KeyQueue:
            # Raw bytes replies, as a client that does not decode would give.
            clients.append(fakeredis.FakeAsyncRedis(server=server))
            return RedisKeyQueue(clients[-1], prefix=self.PREFIX)

        yield same
        for client in clients:
            await client.aclose()

    async def test_key_layout(self, queue: RedisKeyQueue, server: fakeredis.FakeServer) -> None:
        await queue.add(["a", "b", "c"])
        await queue.claim("a", "w1", 30)
        await queue.add(["a"])
        await queue.claim("b", "w1", 30)
        await queue.fail("b", "w1", "boom", retry_in=None)
        await queue.keep_seen(["event-1"], 60)
        client = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
        names = ("queued", "owner", "lease", "since", "dirty", "attempts", "dead", "seen:event-1")
        assert sorted(await client.keys("*")) == sorted(self.PREFIX + name for name in names)
        assert 0 < await client.ttl(self.PREFIX + "seen:event-1") <= 60
        assert await client.hget(self.PREFIX + "owner", "a") == "w1"
        await client.aclose()

    async def test_scripts_survive_a_script_flush(self, queue: RedisKeyQueue) -> None:
        assert await queue.add([KEY]) == [KEY]
        await queue._redis.script_flush()
        assert await queue.claim(KEY, "w1", 30) is Claim.GRANTED

    async def test_two_prefixes_are_two_queues(self, server: fakeredis.FakeServer) -> None:
        client = fakeredis.FakeAsyncRedis(server=server)
        one, two = (RedisKeyQueue(client, prefix=p) for p in ("one:", "two:"))
        assert await one.add([KEY]) == [KEY]
        assert await two.add([KEY]) == [KEY]
        await one.keep_seen(["e"], 60)
        assert await one.unseen(["e"]) == [] and await two.unseen(["e"]) == ["e"]
        await client.aclose()

    async def test_empty_prefix_is_refused(self) -> None:
        with pytest.raises(ValueError, match="prefix"):
            RedisKeyQueue(fakeredis.FakeAsyncRedis(), prefix="")

    async def test_foreign_data_under_the_prefix_is_a_typed_error(
        self, queue: RedisKeyQueue
    ) -> None:
        await queue._redis.set(self.PREFIX + "owner", "not a hash")
        with pytest.raises(KeyQueueError, match="refused") as caught:
            await queue.add([KEY])
        assert not isinstance(caught.value, KeyQueueUnavailable)
        await queue._redis.delete(self.PREFIX + "owner")

    async def test_close_leaves_a_shared_client_open(self, queue: RedisKeyQueue) -> None:
        await queue.close()
        assert await queue.add([KEY]) == [KEY]


async def test_unreachable_redis_is_transient() -> None:
    port = _closed_port()
    queue = RedisKeyQueue(f"redis://127.0.0.1:{port}/0", prefix=f"unused-{uuid.uuid4().hex}:")
    with pytest.raises(KeyQueueUnavailable, match="Redis unavailable"):
        await queue.add([KEY])
    with pytest.raises(KeyQueueUnavailable):
        await queue.dead_letters()
    await queue.close()


class _Refusing(fakeredis.FakeAsyncRedis):
    """A Redis that answers every command with one error reply."""

    reply: Exception

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        raise self.reply


@pytest.mark.parametrize(
    "reply",
    [
        ResponseError(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently "
            "unable to persist to disk."
        ),
        OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
        ResponseError("BUSY Redis is busy running a script."),
        BusyLoadingError("Redis is loading the dataset in memory"),
    ],
)
async def test_a_redis_that_cannot_write_now_is_transient(reply: Exception) -> None:
    """Disk full, out of memory, a long script, a restart loading its data: the work is retried
    later (an ingest, a receiver's 503), not refused for good."""
    client = _Refusing()
    client.reply = reply
    queue = RedisKeyQueue(client, prefix=f"refusing-{uuid.uuid4().hex}:")
    with pytest.raises(KeyQueueUnavailable, match="Redis unavailable"):
        await queue.add([KEY])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
