"""Scenario 4: flaky and absent services.

(a) AYON answers 503 or times out on 20 % of its requests, Kitsu answers 5xx on 10 % of its
    (seeded draws), while two workers process a production's events and edits, and while full
    project reconciles run: one of the stream's production, and one of a production that only a
    full reconcile brings into AYON (it was made before the poller's cursor started). A timeout
    is the fake stalling longer than kitsync's HTTP timeout and then applying the write, as a
    slow real server does: the client sees a timeout, the write happened.
(b) AYON's port is closed for 30 s in the middle of a stream of events and edits, then opened
    again. Everything converges, nothing is dead-lettered: the retries (2 s doubling, with
    jitter, 8 attempts) outlast the outage.

Why a closed port rather than 503s for the outage: an AYON server that is down (restarting,
crashed, its node gone) refuses connections and drops the keep-alive connections kitsync's pool
holds, in the middle of requests too. That exercises what a clean 503 does not: connect errors,
connections reset with a write sent but no answer, and the HTTP pool recovering afterwards. The
fakes' 503s are exercised by (a).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.fakes.ayon import clear_faults, inject_failure_rate
from tests.fakes.serve import free_port
from tests.faults._bed import FaultBed, fault_bed
from tests.integration.processes import until
from tests.production_generator import GeneratedProduction

pytestmark = pytest.mark.faults

HTTP_TIMEOUT = 1.0  # kitsync's, in this bed: a stalled answer costs a worker one second
STALL = HTTP_TIMEOUT + 1.5  # a "timeout": the fake answers (and writes) after the client gave up
OUTAGE = 30.0


@pytest.fixture
async def flaky_bed(
    pg_dsn: str, redis_url: str, redis_prefix: str, reference_dsn: str, tmp_path: Path
) -> AsyncIterator[FaultBed]:
    env = {"KITSYNC_HTTP_TIMEOUT": f"{HTTP_TIMEOUT:g}"}
    async with fault_bed(pg_dsn, redis_url, redis_prefix, tmp_path, reference_dsn, env=env) as bed:
        yield bed


# -- the stream: a production's events and edits ----------------------------------------------
async def _stream(
    bed: FaultBed,
    production: GeneratedProduction,
    rng: random.Random,
    *,
    seconds: float,
    edits: int,
) -> None:
    """Post the production's events in batches over ``seconds``, making ``edits`` Kitsu edits
    (renames, frame ranges, descriptions) along the way; their events are posted too, and the
    poller finds everything as well."""
    events = bed.events(production)
    batches = max(1, round(seconds / 0.5))
    size = -(-len(events) // batches)
    shots = list(production.shot_ids)
    assets = list(production.asset_ids)
    for number in range(batches):
        since = len(bed.kitsu.events())
        for _ in range(edits // batches + (number < edits % batches)):
            _edit(bed, rng, shots, assets, number)
        batch = events[number * size : (number + 1) * size] + bed.events(production, since)
        if batch:
            answer = await bed.post(batch)
            assert answer.status_code == 202, answer.text
        await asyncio.sleep(seconds / batches)


def _edit(
    bed: FaultBed, rng: random.Random, shots: list[str], assets: list[str], number: int
) -> None:
    kind = rng.choice(("rename shot", "frames", "rename asset", "description"))
    if kind == "rename shot":
        bed.kitsu.update_entity(rng.choice(shots), name=f"SH R{number:02d} {rng.randint(0, 999)}")
    elif kind == "frames":
        start = rng.randint(990, 1010)
        bed.kitsu.update_entity(
            rng.choice(shots), data={"frame_in": start, "frame_out": start + rng.randint(10, 99)}
        )
    elif kind == "rename asset":
        bed.kitsu.update_entity(rng.choice(assets), name=f"Asset R{number:02d}")
    else:
        bed.kitsu.update_entity(rng.choice(shots + assets), description=f"edit {number}")


def _full_syncs(bed: FaultBed, project: str) -> list[str]:
    """The workers' lines for full reconciles of ``project`` that ran to their end."""
    return [
        line
        for log in bed.logs.glob("worker-*.log")
        for line in log.read_text(errors="replace").splitlines()
        if "kitsync.worker: full reconcile: " in line and f"-> AYON project {project}:" in line
    ]


def _log_count(bed: FaultBed, text: str) -> int:
    return sum(log.read_text(errors="replace").count(text) for log in bed.logs.glob("worker-*.log"))


