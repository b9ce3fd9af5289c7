"""AYON -> Kitsu on the fakes: a person changes a task in the fake AYON (its events and enroll
queue as recorded from AYON 1.16), kitsync drains AYON's events into task keys and reconciles
them (both halves under the one key) against the fake Kitsu. Bases in the real Redis.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from kitsync.ayon_to_kitsu import (
    DrainOutcome,
    RedisSyncState,
    TwoWay,
    UnmappedStatus,
    drain_ayon_events,
)
from kitsync.ayon_to_kitsu.state import Agreed, TaskState
from kitsync.config import TwoWayField, load_settings
from kitsync.core.routing import Key
from kitsync.errors import TransientError
from kitsync.reconcile.context import SyncContext
from kitsync.reconcile.dispatch import reconcile_key
from kitsync.reconcile.project import reconcile_project
from kitsync.reconcile.result import ReconcileResult
from kitsync.worker.runtime import Runtime
from kitsync.worker.tasks import ayon_events
from tests.fakes.ayon import (
    HUMAN_KEY,
    SERVICE_KEY,
    create_app,
    create_project,
    inject_failures,
)
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import serve
from tests.integration.sync_bed import SyncBed, sync_bed

pytestmark = pytest.mark.integration

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
BOTH: frozenset[TwoWayField] = frozenset({"status", "assignees"})
KITSU_STATUS = {  # Kitsu's global statuses (tests/fixtures/kitsu/global/task_status.json)
    "Work In Progress": "80f37f26-2d12-471d-bb04-8779d0942089",
    "Waiting For Approval": "41b6601e-c698-460e-8cdf-7afd50bb15d8",
    "Done": "bd835f46-d57c-4259-823e-41de3368dd3c",
    "Retake": "cf946c98-0595-4380-9d41-23f1fe535e13",
}
ALICE = "bc5a37f9-8867-4cad-9b68-ef3f2cac82d3"
BRUNO = "cd7f21a3-79d8-4793-afef-15ad29a32cf6"
CHLOE = "469a673f-6050-42bb-9a86-0c80fda21b47"  # no AYON user
KITSU_WRITE_METHODS = ("POST", "PUT", "DELETE")


@dataclass
class Bed:
    bed: SyncBed
    ctx: SyncContext
    state: RedisSyncState
    sender_prefix: str

    @property
    def kitsu(self) -> FakeKitsu:
        return self.bed.kitsu

    def entity_writes(self) -> list[tuple[str, str]]:
        """AYON requests that change entities (not events, not the enroll queue)."""
        return [(m, p) for m, p in self.bed.ayon_writes() if p != "/api/enroll"]

    def kitsu_writes(self) -> list[tuple[str, str]]:
        return [
            (m, p) for m, p in self.kitsu.requests if m in KITSU_WRITE_METHODS and "auth" not in p
        ]

    async def tasks(self) -> dict[str, dict[str, Any]]:
        """Kitsu task id -> the AYON task row (id, name, status, assignees)."""
        rows = await self.bed.pool.fetch(
            f"SELECT id, name, status, assignees, data->>'kitsuId' AS kitsu_id "
            f"FROM project_{self.bed.project}.tasks"
        )
        return {r["kitsu_id"]: dict(r) for r in rows}

    async def person_sets(self, kitsu_id: str, **patch: Any) -> None:
        """A person (alice, no X-Sender headers) edits the task in AYON's web UI."""
        task_id = (await self.tasks())[kitsu_id]["id"].hex
        async with httpx.AsyncClient(base_url=self.bed.ayon_url) as client:
            response = await client.patch(
                f"/api/projects/{self.bed.project}/tasks/{task_id}",
                json=patch,
                headers={"x-api-key": HUMAN_KEY},
            )
        assert response.status_code == 204, response.text

    async def drain(self, queue: set[str], **kwargs: Any) -> DrainOutcome:
        async def queue_keys(keys: Sequence[str]) -> None:
            queue.update(keys)

        return await drain_ayon_events(
            self.ctx.writer,
            self.ctx.reader,
            self.state,
            BOTH,
            queue_keys,
            sender_prefix=self.sender_prefix,
            **kwargs,
        )

    async def reconcile(self, keys: Iterable[str]) -> list[ReconcileResult]:
        return [await reconcile_key(self.ctx, Key.parse(key)) for key in sorted(keys)]

    async def sync_round(self) -> list[ReconcileResult]:
        """What the worker does: drain AYON's events, then reconcile the keys they dirtied."""
        keys: set[str] = set()
        await self.drain(keys)
        return await self.reconcile(keys)

    def kitsu_task(self, kitsu_id: str) -> dict[str, Any]:
        return self.kitsu._state.store.tasks[kitsu_id]


