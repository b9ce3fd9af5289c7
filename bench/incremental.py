"""Incremental benchmark (issue 8, part 3): event-to-commit latency, throughput and CPU per
event with 1, 2 and 4 worker processes.

One generated production on the fake Kitsu, synced once in-process (``reconcile_project``, not
timed) into a paired AYON project on the fake AYON; both fakes and kitsync's webhook receiver
(``create_app`` + ``CelerySink``) are served in threads of this process, over a Postgres database
of its own and the real Redis (db 12, a key prefix of its own). For each worker count N:

1. **bare write**: the same kind of single write kitsync makes for a shot change (one
   ``/operations`` update of a folder's attributes) sent straight to the fake AYON with httpx,
   one at a time, half of ``--bare-writes`` before the workers start and half right after the
   steady stream (3); the p50 of all is the reference of the latency ratio;
2. N worker processes start (``kitsync worker -c 1`` each by default, ``--layout prefork``: one
   ``kitsync worker -c N``), then a short warm-up stream (not measured);
3. **steady stream**: for ``--duration`` seconds, changes to Kitsu at ``--rate`` events per
   second (shot updates: description, frame range, sometimes fps; casting changes through
   ``set_casting`` or ``cast_asset``), on random shots; their events are POSTed, signed, to the
   receiver as the Zou plugin's sender thread does (whatever is pending, at most 100 per POST,
   one POST at a time), and a ``--duplicates`` fraction is POSTed again up to 1 s later;
4. **backlog**: ``--backlog`` changes on distinct shots made at once, their events POSTed as fast
   as the receiver takes them: events (and changes) per second until the last one is in AYON.

Latency of a change: from the moment the fake Kitsu's write returned (its event's time) to the
moment AYON committed a state that includes it. Each change leaves a marker AYON's writes carry:
a shot update sets the description ``bench shot <i> change <k>`` (``k`` increases over the run),
a casting change casts an asset never cast into that shot before in the run. The fake AYON is
wrapped in an ASGI recorder that notes when each write's answer starts (the transaction has
committed) and keeps the ``/operations`` and ``/links/bulk`` bodies; change ``k`` of a shot is
committed by the first successful write carrying that shot's marker ``m >= k`` (events are
hints: a later change of the same shot may be applied first, and then includes change ``k``).
kitsync's own ``kitsync_event_to_commit_seconds`` histogram is scraped as a cross-check; Zou
shows event times to the second, so it reads up to 1 s high. No beat (poller) runs: the webhook
is the only way in.

kitsync's CPU: utime + stime of every process of the workers' process groups (``/proc``), from
the start of a phase until kitsync is idle again (no task queued or unacknowledged, no key
queued or in flight), divided by the events of the phase. The receiver runs in this process and
is not in it.

Run from the repository root: ``.venv/bin/python bench/incremental.py [--workers 1,2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import platform
import random
import re
import statistics
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
from _common import RESULTS, bench_database, production_options, run_and_report
from _workers import (
    REDIS_URL,
    WEBHOOK_SECRET,
    Workers,
    bench_prefix,
    delete_redis_keys,
    exit_on_sigterm,
    machine_busy_seconds,
    running_workers,
    worker_env,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kitsync.ayon import AyonReader, AyonWriter
from kitsync.config import Settings, load_settings
from kitsync.core.casting import ASSET_KEY, TARGET_KEY
from kitsync.kitsu import KitsuClient
from kitsync.receiver import SIGNATURE_HEADER, create_app, sign_body
from kitsync.schemas import BREAKDOWN, HANDLED_EVENT_NAMES
from kitsync.tasks.context import SyncContext
from kitsync.tasks.project import reconcile_project
from kitsync.worker.app import create_celery, key_queue_prefix
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.sink import CelerySink
from tests.fakes.ayon import SERVICE_KEY, create_project
from tests.fakes.ayon import create_app as create_ayon
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import free_port, serve
from tests.integration.sync_bed import USERS
from tests.production_generator import GeneratedProduction, generate_production

MARKER = re.compile(r"bench shot (\d+) change (\d+)")
MAX_BATCH = 100  # the Zou plugin's
BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0)  # the first ones of kitsync_event_to_commit_seconds
HISTOGRAM = "kitsync_event_to_commit_seconds"
# Share of changes by kind: shot updates, then casting through set_casting or cast_asset.
KINDS = (("shot update", 0.6), ("set casting", 0.2), ("cast asset", 0.2))


# ------------------------------------------------------------------------------ AYON side


@dataclass(frozen=True)
class Write:
    """One write request the fake AYON answered."""

    received: float  # perf_counter when it came in
    answered: float  # when its answer started: the write is committed
    method: str
    path: str
    status: int
    body: bytes  # kept for /operations and /links/bulk only
    answer: bytes


class WriteLog:
    """ASGI wrapper of the fake AYON that records every non-GET request it answers."""

    KEEP = ("/operations", "/links/bulk")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.writes: list[Write] = []  # appended on the server's thread

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "GET":
            await self.app(scope, receive, send)
            return
        received = time.perf_counter()
        keep = str(scope["path"]).endswith(self.KEEP)
        body: list[bytes] = []
        answer: list[bytes] = []
        started: dict[str, Any] = {}

        async def receiving() -> Message:
            message = await receive()
            if keep and message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(at=time.perf_counter(), status=message["status"])
            elif message["type"] == "http.response.body":
                if keep:
                    answer.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.writes.append(
                        Write(
                            received,
                            started["at"],
                            scope["method"],
                            scope["path"],
                            started["status"],
                            b"".join(body),
                            b"".join(answer),
                        )
                    )
            await send(message)

        await self.app(scope, receiving, sending)


@dataclass
class Bed:
    kitsu: FakeKitsu
    log: WriteLog
    kitsu_url: str
    ayon_url: str
    project: str
    pool: asyncpg.Pool
    ctx: SyncContext


@asynccontextmanager
async def bench_bed(dsn: str, kitsu: FakeKitsu, kitsu_project: str) -> AsyncIterator[Bed]:
    """tests/integration/sync_bed.py's bed, with the fake AYON behind a :class:`WriteLog`."""
    log = WriteLog(create_ayon(dsn))
    async with AsyncExitStack() as stack:
        ayon_url = stack.enter_context(serve(log))
        kitsu_url = stack.enter_context(serve(kitsu.app))
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        project = f"bench_{uuid.uuid4().hex[:10]}"
        await create_project(dsn, project, data={"kitsuProjectId": kitsu_project})
        for name, email in USERS.items():
            await pool.execute(
                "INSERT INTO public.users (name, attrib, data) VALUES ($1, $2::jsonb, '{}') "
                "ON CONFLICT (name) DO NOTHING",
                name,
                json.dumps({"email": email}),
            )
        client = await stack.enter_async_context(KitsuClient(kitsu_url, bot_token=BOT_TOKEN))
        writer = await stack.enter_async_context(AyonWriter(ayon_url, SERVICE_KEY))
        ctx = SyncContext(kitsu=client, reader=AyonReader(pool), writer=writer)
        yield Bed(kitsu, log, kitsu_url, ayon_url, project, pool, ctx)


