"""Scenario 5: AYON's Postgres connections dropped, over and over, while kitsync works.

Every 0.2-1 s (seeded) the scenario terminates (``pg_terminate_backend``) or cancels
(``pg_cancel_backend``) backends of the test session's own database, and only of it: the
workers' read-only sessions (``application_name`` "kitsync"), and sometimes every other session
of that database too (the fake AYON's pool, whose writes then fail with a 500, and the test's
own idle pool; each must get new connections by itself). Meanwhile a production's events are
reconciled key by key, and a full project reconcile runs on another production that only it
syncs (made before the poller's first run, its events never posted). AYON ends equal to a full
sync of each production, with no dead letter: a lost or cancelled connection is a transient
failure, retried. (Found here: a session terminated while idle in a worker's pool failed its next
query with asyncpg's InternalClientError, "cannot switch to state 12; another operation (2) is in
progress", which AyonReader did not count as transient: the key was dead-lettered.)
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.faults._bed import FaultBed

pytestmark = pytest.mark.faults

CHAOS_AT_LEAST = 6.0  # seconds of dropped connections, and on until the full reconcile is done
CHAOS_AT_MOST = 25.0

# Only this database's client sessions, never this connection's own.
_OURS = (
    "datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


@dataclass
class Chaos:
    """Drops connections of one database at random moments; counts what it hit."""

    dsn: str
    rng: random.Random
    terminated: dict[str, int] = field(default_factory=lambda: {"kitsync": 0, "others": 0})
    cancelled: int = 0
    rounds: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": "faults-chaos"})
        try:
            database = await conn.fetchval("SELECT current_database()")
            assert database == urlsplit(self.dsn).path.lstrip("/"), database
            assert database.startswith("kitsync_test_"), f"not a test database: {database}"
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), self.rng.uniform(0.2, 1.0))
                except TimeoutError:
                    await self.strike(conn)
        finally:
            await conn.close()

    async def strike(self, conn: asyncpg.Connection) -> None:
        self.rounds += 1
        draw = self.rng.random()
        if draw < 0.3:  # a query cancelled mid-flight (if one is running now)
            hit = await conn.fetchval(
                f"SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity "
                f"WHERE {_OURS} AND state = 'active' AND application_name = 'kitsync'"
            )
            self.cancelled += hit
            return
        everyone = draw >= 0.75  # the fake AYON's sessions (and the test's idle pool) too
        rows = await conn.fetch(
            f"SELECT application_name = 'kitsync' AS ours, pg_terminate_backend(pid) AS hit "
            f"FROM pg_stat_activity WHERE {_OURS} AND application_name <> 'faults-chaos' "
            f"AND ($1 OR application_name = 'kitsync')",
            everyone,
        )
        for row in rows:
            if row["hit"]:
                self.terminated["kitsync" if row["ours"] else "others"] += 1

    def describe(self) -> str:
        return (
            f"{self.rounds} strikes: terminated {self.terminated['kitsync']} kitsync and "
            f"{self.terminated['others']} other sessions, cancelled {self.cancelled} queries"
        )


def _logged(bed: FaultBed, text: str) -> int:
    """How many times ``text`` appears in the workers' logs."""
    return sum(log.read_text(errors="replace").count(text) for log in bed.logs.glob("worker-*.log"))


async def test_postgres_connections_dropped_mid_work(bed: FaultBed, pg_dsn: str, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    # Made before the poller's first run (by more than its one-second overlap) and never
    # posted: only the full reconcile brings this one to AYON.
    whole = bed.new_production(shots=24, seed=seed * 1000 + 51)
    whole_project = await bed.pair(whole)
    await asyncio.sleep(1.2)
    await bed.start_beat()
    streamed = bed.new_production(shots=24, seed=seed * 1000 + 52)
    streamed_project = await bed.pair(streamed)

    chaos = Chaos(pg_dsn, random.Random(rng.random()))
    stop = asyncio.Event()
    dropping = asyncio.create_task(chaos.run(stop))
    started = time.monotonic()
    reconcile_at = started + rng.uniform(0.5, 3.0)
    reconcile_sent = False
    events = bed.events(streamed)
    while events:
        size = rng.randint(3, 20)
        answer = await bed.post(events[:size])
        assert answer.status_code == 202, f"seed {seed}: {answer.status_code} {answer.text}"
        events = events[size:]
        await asyncio.sleep(rng.uniform(0.0, 0.2))
        if not reconcile_sent and time.monotonic() >= reconcile_at:
            bed.celery.send_task("kitsync.reconcile_project", args=(whole.project_id,))
            reconcile_sent = True
    if not reconcile_sent:
        await asyncio.sleep(max(0.0, reconcile_at - time.monotonic()))
        bed.celery.send_task("kitsync.reconcile_project", args=(whole.project_id,))
    while True:  # on while the full reconcile runs (it retries what the drops cut short)
        elapsed = time.monotonic() - started
        if elapsed > CHAOS_AT_MOST or (
            elapsed > CHAOS_AT_LEAST and _logged(bed, f"-> AYON project {whole_project}:")
        ):
            break
        await asyncio.sleep(0.3)
    stop.set()
    await dropping
    failed_reads = _logged(bed, "AYON's database is unreachable")
    context = (
        f"seed {seed}: {chaos.describe()} over {time.monotonic() - started:.1f} s; "
        f"{failed_reads} reads failed in the workers"
    )
    print(context)
    assert chaos.terminated["kitsync"] > 0, f"{context}: no kitsync session was dropped"

    try:
        await bed.converged(whole, whole_project, seconds=60)
        await bed.converged(streamed, streamed_project, seconds=60)
    except AssertionError as failure:
        raise AssertionError(f"{context}: {failure}") from None