@asynccontextmanager
async def two_way_bed(pg_dsn: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Bed]:
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    async with sync_bed(pg_dsn, kitsu, FILM) as bed:
        redis = aioredis.Redis.from_url(redis_url)
        try:
            state = RedisSyncState(redis, redis_prefix)
            ctx = replace(bed.ctx, two_way=TwoWay(BOTH, state))
            report = await reconcile_project(ctx, FILM)  # also records every task's base
            assert not report.failures
            two_way = Bed(bed, ctx, state, f"test-{uuid.uuid4().hex[:8]}")
            await two_way.sync_round()  # events of the full sync: kitsync's own, none handed out
            yield two_way
        finally:
            await redis.aclose()


async def _a_task(bed: Bed) -> str:
    """A Kitsu task id that AYON has, chosen deterministically."""
    return sorted(await bed.tasks())[0]


async def _a_task_to_change(bed: Bed) -> tuple[str, str]:
    """That task, and a status of Kitsu's it does not have."""
    task = await _a_task(bed)
    retake = bed.kitsu_task(task)["task_status_id"] == KITSU_STATUS["Retake"]
    return task, "Done" if retake else "Retake"


async def test_a_status_changed_in_ayon_reaches_kitsu_as_a_comment(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        task = await _a_task(bed)
        new = (
            "Waiting For Approval"
            if bed.kitsu_task(task)["task_status_id"] != (KITSU_STATUS["Waiting For Approval"])
            else "Retake"
        )
        writes_before = len(bed.kitsu_writes())
        ayon_before = len(bed.entity_writes())
        await bed.person_sets(task, status=new)

        keys: set[str] = set()
        outcome = await bed.drain(keys)
        assert keys == {f"{FILM}/task/{task}"} and outcome.queued == 1 and outcome.lag_seconds == 0
        [result] = await bed.reconcile(keys)

        assert result.outcome == "changed" and result.changes == {"kitsu status": 1}
        assert bed.kitsu_task(task)["task_status_id"] == KITSU_STATUS[new]
        [comment] = [c for c in bed.kitsu._state.store.comments.values()
                     if c["object_id"] == task and "AYON" in c["text"]]  # fmt: skip
        assert comment["task_status_id"] == KITSU_STATUS[new]
        assert "by alice" in comment["text"] and new in comment["text"]
        kitsu_events = [e["name"] for e in bed.kitsu.events()[-4:]]
        assert "task:status-changed" in kitsu_events
        # Ping-pong: one write to Kitsu, none back to AYON for this change.
        assert bed.kitsu_writes()[writes_before:] == [("POST", f"/actions/tasks/{task}/comment")]
        task_path = f"/api/projects/{bed.bed.project}/tasks/{(await bed.tasks())[task]['id'].hex}"
        assert bed.entity_writes()[ayon_before:] == [("PATCH", task_path)]  # the person's own

        # Kitsu's events of that write come back as the same key: in step, nothing written.
        again = await bed.reconcile(keys)
        assert again[0].outcome == "in step"
        assert len(bed.kitsu_writes()) == writes_before + 1
        assert (await bed.drain(set())).jobs == 0


async def test_kitsyncs_own_ayon_writes_produce_no_kitsu_write(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        task = await _a_task(bed)
        # A change in Kitsu, reconciled into AYON by kitsync (X-Sender kitsync, type kitsu) ...
        bed.kitsu.set_task_status(task, KITSU_STATUS["Done"])
        bed.kitsu.assign(task, [BRUNO])
        writes_before = len(bed.kitsu_writes())
        [result] = await bed.reconcile([f"{FILM}/task/{task}"])
        assert result.outcome == "changed"
        ayon = (await bed.tasks())[task]
        assert ayon["status"] == "Done" and "bruno" in ayon["assignees"]
        # ... is never handed out by AYON, and writes nothing to Kitsu.
        keys: set[str] = set()
        assert (await bed.drain(keys)).jobs == 0 and keys == set()
        assert (await bed.reconcile([f"{FILM}/task/{task}"]))[0].outcome == "in step"
        assert len(bed.kitsu_writes()) == writes_before


async def test_assignees_become_exactly_ayons_and_unknown_users_are_skipped(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        await bed.bed.pool.execute(
            """INSERT INTO public.users (name, attrib, data)
               VALUES ('ghost', '{"email": "ghost@example.com"}', '{}') ON CONFLICT DO NOTHING"""
        )
        task = await _a_task(bed)
        bed.kitsu.set_assignees(task, [ALICE, CHLOE])  # chloe: no AYON user
        await bed.reconcile([f"{FILM}/task/{task}"])
        assert sorted((await bed.tasks())[task]["assignees"]) == ["alice"]

        await bed.person_sets(task, assignees=["bruno", "ghost"])
        [result] = await bed.sync_round()

        assert result.changes["kitsu assign"] == 1 and result.changes["kitsu unassign"] == 1
        assert any("ghost has no Kitsu person" in note for note in result.notes)
        # Bruno in, alice out; chloe stays (AYON cannot show her); ghost stays in AYON.
        assert sorted(bed.kitsu_task(task)["assignees"]) == sorted([BRUNO, CHLOE])
        assert sorted((await bed.tasks())[task]["assignees"]) == ["bruno", "ghost"]
        assert (await bed.sync_round()) == []  # nothing more to do
        assert (await bed.reconcile([f"{FILM}/task/{task}"]))[0].outcome == "in step"


async def test_an_ayon_status_kitsu_lacks_fails_that_key_alone(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        first, second = sorted(await bed.tasks())[:2]
        kitsu_status = bed.kitsu_task(first)["task_status_id"]
        await bed.person_sets(first, status="Pending review")  # AYON's own status, not Kitsu's
        other = (
            "Retake" if bed.kitsu_task(second)["task_status_id"] == KITSU_STATUS["Done"] else "Done"
        )
        await bed.person_sets(second, status=other)
        keys: set[str] = set()
        await bed.drain(keys)
        with pytest.raises(UnmappedStatus, match=r"'Pending review'.*dlq replay"):
            await reconcile_key(bed.ctx, Key.parse(f"{FILM}/task/{first}"))
        assert bed.kitsu_task(first)["task_status_id"] == kitsu_status
        assert (await bed.tasks())[first]["status"] == "Pending review"  # not overwritten
        result = await reconcile_key(bed.ctx, Key.parse(f"{FILM}/task/{second}"))
        assert result.changes == {"kitsu status": 1}
        assert bed.kitsu_task(second)["task_status_id"] == KITSU_STATUS[other]


async def _conflict_events(bed: Bed) -> list[dict[str, Any]]:
    rows = await bed.bed.pool.fetch(
        "SELECT summary, description FROM public.events WHERE topic = 'kitsync.conflict' "
        "AND project_name = $1 ORDER BY creation_order",
        bed.bed.project,
    )
    return [{"summary": json.loads(r["summary"]), "description": r["description"]} for r in rows]


async def test_both_sides_changed_the_later_wins_and_the_loser_is_recorded(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        first, second = sorted(await bed.tasks())[:2]
        for task in (first, second):
            bed.kitsu.set_task_status(task, KITSU_STATUS["Work In Progress"])
        await bed.reconcile([f"{FILM}/task/{first}", f"{FILM}/task/{second}"])  # the base

        # first: Kitsu, then AYON a second later (Kitsu stamps whole seconds) -> AYON wins.
        bed.kitsu.set_task_status(first, KITSU_STATUS["Done"])
        await asyncio.sleep(1.1)
        await bed.person_sets(first, status="Retake")
        # second: AYON, then Kitsu a second later -> Kitsu wins.
        await bed.person_sets(second, status="Retake")
        await asyncio.sleep(1.1)
        bed.kitsu.set_task_status(second, KITSU_STATUS["Done"])

        results = {r.key: r for r in await bed.sync_round()}
        assert results[f"{FILM}/task/{first}"].changes.get("kitsu status") == 1
        assert bed.kitsu_task(first)["task_status_id"] == KITSU_STATUS["Retake"]
        assert (await bed.tasks())[first]["status"] == "Retake"
        assert bed.kitsu_task(second)["task_status_id"] == KITSU_STATUS["Done"]
        assert (await bed.tasks())[second]["status"] == "Done"

        conflicts = {c["summary"]["key"]: c["summary"] for c in await _conflict_events(bed)}
        assert conflicts[f"{FILM}/task/{first}"] | {"ayonChangedAt": None, "kitsuChangedAt": None} \
            == {"key": f"{FILM}/task/{first}", "entityId": (await bed.tasks())[first]["id"].hex,
                "field": "status", "winner": "ayon", "ayonValue": "Retake", "kitsuValue": "Done",
                "ayonUser": "alice", "baseKnown": True, "ayonChangedAt": None,
                "kitsuChangedAt": None}  # fmt: skip
        assert conflicts[f"{FILM}/task/{second}"]["winner"] == "kitsu"
        assert conflicts[f"{FILM}/task/{second}"]["ayonValue"] == "Retake"


async def test_a_burst_of_500_ayon_changes_converges(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        tasks = sorted(await bed.tasks())
        rng = random.Random(17)
        names = ["Work In Progress", "Waiting For Approval", "Done", "Retake"]
        current = {task: row["status"] for task, row in (await bed.tasks()).items()}
        final: dict[str, str] = {}
        changes = 0
        while changes < 500:
            task, name = rng.choice(tasks), rng.choice(names)
            if current[task] == name:
                continue  # AYON writes no event for a PATCH to the current value
            await bed.person_sets(task, status=name)
            current[task] = final[task] = name
            changes += 1
        started = time.perf_counter()
        keys: set[str] = set()
        outcome = await bed.drain(keys)
        drained = time.perf_counter() - started
        await bed.reconcile(keys)
        total = time.perf_counter() - started
        print(
            f"\n{outcome.describe()}; {len(keys)} keys; drain {drained:.2f} s, total {total:.2f} s"
        )
        assert keys == {f"{FILM}/task/{task}" for task in final}
        for task, name in final.items():
            assert bed.kitsu_task(task)["task_status_id"] == KITSU_STATUS[name], task
        # One status comment per task whose status changed, however many events it had.
        comments = [c for c in bed.kitsu._state.store.comments.values() if "AYON" in c["text"]]
        assert len(comments) <= len(final)
        assert (await bed.sync_round()) == []


async def test_changes_made_while_kitsync_was_down_are_caught_up(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        first, second, third = sorted(await bed.tasks())[:3]
        for task in (first, second, third):
            await bed.person_sets(task, status="Retake")

        # A drain killed after queuing the first key, before finishing its job.
        class Killed(Exception):
            pass

        async def dies(keys: Sequence[str]) -> None:
            raise Killed

        with pytest.raises(ExceptionGroup) as killed:
            await drain_ayon_events(
                bed.ctx.writer, bed.ctx.reader, bed.state, BOTH, dies,
                lanes=1, sender_prefix=bed.sender_prefix,
            )  # fmt: skip
        assert killed.group_contains(Killed)
        # The next drain (same sender names, as after a restart) gets every event, that one too.
        results = await bed.sync_round()
        assert {r.key for r in results} == {f"{FILM}/task/{t}" for t in (first, second, third)}
        for task in (first, second, third):
            assert bed.kitsu_task(task)["task_status_id"] == KITSU_STATUS["Retake"]
        assert (await bed.sync_round()) == []


async def test_a_full_reconcile_before_the_drain_does_not_undo_an_ayon_change(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        task, new = await _a_task_to_change(bed)
        await bed.person_sets(task, status=new, assignees=["bruno"])
        # kitsync starts: the full reconcile runs before AYON's events are read.
        report = await reconcile_project(bed.ctx, FILM)
        assert report.follow_ups == (Key(FILM, "task", task),)
        assert any(note.startswith("1 tasks differ in a field synced") for note in report.notes)
        ayon = (await bed.tasks())[task]
        assert (ayon["status"], ayon["assignees"]) == (new, ["bruno"])
        # Its follow-up (and the drained events, the same key) push AYON's change to Kitsu.
        await bed.reconcile(map(str, report.follow_ups))
        assert bed.kitsu_task(task)["task_status_id"] == KITSU_STATUS[new]
        assert bed.kitsu_task(task)["assignees"] == [BRUNO]
        assert all(r.outcome == "in step" for r in await bed.sync_round())


async def test_kitsu_failing_is_transient_and_the_retry_writes_once(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        task, new = await _a_task_to_change(bed)
        await bed.person_sets(task, status=new)
        keys: set[str] = set()
        await bed.drain(keys)
        bed.kitsu.inject_failures(200, status=502)
        with pytest.raises(TransientError):
            await bed.reconcile(keys)
        bed.kitsu._state.faults.failures.clear()  # Kitsu is back
        [result] = await bed.reconcile(keys)  # the worker's retry
        assert result.changes == {"kitsu status": 1}
        comments = [c for c in bed.kitsu._state.store.comments.values() if "AYON" in c["text"]]
        assert len(comments) == 1
        assert (await bed.reconcile(keys))[0].outcome == "in step"


def test_the_beat_task_drains_into_the_shared_key_queue(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    """``kitsync.ayon_events``' body on a real worker Runtime (Redis mode): the key goes into
    the key queue and one ``kitsync.reconcile`` task is sent for it; the next run finds nothing."""
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    project = f"kitsync_{uuid.uuid4().hex[:10]}"
    asyncio.run(create_project(pg_dsn, project, data={"kitsuProjectId": FILM}))
    with serve(kitsu.app) as kitsu_url, serve(create_app(pg_dsn)) as ayon_url:
        settings = load_settings(
            kitsu_url=kitsu_url,
            kitsu_bot_token=BOT_TOKEN,
            ayon_url=ayon_url,
            ayon_api_key=SERVICE_KEY,
            ayon_db_dsn=pg_dsn,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            ayon_to_kitsu=BOTH,
        )
        runtime = Runtime(settings)
        sent = SentTasks()
        runtime.bind(sent)  # type: ignore[arg-type]
        try:
            assert not runtime.run(reconcile_project(runtime.context(), FILM)).failures
            ayon_events.run(runtime)  # the full sync's events
            task_id, kitsu_id, status = asyncio.run(_first_task(pg_dsn, project))
            response = httpx.patch(
                f"{ayon_url}/api/projects/{project}/tasks/{task_id}",
                json={"status": "Retake" if status != "Retake" else "Done"},
                headers={"x-api-key": HUMAN_KEY},
            )
            assert response.status_code == 204
            sent.keys.clear()
            outcome = ayon_events.run(runtime)
            key = f"{FILM}/task/{kitsu_id}"
            assert outcome["queued"] == 1 and sent.keys == [key]
            assert runtime.run(runtime.queue().stats()).queued >= 1
            sent.keys.clear()
            assert ayon_events.run(runtime)["queued"] == 0
            assert sent.keys == []
        finally:
            runtime.close()
            asyncio.run(_deactivate(pg_dsn, project))


async def _first_task(dsn: str, project: str) -> tuple[str, str, str]:
    """(AYON id, Kitsu id, status) of the project's first task by Kitsu id."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            f"SELECT id, data->>'kitsuId' AS kitsu_id, status FROM project_{project}.tasks "
            "ORDER BY data->>'kitsuId' LIMIT 1"
        )
    finally:
        await connection.close()
    assert row is not None
    return row["id"].hex, row["kitsu_id"], row["status"]


async def _deactivate(dsn: str, project: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "UPDATE public.projects SET active = false WHERE name = $1", project
        )
    finally:
        await connection.close()


class SentTasks:
    """Stands in for the worker's Celery app: the keys of the reconcile tasks it is sent."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def send_task(self, name: str, args: tuple[str, ...] = (), **options: object) -> None:
        assert name == "kitsync.reconcile"
        self.keys.extend(args)


async def test_a_kitsu_change_whose_ayon_write_failed_is_not_pushed_back_over(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    """A person changes a status in Kitsu; writing it to AYON fails (AYON down a moment). The
    retry must write Kitsu's value to AYON, not take AYON's old value for a change made in
    AYON and post it to Kitsu over the person's (the base was recorded before the write)."""
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        task, new = await _a_task_to_change(bed)
        bed.kitsu.set_task_status(task, KITSU_STATUS[new])
        key = f"{FILM}/task/{task}"
        inject_failures(bed.bed.ayon_app, 50, 503, path=f"/api/projects/{bed.bed.project}/")
        with pytest.raises(TransientError):
            await bed.reconcile([key])
        bed.bed.ayon_app.state.fail_next.clear()  # AYON is back
        [result] = await bed.reconcile([key])  # the worker's retry
        assert "kitsu status" not in result.changes
        assert bed.kitsu_task(task)["task_status_id"] == KITSU_STATUS[new]
        assert (await bed.tasks())[task]["status"] == new
        assert (await bed.reconcile([key]))[0].outcome == "in step"


async def test_a_full_reconcile_records_no_base_for_a_task_kitsu_changed_during_it(
    pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    """Its read is older than that change: recorded as the base, the value read would later
    pass for a change made in AYON (had the task's own run recorded the new one meanwhile),
    and be pushed over the person's. The task's key runs again instead."""
    async with two_way_bed(pg_dsn, redis_url, redis_prefix) as bed:
        task, new = await _a_task_to_change(bed)
        recorded: list[str] = []

        class Recording:
            async def get(self, key: str) -> TaskState:
                return await bed.state.get(key)

            async def agree(self, values: Mapping[str, Agreed]) -> None:
                recorded.extend(values)
                await bed.state.agree(values)

        def progress(done: int, total: int, phase: str) -> None:
            if phase == "linking" and done == 0:
                bed.kitsu.set_task_status(task, KITSU_STATUS[new])

        ctx = replace(bed.ctx, two_way=TwoWay(BOTH, Recording()))
        report = await reconcile_project(ctx, FILM, progress=progress)
        assert report.changes == {}  # nothing to write: AYON was in step with what it read
        assert Key(FILM, "task", task) in report.follow_ups
        assert f"{FILM}/task/{task}" not in recorded and len(recorded) > 1