async def bare_writes(bed: Bed, count: int) -> tuple[list[float], list[float]]:
    """``count`` single-folder ``/operations`` updates straight to the fake AYON (one client,
    one at a time): the round trips, and the server's own times (the WriteLog's)."""
    folder = await bed.pool.fetchval(
        f"SELECT id FROM project_{bed.project}.folders WHERE folder_type = 'Shot' "
        "ORDER BY name LIMIT 1"
    )
    path = f"/api/projects/{bed.project}/operations"
    round_trips: list[float] = []
    mark = len(bed.log.writes)
    headers = {"x-api-key": SERVICE_KEY}
    async with httpx.AsyncClient(base_url=bed.ayon_url, headers=headers, timeout=30) as client:
        for number in range(count):
            operation = {
                "type": "update",
                "entityType": "folder",
                "entityId": folder.hex,
                "data": {"attrib": {"description": f"bare write {number}"}},
            }
            started = time.perf_counter()
            answer = await client.post(path, json={"operations": [operation]})
            round_trips.append(time.perf_counter() - started)
            answer.raise_for_status()
    served = [w.answered - w.received for w in bed.log.writes[mark:] if w.path == path]
    return round_trips, served


def bare_summary(
    before: tuple[list[float], list[float]], after: tuple[list[float], list[float]]
) -> dict[str, float]:
    """The bare write time over both series (before the workers start, after the steady
    stream), so that it sees the same machine as the stream did."""
    round_trips, served = before[0] + after[0], before[1] + after[1]
    return {
        "count": len(round_trips),
        "p50_ms": statistics.median(round_trips) * 1000,
        "p95_ms": _quantile(round_trips, 0.95) * 1000,
        "p50_ms_before_workers": statistics.median(before[0]) * 1000,
        "p50_ms_after_stream": statistics.median(after[0]) * 1000,
        "server_p50_ms": statistics.median(served) * 1000,
    }


# ------------------------------------------------------------------------------ Kitsu side


