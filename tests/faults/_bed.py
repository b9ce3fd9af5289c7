"""The fault tier's bed: real ``kitsync worker`` and ``kitsync beat`` processes, the receiver,
real Redis and Postgres, fake Kitsu and fake AYON; and the checks every scenario ends with.

A scenario makes a ``FaultBed`` (``fault_bed(...)``), adds generated productions to its one
fake Kitsu (``new_production``: a new Kitsu project paired with a new AYON project), feeds their
events in while it breaks things, then calls ``converged(production)``, which waits until the key
queue is idle and AYON equals the reference, and asserts:

- AYON's active folders, tasks and breakdown links equal those of a reference AYON project built
  from Kitsu's final state by a full sync into another fake AYON on a database of its own;
- no Kitsu id has two AYON folders or two AYON tasks;
- nothing is left in the key queue but the dead letters the scenario expects;
- no key was ever reconciled by two workers at once (from the workers' claim/end log lines, with
  the span of a killed worker ending when it was killed).

Worker settings are shortened so that recovery happens in seconds: a 3 s lease, lost tasks
recovered after 5 s, the poller every second.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio
from celery import Celery

from kitsync.reconcile.project import reconcile_project
from kitsync.redis_keys import RedisKeys
from kitsync.worker.app import create_celery
from kitsync.worker.keyqueue import DeadLetter, RedisKeyQueue
from kitsync.worker.runtime import redis_key_queue
from tests.expected import USERS
from tests.fakes.ayon import add_users, create_project
from tests.fakes.ayon import create_app as create_ayon
from tests.fakes.kitsu import FakeKitsu
from tests.fakes.serve import serve
from tests.integration.processes import (
    post_events,
    served_receiver,
    until,
    worker_env,
    worker_settings,
)
from tests.integration.sync_bed import serve_fakes, sync_context
from tests.production_generator import GeneratedProduction, generate_production

SECRET = "fault-tier-webhook-secret"
LEASE_SECONDS = 3.0
RECOVER_AFTER = 5.0
FAST = {
    "KITSYNC_LEASE_SECONDS": str(LEASE_SECONDS),
    "KITSYNC_RECOVER_AFTER": str(RECOVER_AFTER),
    "KITSYNC_POLL_INTERVAL": "1",
    "KITSYNC_HTTP_TIMEOUT": "5",
    "KITSYNC_DB_TIMEOUT": "5",
    "KITSYNC_LOG_LEVEL": "DEBUG",
}


@dataclass
class Process:
    name: str
    process: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class FaultBed:
    kitsu: FakeKitsu
    ayon_app: Any
    kitsu_url: str
    ayon_url: str
    pg_dsn: str
    redis_url: str
    prefix: str
    logs: Path
    pool: asyncpg.Pool
    reference_dsn: str
    env: dict[str, str]
    celery: Celery
    queue: RedisKeyQueue
    receiver_url: str = ""
    workers: list[Process] = field(default_factory=list)
    beat: Process | None = None
    killed: dict[int, float] = field(default_factory=dict)
    """pid -> time.time() it was SIGKILLed (a span it never ended stops there)."""
    projects: list[str] = field(default_factory=list)
    """AYON projects paired here (deactivated at the end: Kitsu ids may come back)."""
    _count: int = 0

    # -- processes -------------------------------------------------------------------------
    async def start_worker(self, concurrency: int = 2, *, clock: str | None = None) -> Process:
        """A worker; ``clock`` (e.g. ``"+30s"``) runs it on a machine clock that far off, through
        libfaketime (its wall clock only: sleeps and timeouts run at the real pace)."""
        self._count += 1
        env = self.env | skewed_clock(clock) if clock else None
        worker = await self._spawn(
            f"worker-{self._count}", "worker", "-c", str(concurrency), env=env
        )
        self.workers.append(worker)
        return worker

    async def start_beat(self) -> None:
        """Start the beat and wait for the poller's first run (a worker must be running): its
        cursor starts then, so Kitsu events made after this are the poller's to find too."""
        self.beat = await self._spawn("beat", "beat")
        client = redis.asyncio.Redis.from_url(self.redis_url)
        try:

            async def polled() -> bool:
                return bool(await client.exists(RedisKeys(self.prefix).poll_last))

            await until(polled, self.logs, explain=lambda: "the poller never ran")
        finally:
            await client.aclose()

    async def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        log = (self.logs / f"{name}.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kitsync",
            *args,
            env=env or self.env,
            cwd=self.logs,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        return Process(name, process)

    def kill(self, worker: Process, *, pool_child_only: bool = False) -> list[int]:
        """SIGKILL a worker's whole process group (as a node dying), or one of its pool
        children (as the OOM killer); return the pids killed."""
        pids = _group(worker.pid)
        if pool_child_only:
            children = [pid for pid in pids if pid != worker.pid]
            pids = children[:1] if children else []
        now = time.time()
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.killed[pid] = now
        if not pool_child_only:
            self.workers.remove(worker)
        return pids

    async def stop_beat(self) -> None:
        """Stop the beat (no poller, no recovery), not the workers."""
        await _terminate([self.beat] if self.beat else [])
        self.beat = None

    async def stop(self) -> None:
        await _terminate([*self.workers, *([self.beat] if self.beat else [])])
        self.workers.clear()
        self.beat = None

    # -- input -----------------------------------------------------------------------------
    def new_production(self, shots: int = 24, seed: int = 0) -> GeneratedProduction:
        """A new generated feature film in the fake Kitsu (its build events in the log)."""
        return generate_production(
            shots,
            max(1, shots // 8),
            assets=max(6, shots // 3),
            seed=seed,
            name=f"Faults {uuid.uuid4().hex[:6]}",
            kitsu=self.kitsu,
        )

    async def pair(self, production: GeneratedProduction) -> str:
        """A new AYON project paired with the production; its name."""
        project = f"faults_{uuid.uuid4().hex[:10]}"
        await create_project(self.pg_dsn, project, data={"kitsuProjectId": production.project_id})
        self.projects.append(project)
        return project

    def events(self, production: GeneratedProduction, since: int = 0) -> list[dict[str, Any]]:
        return [
            e for e in self.kitsu.events()[since:] if e.get("project_id") == production.project_id
        ]

    async def post(self, events: list[dict[str, Any]]) -> httpx.Response:
        """Through the receiver, signed, as the Zou plugin sends them."""
        return await post_events(self.receiver_url, SECRET, events)

    # -- the end of every scenario -----------------------------------------------------------
    async def idle(self) -> bool:
        stats = await self.queue.stats()
        return stats.queued == 0 and not stats.processing and stats.dirty == 0

    async def converged(
        self,
        production: GeneratedProduction,
        project: str,
        *,
        dead: set[str] = frozenset(),  # type: ignore[assignment]
        seconds: float = 120.0,
    ) -> None:
        """Wait until the queue is idle and AYON equals the reference; then check it all."""
        expected = await self.reference(production)
        last: list[str] = []

        async def done() -> bool:
            if not await self.idle():
                return False
            last[:] = (await snapshot(self.pool, project)).differences(expected)
            return not last

        await until(done, self.logs, seconds, explain=lambda: "AYON differs:\n" + "\n".join(last))
        await self.check_no_duplicates(project)
        letters = await self.queue.dead_letters()
        assert {d.key for d in letters} == set(dead), _letters(letters)
        self.check_exclusive()

    async def reference(self, production: GeneratedProduction) -> Snapshot:
        """AYON as a full sync from scratch makes it from Kitsu's current state."""
        project = f"ref_{uuid.uuid4().hex[:10]}"
        await create_project(
            self.reference_dsn, project, data={"kitsuProjectId": production.project_id}
        )
        app = create_ayon(self.reference_dsn)
        async with AsyncExitStack() as stack:
            url = stack.enter_context(serve(app))
            pool = await asyncpg.create_pool(self.reference_dsn, min_size=1, max_size=4)
            stack.push_async_callback(pool.close)
            # Inactive afterwards, so the next reference of the same production can pair.
            stack.push_async_callback(
                pool.execute, "UPDATE public.projects SET active = false WHERE name = $1", project
            )
            await add_users(self.reference_dsn, USERS)
            ctx = await sync_context(stack, self.kitsu_url, url, pool)
            report = await reconcile_project(ctx, production.project_id)
            assert not report.failures, report.describe()
            return await snapshot(pool, project)

    async def check_no_duplicates(self, project: str) -> None:
        for table in ("folders", "tasks"):
            twice = await self.pool.fetch(
                f"SELECT data->>'kitsuId' AS id, count(*) AS n FROM project_{project}.{table} "
                "WHERE data ? 'kitsuId' GROUP BY 1 HAVING count(*) > 1"
            )
            assert not twice, f"Kitsu ids with several AYON {table}: {[dict(r) for r in twice]}"

    def interrupted(self) -> int:
        """How many reconciles a kill cut short (their span ends at the kill)."""
        return sum(
            1 for span in spans(self.logs, self.killed) if span.end == self.killed.get(span.pid)
        )

    def check_exclusive(self) -> None:
        """No key reconciled by two owners at once, from the claim/end lines of every log."""
        found = spans(self.logs, self.killed)
        assert found, "no claim/end lines in the workers' logs (they log them at DEBUG)"
        overlaps = overlapping_spans(found)
        assert not overlaps, f"keys reconciled twice at once: {overlaps[:5]}"


# -- AYON state -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    folders: dict[str, tuple[Any, ...]]
    tasks: dict[str, tuple[Any, ...]]
    links: Counter[tuple[str, str, str]]
    inactive: frozenset[str]

    def differences(self, expected: Snapshot) -> list[str]:
        found = []
        for part in ("folders", "tasks"):
            mine, theirs = getattr(self, part), getattr(expected, part)
            for path in sorted(set(mine) | set(theirs)):
                if mine.get(path) != theirs.get(path):
                    found.append(f"{part} {path}: {mine.get(path)} != expected {theirs.get(path)}")
        for link in sorted(set(self.links) | set(expected.links)):
            if self.links[link] != expected.links[link]:
                found.append(f"link {link}: {self.links[link]} != {expected.links[link]}")
        return found[:40]


async def snapshot(pool: asyncpg.Pool, project: str) -> Snapshot:
    """The project's active folders and tasks by path, and its breakdown links by paths."""
    schema = f"project_{project}"
    folder_rows = await pool.fetch(
        f"""WITH RECURSIVE t AS (
              SELECT id, name::text AS path, active FROM {schema}.folders WHERE parent_id IS NULL
              UNION ALL
              SELECT f.id, t.path || '/' || f.name, f.active AND t.active
              FROM {schema}.folders f JOIN t ON f.parent_id = t.id)
            SELECT t.id, t.path, t.active, f.folder_type, f.label, f.status, f.attrib, f.data
            FROM t JOIN {schema}.folders f USING (id)"""
    )
    path_of = {r["id"]: r["path"] for r in folder_rows}
    folders = {
        r["path"]: (r["folder_type"], r["label"], r["status"], _json(r["attrib"]), _json(r["data"]))
        for r in folder_rows
        if r["active"]
    }
    task_rows = await pool.fetch(
        f"""SELECT folder_id, name, task_type, label, status, assignees, attrib, data, active
            FROM {schema}.tasks"""
    )
    tasks = {
        f"{path_of[r['folder_id']]}/{r['name']}": (
            r["task_type"],
            r["label"],
            r["status"],
            tuple(sorted(r["assignees"])),
            _json(r["attrib"]),
            _json(r["data"]),
        )
        for r in task_rows
        if r["active"] and path_of[r["folder_id"]] in folders
    }
    link_rows = await pool.fetch(
        f"SELECT input_id, output_id, link_type FROM {schema}.links "
        "WHERE link_type LIKE 'breakdown|%'"
    )
    links = Counter(
        (path_of.get(r["input_id"], "?"), path_of.get(r["output_id"], "?"), r["link_type"])
        for r in link_rows
    )
    inactive = frozenset(r["path"] for r in folder_rows if not r["active"])
    return Snapshot(folders, tasks, links, inactive)


def _json(value: Any) -> str:
    return json.dumps(json.loads(value) if isinstance(value, str) else value, sort_keys=True)


# -- exclusive processing, from the logs ------------------------------------------------------
_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3}).*?"
    r"(?P<what>claimed|ended) (?P<key>\S+) as (?P<owner>\S+?:(?P<pid>\d+))\b"
)