# -- (a) ---------------------------------------------------------------------------------------
async def test_flaky_ayon_and_kitsu_while_events_and_full_reconciles_run(
    flaky_bed: FaultBed, seed: int
) -> None:
    bed = flaky_bed
    rng = random.Random(seed)
    # Made before the poller starts: only the full reconcile brings it into AYON.
    synced = bed.new_production(shots=10, seed=seed * 10 + 41)
    synced_project = await bed.pair(synced)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    await bed.start_beat()
    production = bed.new_production(shots=12, seed=seed * 10 + 42)
    project = await bed.pair(production)

    ayon = inject_failure_rate(
        bed.ayon_app, 0.2, statuses=(503,), timeout_share=0.5, stall=STALL, seed=seed
    )
    kitsu = bed.kitsu.failure_rate(0.1, statuses=(500, 502, 503), seed=seed + 1)
    bed.celery.send_task("kitsync.reconcile_project", args=(synced.project_id,))
    await _stream(bed, production, rng, seconds=6.0, edits=10)
    # After the events' reconciles have made a start, and while they still run.
    bed.celery.send_task("kitsync.reconcile_project", args=(production.project_id,))

    async def quiet() -> bool:
        ended = all(_full_syncs(bed, name) for name in (synced_project, project))
        return ended and await bed.idle()

    try:
        await until(quiet, bed.logs, 90, explain=lambda: "not idle, or a full reconcile not ended")
    finally:
        # The reference full syncs read the same fake Kitsu: they must not be failed.
        clear_faults(bed.ayon_app)
        bed.kitsu.failure_rate(0)
    print(f"seed {seed}: AYON {ayon}, Kitsu {kitsu}")
    assert ayon["status"] >= 10 and ayon["timeout"] >= 10, ayon
    assert kitsu["status"] >= 5, kitsu
    assert _log_count(bed, "retrying in") > 0  # the faults did fail reconciles
    assert not any("failed" in line for line in _full_syncs(bed, synced_project))

    await bed.converged(production, project, seconds=60)
    await bed.converged(synced, synced_project, seconds=60)


# -- (b) ---------------------------------------------------------------------------------------
class ClosablePort:
    """A TCP proxy in front of the fake AYON whose port can be closed (AYON down: connections
    refused, open ones reset) and opened again, on a thread and loop of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.upstream: tuple[str, int] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self.open()

    def stop(self) -> None:
        with suppress(RuntimeError):
            self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def open(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start_serving(), self._loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop_serving(), self._loop).result(10)

    async def _start_serving(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def _stop_serving(self) -> None:
        if self._server is None:
            raise RuntimeError("not serving")
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()  # a reset, as when the server process dies
        self._open.clear()
        await self._server.wait_closed()
        self._server = None

    async def _pipe(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        assert self.upstream is not None, "set upstream before kitsync connects"
        try:
            server_in, server = await asyncio.open_connection(*self.upstream)
        except OSError:
            client.transport.abort()
            return
        self._open |= {client, server}
        try:
            await asyncio.gather(_copy(client_in, server), _copy(server_in, client))
        except OSError:
            pass
        finally:
            for writer in (client, server):
                self._open.discard(writer)
                writer.transport.abort()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(65536):
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        sink.write_eof()


@pytest.fixture
def closable_port() -> Iterator[ClosablePort]:
    port = ClosablePort()
    port.start()
    try:
        yield port
    finally:
        port.stop()


@pytest.fixture
async def outage_bed(
    pg_dsn: str,
    redis_url: str,
    redis_prefix: str,
    reference_dsn: str,
    tmp_path: Path,
    closable_port: ClosablePort,
) -> AsyncIterator[FaultBed]:
    """A bed whose workers reach AYON through ``closable_port``."""
    env = {"AYON_URL": closable_port.url}
    async with fault_bed(pg_dsn, redis_url, redis_prefix, tmp_path, reference_dsn, env=env) as bed:
        host, _, port = bed.ayon_url.removeprefix("http://").partition(":")
        closable_port.upstream = (host, int(port))
        yield bed


async def test_ayon_down_for_30_seconds_mid_stream_loses_nothing(
    outage_bed: FaultBed, closable_port: ClosablePort, seed: int
) -> None:
    bed = outage_bed
    rng = random.Random(seed)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    await bed.start_beat()
    production = bed.new_production(shots=16, seed=seed * 10 + 43)
    project = await bed.pair(production)

    before = rng.uniform(1.0, 3.0)
    stream = asyncio.create_task(_stream(bed, production, rng, seconds=before + 10, edits=10))
    await asyncio.sleep(before)
    closable_port.close()
    down = time.monotonic()
    failed_before = _log_count(bed, "retrying in")
    try:
        await stream  # the rest of the stream arrives while AYON is down
        await asyncio.sleep(OUTAGE - (time.monotonic() - down))
    finally:
        closable_port.open()
    print(f"seed {seed}: AYON was down {time.monotonic() - down:.1f} s from {before:.1f} s on")
    assert _log_count(bed, "retrying in") > failed_before, "the outage failed no reconcile"

    await bed.converged(production, project, seconds=90)
