"""The Celery task bodies as plain functions (``run(runtime, ...)``), on the in-process key queue:
what a reconcile task does with a claim it cannot take now, and with a lease it loses."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from kitsync.config import Settings
from kitsync.core.routing import Key
from kitsync.reconcile import ReconcileResult, SyncContext
from kitsync.worker.keyqueue import Claim, KeyQueueUnavailable
from kitsync.worker.runtime import Runtime
from kitsync.worker.tasks import reconcile, recover

KEY = "p/shot/s1"


class SentTasks:
    """Stands in for the Celery app: records what the task sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...], float | None]] = []

    def send_task(
        self,
        name: str,
        args: tuple[Any, ...] = (),
        kwargs: Any = None,
        countdown: float | None = None,
    ) -> None:
        self.sent.append((name, args, countdown))


def _runtime(tmp_path: Path, **settings: Any) -> tuple[Runtime, SentTasks]:
    runtime = Runtime(Settings(KITSYNC_STATE_DIR=str(tmp_path), **settings))
    app = SentTasks()
    runtime.bind(app)  # type: ignore[arg-type]
    return runtime, app


def test_a_retry_arriving_early_is_sent_again_for_the_rest_of_its_wait(tmp_path: Path) -> None:
    """Its sender's clock ran ahead of the queue's: dropped, the key would wait for `recover`."""
    runtime, app = _runtime(tmp_path)
    queue = runtime.queue()
    runtime.run(queue.add([KEY]))
    runtime.run(queue.claim(KEY, "w1", 60))
    runtime.run(queue.fail(KEY, "w1", "TransientError: 503", retry_in=30))

    outcome = reconcile.run(runtime, KEY)

    assert outcome["outcome"] == "retry not due yet, rescheduled for its due time"
    [(name, args, countdown)] = app.sent
    assert (name, args) == ("kitsync.reconcile", (KEY,))
    assert countdown is not None and 27 < countdown <= 30
    runtime.close()


def test_a_run_that_loses_its_lease_queues_its_key_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, _ = _runtime(tmp_path)
    queue = runtime.queue()
    runtime.run(queue.add([KEY]))

    async def stalled(ctx: SyncContext, key: Key) -> ReconcileResult:
        time.sleep(0.5)  # noqa: ASYNC251  the process stalls (no heartbeat) past its 0.3 s lease
        assert await queue.claim(KEY, "w2", 60) is Claim.GRANTED  # ...and another takes over
        await asyncio.sleep(2)
        raise AssertionError("cancelled before this")

    monkeypatch.setattr(reconcile, "reconcile_key", stalled)
    monkeypatch.setattr(Runtime, "context", lambda self: None)
    monkeypatch.setattr(runtime.settings, "lease_seconds", 0.3)

    outcome = reconcile.run(runtime, KEY)

    assert outcome["outcome"] == "lease lost, queued again"
    stats = runtime.run(queue.stats())
    # w2 holds it; the trigger marked it dirty, so it runs once more after w2's run.
    assert [p.owner for p in stats.processing] == ["w2"] and stats.dirty == 1
    runtime.close()


def test_follow_ups_are_queued_before_the_key_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies at the release leaves its key to run again (its lease runs out); its
    follow-ups must be queued by then, as a key released is never run again for them."""
    runtime, app = _runtime(tmp_path)
    queue = runtime.queue()
    runtime.run(queue.add([KEY]))
    follow_up = Key.parse("p/casting/e1")

    async def reconciled(ctx: SyncContext, key: Key) -> ReconcileResult:
        return ReconcileResult(KEY, "changed", {"update folder": 1}, follow_ups=(follow_up,))

    async def release_fails(*args: object) -> bool:
        raise KeyQueueUnavailable("the queue went away at the release")

    monkeypatch.setattr(reconcile, "reconcile_key", reconciled)
    monkeypatch.setattr(Runtime, "context", lambda self: None)
    monkeypatch.setattr(type(queue), "done", release_fails)

    with pytest.raises(KeyQueueUnavailable):
        reconcile.run(runtime, KEY)

    assert [args for _, args, _ in app.sent] == [(str(follow_up),)]
    runtime.close()


def test_recovery_sends_every_lost_key_but_one_that_cannot_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A key queued by an older kitsync from an id with a "/" stopped the whole recovery."""
    runtime, app = _runtime(tmp_path)
    queue = runtime.queue()
    runtime.run(queue.add(["p/shot/a/b", KEY]))
    monkeypatch.setattr(runtime.settings, "recover_after", 0.0)
    time.sleep(0.01)

    recover.run(runtime)

    assert [args for _, args, _ in app.sent] == [(KEY,)]
    assert "not a kitsync key: 'p/shot/a/b'" in caplog.text
    runtime.close()