@dataclass
class Change:
    """One change made to Kitsu, and when AYON had it."""

    index: int  # increasing over the run
    kind: str
    stream: tuple[str, str]  # ("shot" | "casting", shot id): the marker's sequence
    at: float  # perf_counter right after the fake Kitsu's write returned
    event_ids: tuple[str, ...]
    accepted: float | None = None  # the receiver answered the POST of its last event
    sent: float | None = None  # the committing write reached AYON
    committed: float | None = None  # AYON answered it

    @property
    def events(self) -> int:
        return len(self.event_ids)

    def stages(self) -> tuple[float, float, float] | None:
        """Seconds from the event to the receiver's answer, from there to the committing
        write reaching AYON, and that write's time in AYON (None if not committed)."""
        if self.accepted is None or self.sent is None or self.committed is None:
            return None
        return self.accepted - self.at, self.sent - self.accepted, self.committed - self.sent


class Changes:
    """Makes changes to the fake Kitsu and reads their events, as the Zou plugin sees them."""

    def __init__(
        self, generated: GeneratedProduction, castings: dict[str, dict[str, int]], seed: int
    ) -> None:
        self.kitsu = generated.kitsu
        self.project_id = generated.project_id
        self.shots = generated.shot_ids
        self.assets = generated.asset_ids
        self.castings = castings  # shot id -> asset id -> occurrences, as Kitsu has it now
        self.rng = random.Random(seed)
        self.markers: dict[tuple[str, str], int] = {}  # (shot id, cast asset id) -> change
        self.count = 0
        self._mark = self._log_length()

    def make(self, shot: int) -> tuple[Change, list[dict[str, Any]]]:
        """One change of a random kind to shot number ``shot``; its forwarded events."""
        index = self.count
        self.count += 1
        kind = self.rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        shot_id = self.shots[shot]
        if kind == "shot update":
            data: dict[str, Any] = {"frame_out": 1000 + self.rng.randint(24, 240)}
            if self.rng.random() < 0.3:
                data["fps"] = self.rng.choice(("24", "25"))
            description = f"bench shot {shot} change {index}"
            self.kitsu.update_entity(shot_id, description=description, data=data)
            stream = ("shot", shot_id)
        else:
            self._recast(shot_id, index, use_set=kind == "set casting")
            stream = ("casting", shot_id)
        at = time.perf_counter()
        events = self.new_events()
        return Change(index, kind, stream, at, tuple(e["id"] for e in events)), events

    def _recast(self, shot_id: str, index: int, *, use_set: bool) -> None:
        """Take one cast asset out of the shot and cast one never cast there in this run."""
        current = self.castings.setdefault(shot_id, {})
        removed = self.rng.choice(sorted(current)) if current else None
        while True:
            added = self.rng.choice(self.assets)
            if added not in current and (shot_id, added) not in self.markers:
                break
        occurrences = self.rng.choice((1, 1, 2, 3))
        after = {asset: n for asset, n in current.items() if asset != removed}
        after[added] = occurrences
        self.markers[(shot_id, added)] = index
        if use_set:
            casting = [{"asset_id": asset, "nb_occurences": n} for asset, n in after.items()]
            self.kitsu.set_casting(self.project_id, shot_id, casting)
        else:
            if removed is not None:
                self.kitsu.cast_asset(self.project_id, removed, [shot_id], 0)
            self.kitsu.cast_asset(self.project_id, added, [shot_id], occurrences)
        self.castings[shot_id] = after

    def new_events(self) -> list[dict[str, Any]]:
        """The events logged since the last call that the Zou plugin forwards.

        ``FakeKitsu.events()`` copies the whole log (0.4 s at the default production's
        23,000 events), so the new tail is read from the fake's log directly.
        """
        state = self.kitsu._state
        with state.lock:
            tail = state.log.events[self._mark :]
            self._mark += len(tail)
            shown = [event.to_json() for event in tail]
        return [event for event in shown if event["name"] in HANDLED_EVENT_NAMES]

    def _log_length(self) -> int:
        state = self.kitsu._state
        with state.lock:
            return len(state.log.events)


async def kitsu_castings(bed: Bed) -> dict[str, dict[str, int]]:
    """Every shot's casting (asset -> occurrences), read from the AYON links of the first sync
    (the same as Kitsu's, which the fake serves only entity by entity)."""
    rows = await bed.pool.fetch(
        f"SELECT data->>'{TARGET_KEY}' AS target, data->>'{ASSET_KEY}' AS asset, count(*) AS n "
        f"FROM project_{bed.project}.links WHERE link_type = $1 GROUP BY 1, 2",
        BREAKDOWN,
    )
    castings: dict[str, dict[str, int]] = {}
    for row in rows:
        castings.setdefault(row["target"], {})[row["asset"]] = int(row["n"])
    return castings


# ------------------------------------------------------------------------------ commits


