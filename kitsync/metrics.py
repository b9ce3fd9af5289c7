"""Prometheus metrics of kitsync.

The receiver serves them at ``/metrics``. Celery workers are several processes: ``kitsync worker
--metrics-port N`` sets ``PROMETHEUS_MULTIPROC_DIR`` before any metric exists, every process
writes its values there, and the port serves their sum.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    make_asgi_app,
    multiprocess,
    start_http_server,
)
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
KEYS = Gauge(
    "kitsync_keys", "Keys of the key queue by state", ["state"], multiprocess_mode="mostrecent"
)
POLLER_LAG = Gauge(
    "kitsync_poller_lag_seconds",
    "Now minus the poller's cursor in Kitsu's event log",
    multiprocess_mode="mostrecent",
)
LATENCY = Histogram(
    "kitsync_event_to_commit_seconds",
    "Kitsu event time to the AYON commit of the reconcile it triggered (Zou stamps events to the "
    "whole second: up to 1 s high)",
    # A healthy farm commits in tens of milliseconds (bench/RESULTS.md): buckets below 0.5 s.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)


def count_request(service: str, status: int | None) -> None:
    """One request to ``service``; ``status`` None when no answer came."""
    REQUESTS.labels(service, "ok" if status is not None and status < 400 else "error").inc()


def _registry() -> CollectorRegistry | None:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return None  # the process's default registry
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def metrics_app() -> ASGIApp:
    """An ASGI app answering Prometheus' scrape (mounted at ``/metrics`` by the receiver)."""
    registry = _registry()
    app: ASGIApp = make_asgi_app(registry) if registry else make_asgi_app()
    return app


def serve_worker_metrics(port: int) -> None:
    """Serve the sum of every worker process's metrics on ``port`` (a background thread)."""
    registry = _registry()
    if registry is None:
        raise RuntimeError("set PROMETHEUS_MULTIPROC_DIR before serving worker metrics")
    start_http_server(port, registry=registry)
