"""Statistics of a phase: latency by change, kind and stage, the workers' task run times, and
the counters (CPU, requests, kitsync's own metrics) between a phase's start and end."""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _common  # noqa: F401 - puts the repository root on sys.path
import httpx
from _workers import Workers
from _write_log import WriteLog, request_kinds

from tests.fakes.kitsu import FakeKitsu
from tests.proc import machine_busy_seconds

if TYPE_CHECKING:
    from _changes import Change

BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0)  # the first ones of kitsync_event_to_commit_seconds
HISTOGRAM = "kitsync_event_to_commit_seconds"


@dataclass
class Window:
    """What a phase is measured against: its sources, and their counters at its start."""

    client: httpx.AsyncClient
    log: WriteLog
    kitsu: FakeKitsu
    workers: Workers
    port: int  # the first worker's metrics port
    started: float
    worker_cpu: float
    own_cpu: float
    ayon_writes: int
    kitsu_requests: int
    metrics: dict[str, float]
    log_offsets: list[int]
    machine_busy: float

    @classmethod
    async def open(
        cls,
        client: httpx.AsyncClient,
        log: WriteLog,
        kitsu: FakeKitsu,
        workers: Workers,
        port: int,
    ) -> Window:
        return cls(
            client,
            log,
            kitsu,
            workers,
            port,
            time.perf_counter(),
            workers.cpu_seconds(),
            time.process_time(),
            len(log.writes),
            len(kitsu.requests),
            await scrape(client, port),
            [path.stat().st_size for path in workers.logs],
            machine_busy_seconds(),
        )

    async def close(self) -> dict[str, Any]:
        """The counters' changes since the start."""
        metrics = await scrape(self.client, self.port)
        seconds = time.perf_counter() - self.started
        return {
            "seconds": seconds,
            # of the machine's cores, busy on average (any process: this benchmark, Postgres,
            # Redis, the workers, and whatever else the shared machine runs)
            "machine_busy_cores": (machine_busy_seconds() - self.machine_busy) / seconds,
            "worker_cpu_seconds": self.workers.cpu_seconds() - self.worker_cpu,
            "bench_process_cpu_seconds": time.process_time() - self.own_cpu,
            "ayon_write_requests": len(self.log.writes) - self.ayon_writes,
            "ayon_write_requests_by_kind": request_kinds(self.log.writes[self.ayon_writes :]),
            "kitsu_requests": len(self.kitsu.requests) - self.kitsu_requests,
            "task_ms": task_times(self.workers.logs, self.log_offsets),
            "metrics": {
                name: value - self.metrics.get(name, 0.0)
                for name, value in metrics.items()
                if value != self.metrics.get(name, 0.0)
            },
        }


TASK_LINE = re.compile(r"Task (kitsync\.\w+)\[[^\]]+\] succeeded in ([0-9.e-]+)s")


def task_times(logs: list[Path], offsets: list[int]) -> dict[str, dict[str, float]]:
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
            "p50": quantile(values, 0.5),
            "mean": statistics.fmean(values),
            "p95": quantile(values, 0.95),
        }
        for name, values in sorted(times.items())
    }


async def scrape(client: httpx.AsyncClient, port: int) -> dict[str, float]:
    """kitsync's counters and histograms on the first worker's metrics port."""
    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    found = {}
    for line in text.splitlines():
        if line.startswith("kitsync_") and " " in line:
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


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
        "p50_ms": quantile(latencies, 0.5) * 1000,
        "p95_ms": quantile(latencies, 0.95) * 1000,
        "p99_ms": quantile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
        "p50_ms_by_kind": {k: quantile(v, 0.5) * 1000 for k, v in sorted(by_kind.items())},
        "p50_ms_by_stage": {k: quantile(v, 0.5) * 1000 for k, v in by_stage.items()},
        "committed": len(latencies),
        "buckets": {str(b): sum(x <= b for x in latencies) for b in BUCKETS},
    }


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def histogram(metrics: dict[str, float]) -> dict[str, float]:
    found = {str(b): metrics.get(f'{HISTOGRAM}_bucket{{le="{b}"}}', 0.0) for b in BUCKETS}
    found["count"] = metrics.get(f"{HISTOGRAM}_count", 0.0)
    return found


def bare_summary(
    before: tuple[list[float], list[float]], after: tuple[list[float], list[float]]
) -> dict[str, float]:
    """The bare write time over both series (before the workers start, after the steady
    stream), so that it sees the same machine as the stream did."""
    round_trips, served = before[0] + after[0], before[1] + after[1]
    return {
        "count": len(round_trips),
        "p50_ms": statistics.median(round_trips) * 1000,
        "p95_ms": quantile(round_trips, 0.95) * 1000,
        "p50_ms_before_workers": statistics.median(before[0]) * 1000,
        "p50_ms_after_stream": statistics.median(after[0]) * 1000,
        "server_p50_ms": statistics.median(served) * 1000,
    }