class Commits:
    """The markers AYON committed, per stream, from the fake AYON's write log."""

    def __init__(self, log: WriteLog, changes: Changes) -> None:
        self.log = log
        self.changes = changes
        self.seen = 0
        # stream -> (answered, received, change index) of each write carrying a marker
        self.by_stream: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        self.top: dict[tuple[str, str], int] = {}

    def update(self) -> None:
        writes = self.log.writes[self.seen :]
        self.seen += len(writes)
        for write in writes:
            if write.status >= 300 or not write.body:
                continue
            if write.path.endswith("/operations"):
                if not json.loads(write.answer).get("success", False):
                    continue  # rolled back; kitsync plans again
                for match in MARKER.finditer(write.body.decode()):
                    shot_id = self.changes.shots[int(match[1])]
                    self._add(("shot", shot_id), write, int(match[2]))
            elif write.path.endswith("/links/bulk"):
                for link in json.loads(write.body)["links"]:
                    data = link.get("data") or {}
                    target = str(data.get(TARGET_KEY))
                    index = self.changes.markers.get((target, str(data.get(ASSET_KEY))))
                    if index is not None:
                        self._add(("casting", target), write, index)

    def _add(self, stream: tuple[str, str], write: Write, index: int) -> None:
        self.by_stream.setdefault(stream, []).append((write.answered, write.received, index))
        self.top[stream] = max(self.top.get(stream, -1), index)

    def applied(self, change: Change) -> bool:
        return self.top.get(change.stream, -1) >= change.index

    def settle(self, change: Change) -> None:
        """Set ``change.committed``: the first commit of its stream that includes it."""
        for answered, received, index in sorted(self.by_stream.get(change.stream, ())):
            if index >= change.index and answered >= change.at:
                change.committed, change.sent = answered, received
                return


# ------------------------------------------------------------------------------ the plugin


class Plugin:
    """POSTs events to the receiver as the Zou plugin's sender thread does: whatever is
    pending, at most 100 per signed POST, one POST at a time. A ``duplicates`` fraction of the
    events is POSTed once more up to 1 s later (as a retried POST, or the poller catching up,
    would bring them again)."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, rng: random.Random, duplicates: float
    ) -> None:
        self.client = client
        self.url = f"{url}/kitsu/events"
        self.rng = rng
        self.duplicates = duplicates
        self.pending: deque[dict[str, Any]] = deque()
        self.later: list[tuple[float, int, dict[str, Any]]] = []
        self.wake = asyncio.Event()
        self.closed = False
        self.posts = 0
        self.sent = 0
        self.accepted = 0
        self.refused_as_duplicates = 0
        self.first_post: float | None = None
        self.answered: dict[str, float] = {}  # event id -> when its first POST was answered

    def put(self, events: list[dict[str, Any]]) -> None:
        self.pending.extend(events)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def run(self) -> None:
        sequence = 0
        while True:
            now = time.perf_counter()
            while self.later and self.later[0][0] <= now:
                self.pending.append(heapq.heappop(self.later)[2])
            if self.pending:
                count = min(MAX_BATCH, len(self.pending))
                batch = [self.pending.popleft() for _ in range(count)]
                await self._post(batch)
                for event in batch:
                    if not event.get("_again") and self.rng.random() < self.duplicates:
                        sequence += 1
                        due = time.perf_counter() + self.rng.uniform(0.0, 1.0)
                        heapq.heappush(self.later, (due, sequence, event | {"_again": True}))
                continue
            if self.closed and not self.later:
                return
            self.wake.clear()
            timeout = self.later[0][0] - now if self.later else None
            with suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def _post(self, batch: list[dict[str, Any]]) -> None:
        events = [{k: v for k, v in event.items() if k != "_again"} for event in batch]
        body = json.dumps({"events": events}).encode()
        headers = {
            SIGNATURE_HEADER: sign_body(WEBHOOK_SECRET, body),
            "content-type": "application/json",
        }
        if self.first_post is None:
            self.first_post = time.perf_counter()
        answer = await self.client.post(self.url, content=body, headers=headers)
        if answer.status_code != 202:
            raise RuntimeError(f"receiver answered {answer.status_code}: {answer.text[:300]}")
        counts = answer.json()
        now = time.perf_counter()
        for event in events:
            self.answered.setdefault(event["id"], now)
        self.posts += 1
        self.sent += len(batch)
        self.accepted += counts["accepted"]
        self.refused_as_duplicates += counts["duplicates"]


# ------------------------------------------------------------------------------ a run


@dataclass
class Run:
    """Everything the phases of one worker count share."""

    bed: Bed
    changes: Changes
    commits: Commits
    receiver_url: str
    client: httpx.AsyncClient
    settings: Settings
    prefix: str
    rng: random.Random
    args: argparse.Namespace
    broker: redis.Redis = field(init=False)

    def __post_init__(self) -> None:
        self.broker = redis.Redis.from_url(REDIS_URL)

    def idle(self) -> bool:
        """No event or key left: Celery's events queue and unacked tasks, the key queue."""
        celery = f"{self.prefix}celery:"
        keys = key_queue_prefix(self.settings)
        return not (
            self.broker.llen(f"{celery}kitsync.events")
            or self.broker.hlen(f"{celery}unacked")
            or self.broker.zcard(f"{keys}queued")
            or self.broker.hlen(f"{keys}owner")
        )


