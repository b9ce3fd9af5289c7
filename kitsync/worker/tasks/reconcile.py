"""``kitsync.reconcile(key)``: converge one key, one worker at a time.

Claims the key in the key queue (a duplicate delivery, a retry not due yet, or a key another
worker holds ends here), reconciles it while renewing the lease (``worker/leases.py``), then
queues the follow-ups the run asked for and releases it: a trigger that came during the run makes
it run once more. Failures:
``worker/failures.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kitsync.core.routing import Key
from kitsync.metrics import observe_reconcile
from kitsync.reconcile import reconcile_key
from kitsync.worker import names
from kitsync.worker.audit import record_reconcile
from kitsync.worker.failures import reconcile_failed
from kitsync.worker.keyqueue import Claim
from kitsync.worker.leases import LeaseLost, while_holding
from kitsync.worker.runtime import Runtime
from kitsync.worker.scheduling import schedule, trigger

log = logging.getLogger("kitsync.worker")

NAME = names.RECONCILE
OPTIONS: dict[str, Any] = {}


def run(runtime: Runtime, key: str, since: str | None = None) -> dict[str, Any]:
    parsed = Key.parse(key)
    owner = runtime.owner
    lease = runtime.settings.lease_seconds
    queue = runtime.queue()
    claim = runtime.run(queue.claim(key, owner, lease))
    if claim is Claim.NOT_QUEUED and runtime.single_process:
        # The in-process queue forgot this task's key in a restart; the task is the truth.
        runtime.run(queue.add([key]))
        claim = runtime.run(queue.claim(key, owner, lease))
    if claim is Claim.NOT_QUEUED:
        return {"key": key, "outcome": "duplicate delivery, dropped"}
    if claim is Claim.NOT_DUE:
        # Early by the sender's clock (a countdown is judged on the machines' clocks, the due
        # time on Redis's): wait the rest. A duplicate of the retry's task does the same, and
        # then finds the key done or held.
        left = runtime.run(queue.due_in(key))
        if left is not None:
            schedule(runtime, [parsed], countdown=max(left, 0.0))
        return {"key": key, "outcome": "retry not due yet, rescheduled for its due time"}
    if claim is Claim.BUSY:
        schedule(runtime, [parsed], countdown=lease / 4)
        return {"key": key, "outcome": "busy elsewhere, retrying later"}
    log.debug("claimed %s as %s", key, owner)
    try:
        work = reconcile_key(runtime.context(), parsed)
        try:
            result = runtime.run(while_holding(queue, key, owner, lease, work))
        finally:
            # Before the key is released: the span logged lies within the lease (tests check
            # that no key is reconciled twice at once from these lines).
            log.debug("ended %s as %s", key, owner)
    except LeaseLost as lost:
        # Another worker holds the key now (it runs again after that one), or the lease is gone
        # with Redis's data (a restart without persistence): queued again either way.
        log.warning("%s", lost)
        trigger(runtime, [parsed])
        return {"key": key, "outcome": "lease lost, queued again"}
    except Exception as error:
        failed = reconcile_failed(runtime, parsed, owner, error)
        observe_reconcile(parsed.kind, failed["outcome"])
        return failed
    if result.follow_ups:
        # While the key is still held: a worker dying before the release has the key run
        # again (its lease runs out), which queues them again; after the release, nothing would.
        trigger(runtime, result.follow_ups)
    if runtime.run(queue.done(key, owner)):
        schedule(runtime, [parsed])
    observe_reconcile(parsed.kind, result.outcome, datetime.fromisoformat(since) if since else None)
    log.info("reconciled %s", result.describe())
    record_reconcile(runtime, parsed, result, None)
    return {
        "key": key,
        "name": result.label,
        "outcome": result.outcome,
        "changes": dict(result.changes),
        "notes": list(result.notes),
    }
