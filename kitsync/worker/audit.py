"""The audit trail in AYON's events (``kitsync.reconcile``): written after a reconcile, and never
a reason to fail or re-run one. AYON down for its record must not undo a reconcile that worked."""

from __future__ import annotations

import logging

from kitsync.ayon import AyonError
from kitsync.core.routing import Key
from kitsync.reconcile import ReconcileResult
from kitsync.reconcile import record_reconcile as write_record
from kitsync.worker.runtime import Runtime

log = logging.getLogger("kitsync.worker")


def record_reconcile(
    runtime: Runtime, key: Key, result: ReconcileResult | None, error: str | None
) -> None:
    try:
        runtime.run(write_record(runtime.context(), key, result, error))
    except AyonError as failure:
        log.warning("could not record %s in AYON's events: %s", key, failure)