@dataclass(frozen=True)
class Span:
    key: str
    owner: str
    start: float
    end: float

    @property
    def pid(self) -> int:
        return int(self.owner.rsplit(":", 1)[1])


def spans(logs: Path, killed: dict[int, float]) -> list[Span]:
    """Every reconcile span in the logs under ``logs``; an unended one ends at its kill."""
    found: list[Span] = []
    for log in logs.glob("*.log"):
        open_: dict[tuple[str, str], float] = {}
        for line in log.read_text(errors="replace").splitlines():
            match = _LINE.search(line)
            if match is None:
                continue
            stamp = datetime.fromisoformat(match["time"].replace(",", ".")).timestamp()
            ident = (match["key"], match["owner"])
            if match["what"] == "claimed":
                open_[ident] = stamp
            elif ident in open_:
                found.append(Span(*ident, open_.pop(ident), stamp))
        for (key, owner), start in open_.items():
            span = Span(key, owner, start, time.time())
            # Killed, or still running (the scenario ended): its span lasts until then.
            found.append(Span(key, owner, start, killed.get(span.pid, span.end)))
    return found


def overlapping_spans(found: list[Span]) -> list[tuple[Span, Span]]:
    by_key: dict[str, list[Span]] = {}
    for span in found:
        by_key.setdefault(span.key, []).append(span)
    overlaps = []
    for key_spans in by_key.values():
        key_spans.sort(key=lambda s: s.start)
        for before, after in itertools.pairwise(key_spans):
            if after.start < before.end:
                overlaps.append((before, after))
    return overlaps


