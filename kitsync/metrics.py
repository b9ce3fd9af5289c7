"""Prometheus metrics of kitsync.

The receiver serves them at ``/metrics``. Celery workers are several processes: ``kitsync worker
--metrics-port N`` sets ``PROMETHEUS_MULTIPROC_DIR`` before any metric exists, every process
writes its values there, and the port serves their sum.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    make_asgi_app,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp

EVENTS = Counter("kitsync_events_received_total", "Kitsu events taken in, by source", ["source"])
DUPLICATES = Counter(
    "kitsync_events_duplicate_total", "Kitsu events dropped as already seen", ["source"]
)
RECONCILES = Counter(
    "kitsync_reconciles_total", "Reconciles by key kind and outcome", ["kind", "outcome"]
)
REQUESTS = Counter(
    "kitsync_requests_total",
    "HTTP requests to Kitsu and AYON by outcome (error: 4xx/5xx or no answer)",
    ["service", "outcome"],
)
LATENCY = Histogram(
    "kitsync_event_to_commit_seconds",
    "Kitsu event time to the AYON commit of the reconcile it triggered (Zou stamps events to the "
    "whole second: up to 1 s high)",
    # A healthy farm commits in tens of milliseconds (bench/RESULTS.md): buckets below 0.5 s.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)

BUDGET_LIMIT = Gauge(
    "kitsync_budget_limit",
    "Requests all kitsync processes together may have in flight, by server",
    ["server"],
    multiprocess_mode="mostrecent",
)
BUDGET_IN_USE = Gauge(
    "kitsync_budget_in_use",
    "Budget slots held now by this node's processes, by server",
    ["server"],
    multiprocess_mode="livesum",
)
BUDGET_WAIT = Counter(
    "kitsync_budget_wait_seconds_total", "Seconds spent waiting for a budget slot", ["server"]
)
BUDGET_PAUSES = Counter(
    "kitsync_budget_pauses_total",
    "429/503 answers with Retry-After that paused every kitsync process",
    ["server"],
)
# The AYON -> Kitsu direction (KITSYNC_AYON_TO_KITSU).
AYON_EVENTS = Counter(
    "kitsync_ayon_events_total",
    "AYON task events taken from AYON's enroll queue, by what became of them",
    ["outcome"],
)
KITSU_WRITES = Counter(
    "kitsync_kitsu_writes_total", "Writes to Kitsu from AYON's changes, by kind", ["kind"]
)
CONFLICTS = Counter(
    "kitsync_conflicts_total",
    "Task fields changed on both sides since the last sync, by field and winner",
    ["field", "winner"],
)
AYON_EVENTS_LAG = Gauge(
    "kitsync_ayon_events_lag_seconds",
    "After a drain of AYON's events: now minus the time of the oldest one still waiting (0: none)",
    multiprocess_mode="mostrecent",
)


def count_request(service: str, status: int | None) -> None:
    """One request to ``service``; ``status`` None when no answer came."""
    REQUESTS.labels(service, "ok" if status is not None and status < 400 else "error").inc()


def observe_reconcile(kind: str, outcome: str, since: datetime | None = None) -> None:
    """One reconcile ended; ``since``: the Kitsu event time behind it, when it changed AYON."""
    RECONCILES.labels(kind, outcome).inc()
    if since is not None and outcome == "changed":
        now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as Kitsu stamps its events
        LATENCY.observe((now - since).total_seconds())


class _Together(Collector):
    def __init__(self, *sources: Collector) -> None:
        self._sources = sources

    def collect(self) -> Iterable[Metric]:
        for source in self._sources:
            yield from source.collect()


def _registry(shared: Collector | None) -> CollectorRegistry:
    """This process's metrics (or, with ``PROMETHEUS_MULTIPROC_DIR``, the sum of every worker
    process's), plus ``shared``: gauges of state shared by all processes, read at scrape time."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        own: Collector = CollectorRegistry()
        multiprocess.MultiProcessCollector(own)  # type: ignore[no-untyped-call]
    else:
        own = REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Together(own, *([shared] if shared else [])))
    return registry


def metrics_app(shared: Collector | None = None) -> ASGIApp:
    """An ASGI app answering Prometheus' scrape (mounted at ``/metrics`` by the receiver)."""
    app: ASGIApp = make_asgi_app(_registry(shared))
    return app


def serve_worker_metrics(port: int, shared: Collector | None = None) -> None:
    """Serve the sum of every worker process's metrics on ``port`` (a background thread)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        raise RuntimeError("set PROMETHEUS_MULTIPROC_DIR before serving worker metrics")
    start_http_server(port, registry=_registry(shared))