@dataclass
class Window:
    """CPU and request counters at the start of a phase."""

    started: float
    worker_cpu: float
    own_cpu: float
    ayon_writes: int
    kitsu_requests: int
    metrics: dict[str, float]
    log_offsets: list[int]
    machine_busy: float

    @classmethod
    async def open(cls, run: Run, workers: Workers, port: int) -> Window:
        return cls(
            time.perf_counter(),
            workers.cpu_seconds(),
            time.process_time(),
            len(run.bed.log.writes),
            len(run.bed.kitsu.requests),
            await scrape(run.client, port),
            [log.stat().st_size for log in workers.logs],
            machine_busy_seconds(),
        )

    async def close(self, run: Run, workers: Workers, port: int) -> dict[str, Any]:
        metrics = await scrape(run.client, port)
        seconds = time.perf_counter() - self.started
        return {
            "seconds": seconds,
            # of the machine's cores, busy on average (any process: this benchmark, Postgres,
            # Redis, the workers, and whatever else the shared machine runs)
            "machine_busy_cores": (machine_busy_seconds() - self.machine_busy) / seconds,
            "worker_cpu_seconds": workers.cpu_seconds() - self.worker_cpu,
            "bench_process_cpu_seconds": time.process_time() - self.own_cpu,
            "ayon_write_requests": len(run.bed.log.writes) - self.ayon_writes,
            "ayon_write_requests_by_kind": _request_kinds(run.bed.log.writes[self.ayon_writes :]),
            "kitsu_requests": len(run.bed.kitsu.requests) - self.kitsu_requests,
            "task_ms": _task_times(workers.logs, self.log_offsets),
            "metrics": {
                name: value - self.metrics.get(name, 0.0)
                for name, value in metrics.items()
                if value != self.metrics.get(name, 0.0)
            },
        }


TASK_LINE = re.compile(r"Task (kitsync\.\w+)\[[^\]]+\] succeeded in ([0-9.e-]+)s")


def _task_times(logs: list[Path], offsets: list[int]) -> dict[str, dict[str, float]]:
    """Run times of the workers' tasks since ``offsets`` (Celery's ``succeeded in`` lines)."""
    times: dict[str, list[float]] = {}
    for log, offset in zip(logs, offsets, strict=True):
        with log.open("rb") as text:
            text.seek(offset)
            for match in TASK_LINE.finditer(text.read().decode(errors="replace")):
                times.setdefault(match[1], []).append(float(match[2]) * 1000)
    return {
        name: {
            "count": len(values),
            "p50": _quantile(values, 0.5),
            "mean": statistics.fmean(values),
            "p95": _quantile(values, 0.95),
        }
        for name, values in sorted(times.items())
    }


def _request_kinds(writes: list[Write]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for write in writes:
        if write.path.startswith("/api/events"):
            kind = "event record" if write.method == "POST" else "event update"
        elif write.path.endswith("/operations"):
            kind = "operations"
        elif write.path.endswith("/links/bulk"):
            kind = "links bulk"
        elif "/links/" in write.path and write.method == "DELETE":
            kind = "link delete"
        else:
            kind = f"{write.method} other"
        kinds[kind] += 1
    return dict(sorted(kinds.items()))


async def scrape(client: httpx.AsyncClient, port: int) -> dict[str, float]:
    """kitsync's counters and histograms on the first worker's metrics port."""
    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    found = {}
    for line in text.splitlines():
        if line.startswith("kitsync_") and " " in line:
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


async def stream(
    run: Run, workers: Workers, rate: float, seconds: float, duplicates: float
) -> tuple[list[Change], Plugin]:
    """Changes on random shots at ``rate`` events per second for ``seconds``, posted as the
    plugin does; returns once every change is committed in AYON."""
    plugin = Plugin(run.client, run.receiver_url, run.rng, duplicates)
    sender = asyncio.create_task(plugin.run())
    made: list[Change] = []
    emitted = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            delay = started + emitted / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            change, events = run.changes.make(run.rng.randrange(len(run.changes.shots)))
            made.append(change)
            plugin.put(events)
            emitted += len(events)
        plugin.close()
        await sender
    finally:
        sender.cancel()
    await wait_committed(run, workers, made)
    settle_accepted(made, plugin)
    return made, plugin


async def wait_committed(run: Run, workers: Workers, made: list[Change]) -> None:
    deadline = time.perf_counter() + run.args.drain_timeout
    while True:
        run.commits.update()
        missing = [change for change in made if not run.commits.applied(change)]
        if not missing:
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(
                f"{len(missing)} of {len(made)} changes not in AYON after "
                f"{run.args.drain_timeout:.0f} s (e.g. {missing[0]})\n{workers.tails()}"
            )
        workers.check_alive()
        await asyncio.sleep(0.05)
    for change in made:
        run.commits.settle(change)


def settle_accepted(made: list[Change], plugin: Plugin) -> None:
    for change in made:
        change.accepted = max(plugin.answered[event_id] for event_id in change.event_ids)


async def wait_idle(run: Run, workers: Workers) -> None:
    deadline = time.perf_counter() + run.args.drain_timeout
    while not run.idle():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"kitsync still busy after the drain\n{workers.tails()}")
        workers.check_alive()
        await asyncio.sleep(0.1)


