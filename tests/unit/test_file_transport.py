"""The file broker of ``kitsync run``: a publish in this process wakes the waiting consumer at
once; messages stay files (a new connection, as after a restart, finds them); files written by
another process are still found by the poll."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kombu import Connection
from kombu.simple import SimpleQueue

from kitsync.worker.file_transport import TRANSPORT

# Far longer than the test waits: only the doorbell can make a message arrive in time.
NEVER = 600.0
# kombu keeps declared queues and bindings process-wide (not per folder): each test has queues
# of its own, or one would think a queue bound in another test's folder is bound in its own.


def _connection(folder: Path, transport: str = TRANSPORT, polling: float = NEVER) -> Connection:
    for part in ("processed", "control"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    return Connection(
        transport=transport,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "polling_interval": polling,
        },
    )


def test_a_publish_wakes_the_waiting_consumer(tmp_path: Path) -> None:
    received: list[object] = []
    with _connection(tmp_path) as consuming, _connection(tmp_path) as publishing:
        inbox = SimpleQueue(consuming, "wakes")
        inbox.get_nowait  # noqa: B018 - declares the queue before the consumer waits
        waiting = threading.Event()

        def consume() -> None:
            waiting.set()
            # kombu looks once more when the wait ends: only arriving well before it counts.
            started = time.monotonic()
            message = inbox.get(timeout=30)
            received.append((message.payload, time.monotonic() - started < 20))
            message.ack()

        consumer = threading.Thread(target=consume)
        consumer.start()
        waiting.wait()
        time.sleep(0.5)  # the consumer has looked, found nothing and waits (else no bell needed)
        SimpleQueue(publishing, "wakes").put({"event": 1})
        consumer.join(40)
    assert received == [({"event": 1}, True)]


def test_messages_are_files_until_taken(tmp_path: Path) -> None:
    with _connection(tmp_path) as publishing:
        SimpleQueue(publishing, "files").put({"key": "p/shot/1"})
    assert [path.suffix for path in tmp_path.glob("*.files.msg")] == [".msg"]
    with _connection(tmp_path) as restarted:
        message = SimpleQueue(restarted, "files").get(timeout=5)
        assert message.payload == {"key": "p/shot/1"}
        message.ack()
    assert not list(tmp_path.glob("*.msg"))


def test_another_processes_files_are_found_by_the_poll(tmp_path: Path) -> None:
    # kombu's own transport rings no bell here, as a publisher in another process would not.
    with _connection(tmp_path, "filesystem") as foreign:
        SimpleQueue(foreign, "foreign").put({"event": 2})
    with _connection(tmp_path, polling=0.05) as consuming:
        message = SimpleQueue(consuming, "foreign").get(timeout=5)
        assert message.payload == {"event": 2}
        message.ack()


def test_waiting_ends_at_the_timeout(tmp_path: Path) -> None:
    with _connection(tmp_path) as consuming:
        inbox = SimpleQueue(consuming, "timeout")
        with pytest.raises(inbox.Empty):
            inbox.get(timeout=0.2)