async def _terminate(processes: list[Process]) -> None:
    """SIGTERM each process group; SIGKILL those still there after 20 s."""
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            await asyncio.wait_for(process.process.wait(), 20)
        except TimeoutError:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


FAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)


def skewed_clock(offset: str) -> dict[str, str]:
    """The environment of a process whose wall clock is ``offset`` off (libfaketime)."""
    if FAKETIME is None:
        raise RuntimeError("libfaketime is not installed (apt-get install libfaketime)")
    return {
        "LD_PRELOAD": str(FAKETIME),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_RESET": "1",  # forked pool children keep the offset
    }


def _letters(letters: list[DeadLetter]) -> str:
    return "dead letters: " + "; ".join(f"{d.key}: {d.error}" for d in letters)


def _group(pgid: int) -> list[int]:
    """The pids of a process group, leader first (from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after it.
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                pids.append(int(entry))
    return sorted(pids, key=lambda pid: pid != pgid)


# -- making a bed ----------------------------------------------------------------------------
@asynccontextmanager
async def fault_bed(
    pg_dsn: str,
    redis_url: str,
    prefix: str,
    logs: Path,
    reference_dsn: str,
    *,
    kitsu: FakeKitsu | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[FaultBed]:
    """Fakes served, the receiver served; no worker yet (``start_worker``, ``start_beat``)."""
    kitsu = kitsu or FakeKitsu.empty()
    ayon_app = create_ayon(pg_dsn)
    async with AsyncExitStack() as stack:
        fakes = await serve_fakes(stack, pg_dsn, kitsu, ayon_app)
        kitsu_url, ayon_url, pool = fakes.kitsu_url, fakes.ayon_url, fakes.pool
        full_env = (
            worker_env(
                kitsu_url=kitsu_url,
                ayon_url=ayon_url,
                pg_dsn=pg_dsn,
                redis_url=redis_url,
                prefix=prefix,
                webhook_secret=SECRET,
            )
            | FAST
            | (env or {})
        )
        settings = worker_settings(full_env)
        queue = redis_key_queue(settings)
        stack.push_async_callback(queue.close)
        celery = create_celery(settings)
        bed = FaultBed(
            kitsu=kitsu,
            ayon_app=ayon_app,
            kitsu_url=kitsu_url,
            ayon_url=ayon_url,
            pg_dsn=pg_dsn,
            redis_url=redis_url,
            prefix=prefix,
            logs=logs,
            pool=pool,
            reference_dsn=reference_dsn,
            env=full_env,
            celery=celery,
            queue=queue,
        )
        stack.push_async_callback(
            pool.execute,
            "UPDATE public.projects SET active = false WHERE name = ANY($1)",
            bed.projects,
        )
        stack.push_async_callback(bed.stop)
        bed.receiver_url = stack.enter_context(served_receiver(celery, settings, SECRET))
        yield bed