def latency_summary(made: list[Change]) -> dict[str, Any]:
    timed = [(change.kind, stages) for change in made if (stages := change.stages())]
    latencies = [sum(stages) for _, stages in timed]
    by_kind: dict[str, list[float]] = {}
    for kind, stages in timed:
        by_kind.setdefault(kind, []).append(sum(stages))
    names = (
        "event to receiver's answer",
        "receiver to kitsync's write reaching AYON",
        "AYON write (server side)",
    )
    by_stage = {name: [stages[i] for _, stages in timed] for i, name in enumerate(names)}
    return {
        "changes": len(made),
        "events": sum(c.events for c in made),
        "p50_ms": _quantile(latencies, 0.5) * 1000,
        "p95_ms": _quantile(latencies, 0.95) * 1000,
        "p99_ms": _quantile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
        "p50_ms_by_kind": {k: _quantile(v, 0.5) * 1000 for k, v in sorted(by_kind.items())},
        "p50_ms_by_stage": {k: _quantile(v, 0.5) * 1000 for k, v in by_stage.items()},
        "committed": len(latencies),
        "buckets": {str(b): sum(x <= b for x in latencies) for b in BUCKETS},
    }


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _histogram(metrics: dict[str, float]) -> dict[str, float]:
    found = {str(b): metrics.get(f'{HISTOGRAM}_bucket{{le="{b}"}}', 0.0) for b in BUCKETS}
    found["count"] = metrics.get(f"{HISTOGRAM}_count", 0.0)
    return found


async def steady_phase(run: Run, workers: Workers, port: int) -> dict[str, Any]:
    args = run.args
    window = await Window.open(run, workers, port)
    made, plugin = await stream(run, workers, args.rate, args.duration, args.duplicates)
    applied = max(c.committed or 0.0 for c in made)
    await wait_idle(run, workers)
    counters = await window.close(run, workers, port)
    events = sum(c.events for c in made)
    elapsed = applied - window.started
    summary = latency_summary(made)
    return summary | {
        "offered_events_per_second": args.rate,
        "events_per_second": events / elapsed,
        "changes_per_second": len(made) / elapsed,
        "posted": plugin.sent,
        "posts": plugin.posts,
        "receiver_accepted": plugin.accepted,
        "receiver_duplicates": plugin.refused_as_duplicates,
        "worker_cpu_ms_per_event": counters["worker_cpu_seconds"] / events * 1000,
        "worker_cpu_ms_per_change": counters["worker_cpu_seconds"] / len(made) * 1000,
        "kitsync_histogram": _histogram(counters["metrics"]),
        "counters": counters,
    }


async def backlog_phase(run: Run, workers: Workers, port: int) -> dict[str, Any]:
    """``--backlog`` changes on distinct shots at once, then as fast as kitsync applies them."""
    window = await Window.open(run, workers, port)
    made: list[Change] = []
    events: list[dict[str, Any]] = []
    shots = len(run.changes.shots)
    for shot in run.rng.sample(range(shots), min(shots, run.args.backlog)):
        change, new = run.changes.make(shot)
        made.append(change)
        events += new
    plugin = Plugin(run.client, run.receiver_url, run.rng, 0.0)
    plugin.put(events)
    plugin.close()
    await plugin.run()
    await wait_committed(run, workers, made)
    settle_accepted(made, plugin)
    await wait_idle(run, workers)
    counters = await window.close(run, workers, port)
    assert plugin.first_post is not None
    done = sorted((c.committed or 0.0) - plugin.first_post for c in made)
    elapsed = done[-1]
    return {
        "changes": len(made),
        "events": len(events),
        "seconds": elapsed,
        "seconds_to_half": _quantile(done, 0.5),
        "seconds_to_90_percent": _quantile(done, 0.9),
        "events_per_second": len(events) / elapsed,
        "changes_per_second": len(made) / elapsed,
        "worker_cpu_ms_per_event": counters["worker_cpu_seconds"] / len(events) * 1000,
        "worker_cpu_ms_per_change": counters["worker_cpu_seconds"] / len(made) * 1000,
        "counters": counters,
    }


