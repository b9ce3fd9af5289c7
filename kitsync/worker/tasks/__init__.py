"""kitsync's Celery tasks, one per module. Each module has the task's ``NAME``, its Celery
``OPTIONS`` and ``run(runtime, *args)``: a plain function, testable without Celery.

Reliability lives beside them, one policy a file: ``worker/failures.py`` (retry, backoff, dead
letter), ``worker/leases.py`` (one worker per key, renewed while it works), ``worker/audit.py``
(the AYON record, never a reason to fail), ``kitsync/metrics.py`` (what is counted).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps
from types import ModuleType
from typing import Any

from celery import Celery

from kitsync.worker.runtime import Runtime
from kitsync.worker.tasks import (
    ayon_events,
    ingest,
    poll,
    reconcile,
    reconcile_all,
    reconcile_project,
    recover,
)

TASKS: tuple[ModuleType, ...] = (
    ingest,
    reconcile,
    reconcile_project,
    reconcile_all,
    poll,
    recover,
    ayon_events,
)


def register(app: Celery, runtime: Runtime) -> None:
    """Register every task on ``app``, each bound to ``runtime``."""
    for module in TASKS:
        app.task(name=module.NAME, shared=False, **module.OPTIONS)(_bound(module.run, runtime))


def _bound(run: Callable[..., Any], runtime: Runtime) -> Callable[..., Any]:
    @wraps(run)
    def task(*args: Any, **kwargs: Any) -> Any:
        return run(runtime, *args, **kwargs)

    # Celery checks a message's arguments against this signature: the task's own, without runtime.
    signature = inspect.signature(run)
    task.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return task