@contextmanager
def _log_folder(keep: str | None, count: int) -> Iterator[Path]:
    """The workers' folder (logs, metrics): ``--logs/<count>-<hex>`` kept, else a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="kitsync-bench-") as temporary:
            yield Path(temporary)
        return
    kept = Path(keep) / f"{count}-workers-{uuid.uuid4().hex[:6]}"
    kept.mkdir(parents=True)
    yield kept


async def one_count(run: Run, env: dict[str, str], count: int) -> dict[str, Any]:
    args = run.args
    load = os.getloadavg()[0]
    before = await bare_writes(run.bed, args.bare_writes // 2)
    processes, concurrency = (1, count) if args.layout == "prefork" else (count, 1)
    port = free_port()
    print(f"\n{count} worker process(es); load average {load:.1f}")
    with (
        _log_folder(args.logs, count) as logs,
        running_workers(processes, concurrency, env, logs, metrics_port=port) as workers,
    ):
        await stream(run, workers, args.rate, args.warmup, 0.0)  # every process makes clients
        await wait_idle(run, workers)
        steady = await steady_phase(run, workers, port)
        bare = bare_summary(before, await bare_writes(run.bed, args.bare_writes - len(before[0])))
        print(f"  bare AYON write p50 {bare['p50_ms']:.1f} ms")
        print(
            f"  steady {args.rate:g} ev/s: {steady['changes']} changes, {steady['events']} "
            f"events; p50 {steady['p50_ms']:.0f} ms, p95 {steady['p95_ms']:.0f} ms, "
            f"p99 {steady['p99_ms']:.0f} ms"
        )
        tasks = steady["counters"]["task_ms"]
        print(
            "  task run times, p50 (mean): "
            + ", ".join(f"{n} {t['p50']:.0f} ms ({t['mean']:.0f})" for n, t in tasks.items())
        )
        kinds = steady["counters"]["ayon_write_requests_by_kind"]
        print(
            f"  AYON write requests per change: {sum(kinds.values()) / steady['changes']:.1f} "
            f"({', '.join(f'{kind} {n}' for kind, n in kinds.items())})"
        )
        backlog = await backlog_phase(run, workers, port)
        print(
            f"  backlog: {backlog['events']} events in {backlog['seconds']:.1f} s, "
            f"{backlog['events_per_second']:.0f} events/s"
        )
    return {
        "workers": count,
        "layout": f"{processes} x kitsync worker -c {concurrency}",
        "bare_write": bare,
        "steady": steady,
        "backlog": backlog,
        "p50_over_bare_write": steady["p50_ms"] / bare["p50_ms"],
        "load_average": {"start": load, "end": os.getloadavg()[0]},
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    generated = generate_production(
        shots=args.shots, sequences=args.sequences, assets=args.assets, seed=args.seed
    )
    print(f"generated in {time.perf_counter() - started:.1f} s: {generated.describe()}")
    prefix = bench_prefix()
    results: list[dict[str, Any]] = []
    try:
        async with (
            bench_database() as dsn,
            bench_bed(dsn, generated.kitsu, generated.project_id) as bed,
        ):
            started = time.perf_counter()
            report = await reconcile_project(bed.ctx, generated.project_id)
            if report.failures:
                raise SystemExit(f"the first full sync failed: {report.failures[:3]}")
            first_sync = time.perf_counter() - started
            print(f"first full sync (in-process, not timed below): {first_sync:.1f} s")
            env = worker_env(
                kitsu_url=bed.kitsu_url,
                ayon_url=bed.ayon_url,
                dsn=dsn,
                redis_url=REDIS_URL,
                prefix=prefix,
            )
            settings = load_settings(
                ["kitsu", "ayon", "ayon_db", "redis"],
                **{k: v for k, v in env.items() if k.startswith(("KITSU_", "AYON_", "KITSYNC_"))},
            )
            celery = create_celery(settings)
            # The receiver runs on its own thread and loop: its key queue has its own client.
            queue = RedisKeyQueue(REDIS_URL, prefix=key_queue_prefix(settings))
            receiver = create_app(CelerySink(celery, queue), secret=WEBHOOK_SECRET)
            changes = Changes(generated, await kitsu_castings(bed), args.seed)
            with serve(receiver) as receiver_url:
                async with httpx.AsyncClient(timeout=30) as client:
                    run = Run(
                        bed,
                        changes,
                        Commits(bed.log, changes),
                        receiver_url,
                        client,
                        settings,
                        prefix,
                        random.Random(args.seed),
                        args,
                    )
                    for count in args.workers:
                        results.append(await one_count(run, env, count))
                    run.broker.close()
            celery.close()
    finally:
        removed = delete_redis_keys(REDIS_URL, prefix)
        print(f"removed {removed} Redis keys under {prefix}")
    return {
        "command": " ".join(["bench/incremental.py", *args.argv]),
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "production": generated.describe(),
        "first_sync_seconds": first_sync,
        "settings": {
            "rate": args.rate,
            "duration": args.duration,
            "duplicates": args.duplicates,
            "backlog": args.backlog,
            "layout": args.layout,
        },
        "runs": results,
    }


STEADY_HEAD = (
    "workers",
    "changes",
    "events",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "bare ms",
    "p50/bare",
    "CPU ms/ev",
    "events/s",
    "busy cores",
)

BACKLOG_HEAD = (
    "workers",
    "changes",
    "events",
    "s to 50%",
    "s to 90%",
    "seconds",
    "events/s",
    "changes/s",
    "CPU ms/ev",
    "busy cores",
)


def _table(head: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    print("".join(f"{name:>11}" for name in head))
    for row in rows:
        cells = [f"{v:11.1f}" if isinstance(v, float) else f"{v!s:>11}" for v in row]
        print("".join(cells))


def _print(result: dict[str, Any]) -> None:
    print(f"\n{result['production']}; {result['settings']}")
    print("steady stream (latency: Kitsu change to AYON commit, per change):")
    print("load average (1 min) of the machine at each count's start and end:")
    print(
        "".join(
            f"  {r['workers']}: {r['load_average']['start']:.1f}-{r['load_average']['end']:.1f}"
            for r in result["runs"]
        )
    )
    _table(
        STEADY_HEAD,
        [
            (
                run["workers"],
                run["steady"]["changes"],
                run["steady"]["events"],
                run["steady"]["p50_ms"],
                run["steady"]["p95_ms"],
                run["steady"]["p99_ms"],
                run["bare_write"]["p50_ms"],
                run["p50_over_bare_write"],
                run["steady"]["worker_cpu_ms_per_event"],
                run["steady"]["events_per_second"],
                run["steady"]["counters"]["machine_busy_cores"],
            )
            for run in result["runs"]
        ],
    )
    print("p50 of each stage (ms):")
    stages = list(result["runs"][0]["steady"]["p50_ms_by_stage"])
    print("".join(f"  {i + 1}: {name}" for i, name in enumerate(stages)))
    _table(
        ("workers", *(f"stage {i + 1}" for i in range(len(stages)))),
        [(run["workers"], *run["steady"]["p50_ms_by_stage"].values()) for run in result["runs"]],
    )
    print("backlog (changes on distinct shots, posted at once):")
    _table(
        BACKLOG_HEAD,
        [
            (
                run["workers"],
                run["backlog"]["changes"],
                run["backlog"]["events"],
                run["backlog"]["seconds_to_half"],
                run["backlog"]["seconds_to_90_percent"],
                run["backlog"]["seconds"],
                run["backlog"]["events_per_second"],
                run["backlog"]["changes_per_second"],
                run["backlog"]["worker_cpu_ms_per_event"],
                run["backlog"]["counters"]["machine_busy_cores"],
            )
            for run in result["runs"]
        ],
    )
    print("steady stream, committed within (s): the bench's changes | kitsync's histogram")
    for run in result["runs"]:
        s = run["steady"]
        mine = " ".join(f"<={b}:{s['buckets'][b]}" for b in s["buckets"])
        h = s["kitsync_histogram"]
        theirs = " ".join(f"<={b}:{h[b]:.0f}" for b in s["buckets"])
        print(f"  {run['workers']} workers: {mine} | {theirs} (of {h['count']:.0f} reconciles)")


def _workers_list(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("worker counts: positive integers, comma-separated")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=_workers_list, default=[1, 2, 4])
    parser.add_argument("--layout", choices=("separate", "prefork"), default="separate")
    parser.add_argument("--rate", type=float, default=5.0, help="events per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of steady stream")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds, not measured")
    parser.add_argument("--duplicates", type=float, default=0.2, help="share posted again")
    parser.add_argument("--backlog", type=int, default=400, help="changes, on distinct shots")
    parser.add_argument("--bare-writes", type=int, default=200)
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--logs", help="keep the workers' logs in this folder")
    production_options(parser)
    parser.add_argument("--output", default=str(RESULTS / "incremental.json"))
    args = parser.parse_args()
    exit_on_sigterm()
    run_and_report(args, bench, _print)


if __name__ == "__main__":
    main()
