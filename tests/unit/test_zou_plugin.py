"""The Zou plugin against the real receiver (uvicorn on loopback), as Zou 1.0.97 calls it.

Zou's ``events.emit`` calls ``handler.handle_event(data)`` with the event's data plus ``id``
(the stored event's id) and ``project_id``; ``zou_data`` rebuilds exactly that from a recorded
event.
"""

from __future__ import annotations

import json
import logging
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kitsync.receiver import create_app, sign_body
from kitsync.schemas.kitsu import FORWARDED_EVENT_NAMES
from kitsync.zou_plugin import FORWARDED_EVENT_NAMES as PLUGIN_EVENT_NAMES
from kitsync.zou_plugin import ZouHandler, event_map
from kitsync.zou_plugin import _forwarder as forwarder
from kitsync.zou_plugin.__main__ import main as plugin_main
from tests.fakes.serve import free_port, serve
from tests.unit.test_receiver import SECRET, MemorySink, build_log_events

PLUGIN_LOGGER = forwarder.logger.name


def zou_data(event: dict[str, Any]) -> dict[str, Any]:
    """What Zou 1.0.97's ``emit`` hands ``handle_event`` for a stored event."""
    return {**event["data"], "id": event["id"]}


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def undelivered(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == PLUGIN_LOGGER and "not delivered" in record.getMessage()
    ]


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def receiver_url(sink: MemorySink) -> Iterator[str]:
    with serve(create_app(sink, secret=SECRET)) as url:
        yield url


@pytest.fixture
def plugin_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def configure(url: str, *, job_queue: bool = False, secret: str = SECRET) -> None:
        monkeypatch.setenv("KITSYNC_RECEIVER_URL", url)
        monkeypatch.setenv("KITSYNC_WEBHOOK_SECRET", secret)
        monkeypatch.setenv("KITSYNC_PLUGIN_TIMEOUT", "0.3")
        monkeypatch.setenv("ENABLE_JOB_QUEUE", "true" if job_queue else "false")

    return configure


@pytest.fixture
def hung_url() -> Iterator[str]:
    """A server that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_the_plugin_forwards_exactly_the_event_names_kitsync_expects() -> None:
    assert PLUGIN_EVENT_NAMES == FORWARDED_EVENT_NAMES
    assert set(event_map) == FORWARDED_EVENT_NAMES


def test_event_map_registers_the_way_zou_registers_it() -> None:
    # zou.app.utils.events.register_all: handlers[event][value.__name__.split(".")[-1]] = value
    registered = {name: {value.__name__.split(".")[-1]: value} for name, value in event_map.items()}

    for name, handlers in registered.items():
        [handler] = handlers.values()
        assert callable(handler.handle_event)
        assert isinstance(handler, ZouHandler)
        assert handler.event_name == name


def test_handlers_pickle_for_zous_job_queue() -> None:
    # With ENABLE_JOB_QUEUE, Zou enqueues handler.handle_event in RQ, which pickles it.
    method = pickle.loads(pickle.dumps(event_map["shot:update"].handle_event))

    assert method.__self__.event_name == "shot:update"


def test_plugin_and_receiver_sign_alike() -> None:
    body = json.dumps({"id": "x", "name": "shot:update"}).encode()

    assert forwarder.sign(SECRET, body) == sign_body(SECRET, body)


def test_recorded_events_reach_the_receiver_with_their_ids(
    sink: MemorySink, receiver_url: str, plugin_env: Callable[..., None]
) -> None:
    plugin_env(receiver_url)
    recorded = [e for e in build_log_events() if e["name"] in PLUGIN_EVENT_NAMES]
    before = datetime.now(UTC).replace(tzinfo=None).replace(microsecond=0)

    for event in recorded:
        event_map[event["name"]].handle_event(zou_data(event))

    wait_for(lambda: len(sink.events) == len(recorded))
    after = datetime.now(UTC).replace(tzinfo=None)
    for event in recorded:
        received = sink.events[event["id"]]
        assert received.name == event["name"]
        assert received.data == event["data"]
        # Zou hands handlers data.project_id only; it equals the event's column except for the
        # project:new / project:update events whose column Zou leaves null.
        assert received.project_id == event["data"].get("project_id")
        assert event["project_id"] in (None, received.project_id)
        assert before <= received.created_at <= after
        assert received.user_id is None
    # Sent in batches from the background thread, never more requests than events.
    assert 1 <= len(sink.calls) <= len(recorded)
    assert {source for _, source in sink.calls} == {"webhook"}


def test_in_job_queue_mode_the_event_is_posted_before_handle_event_returns(
    sink: MemorySink, receiver_url: str, plugin_env: Callable[..., None]
) -> None:
    plugin_env(receiver_url, job_queue=True)
    event = next(e for e in build_log_events() if e["name"] == "shot:new")

    event_map["shot:new"].handle_event(zou_data(event))

    assert list(sink.events) == [event["id"]]


def test_a_hung_receiver_does_not_hold_zou_up(
    hung_url: str, plugin_env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    plugin_env(hung_url)
    data = {"shot_id": "s1", "project_id": "p1", "id": "hung-1"}

    with caplog.at_level(logging.WARNING, logger=PLUGIN_LOGGER):
        started = time.monotonic()
        event_map["shot:update"].handle_event(data)
        returned = time.monotonic() - started
        # The background POST gives up after the timeout and logs (the poller has the event).
        wait_for(lambda: bool(undelivered(caplog)), timeout=5)

    assert returned < 0.1
    assert "timed out" in undelivered(caplog)[0]


def test_a_hung_receiver_times_out_quickly_in_job_queue_mode(
    hung_url: str, plugin_env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    plugin_env(hung_url, job_queue=True)

    with caplog.at_level(logging.WARNING, logger=PLUGIN_LOGGER):
        started = time.monotonic()
        event_map["shot:update"].handle_event({"shot_id": "s1", "id": "hung-2"})
        elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 2
    assert len(undelivered(caplog)) == 1


@pytest.mark.parametrize("job_queue", [False, True], ids=["thread", "job-queue"])
def test_a_receiver_that_is_down_is_dropped_silently(
    plugin_env: Callable[..., None], caplog: pytest.LogCaptureFixture, job_queue: bool
) -> None:
    plugin_env(f"http://127.0.0.1:{free_port()}", job_queue=job_queue)

    with caplog.at_level(logging.WARNING, logger=PLUGIN_LOGGER):
        event_map["asset:update"].handle_event({"asset_id": "a1", "id": f"down-{job_queue}"})
        wait_for(lambda: bool(undelivered(caplog)), timeout=5)

    assert "URLError" in undelivered(caplog)[0]


def test_a_wrong_secret_is_refused_by_the_receiver_and_logged(
    sink: MemorySink,
    receiver_url: str,
    plugin_env: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin_env(receiver_url, job_queue=True, secret="not-the-receivers")

    with caplog.at_level(logging.WARNING, logger=PLUGIN_LOGGER):
        event_map["shot:update"].handle_event({"shot_id": "s1", "id": "bad-secret"})

    assert sink.events == {}
    [message] = undelivered(caplog)
    assert "401" in message
    assert "not-the-receivers" not in caplog.text


def test_missing_settings_are_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KITSYNC_RECEIVER_URL", raising=False)
    monkeypatch.setenv("KITSYNC_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ENABLE_JOB_QUEUE", "1")

    with caplog.at_level(logging.WARNING, logger=PLUGIN_LOGGER):
        event_map["task:update"].handle_event({"task_id": "t1", "id": "no-url"})

    [message] = undelivered(caplog)
    assert "KITSYNC_RECEIVER_URL" in message
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "data",
    [{"shot_id": "s1", "project_id": "p1"}, {"id": ""}, None, ["id"]],
    ids=["not-stored", "empty-id", "none", "list"],
)
def test_events_zou_did_not_store_are_not_forwarded(
    sink: MemorySink, receiver_url: str, plugin_env: Callable[..., None], data: object
) -> None:
    plugin_env(receiver_url, job_queue=True)

    event_map["shot:update"].handle_event(data)

    assert sink.calls == []


@pytest.mark.parametrize("timeout", ["0", "abc", "120"])
def test_a_bad_timeout_setting_is_reported(monkeypatch: pytest.MonkeyPatch, timeout: str) -> None:
    monkeypatch.setenv("KITSYNC_RECEIVER_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("KITSYNC_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("KITSYNC_PLUGIN_TIMEOUT", timeout)

    with pytest.raises(forwarder.NotConfigured, match="KITSYNC_PLUGIN_TIMEOUT"):
        forwarder.Settings.from_env()


def test_settings_repr_hides_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITSYNC_RECEIVER_URL", "http://kitsync:8080/")
    monkeypatch.setenv("KITSYNC_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("KITSYNC_PLUGIN_TIMEOUT", raising=False)

    settings = forwarder.Settings.from_env()

    assert (settings.url, settings.timeout) == ("http://kitsync:8080", 2.0)
    assert SECRET not in repr(settings)


def test_install_makes_a_package_zou_imports_without_kitsync(tmp_path: Path) -> None:
    assert plugin_main(["install", str(tmp_path)]) == 0

    # What Zou does: sys.path.insert(0, EVENT_HANDLERS_FOLDER); import event_handlers.
    script = (
        "import json, sys; sys.modules['kitsync'] = None; "
        f"sys.path.insert(0, {str(tmp_path)!r}); import event_handlers; "
        "print(json.dumps(sorted(event_handlers.event_map)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True
    )
    assert set(json.loads(result.stdout)) == FORWARDED_EVENT_NAMES
    assert sorted(p.name for p in (tmp_path / "event_handlers").glob("*.py")) == [
        "__init__.py",
        "_forwarder.py",
        "_names.py",
    ]


def test_install_replaces_its_own_package_but_not_a_foreign_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plugin_main(["install", str(tmp_path)]) == 0
    assert plugin_main(["install", str(tmp_path)]) == 0
    foreign = tmp_path / "studio" / "event_handlers"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("event_map = {}\n")

    assert plugin_main(["install", str(tmp_path / "studio")]) == 1
    assert "not kitsync's plugin" in capsys.readouterr().err
    assert (foreign / "__init__.py").read_text() == "event_map = {}\n"
    assert plugin_main(["install", str(tmp_path / "studio"), "--package", "kitsync_events"]) == 0
    assert (tmp_path / "studio" / "kitsync_events" / "__init__.py").is_file()


def test_created_at_is_naive_utc_to_the_second() -> None:
    event = forwarder.kitsu_event("shot:update", {"id": "e1", "shot_id": "s1"})

    created = datetime.fromisoformat(str(event["created_at"]))
    assert created.tzinfo is None
    assert created.microsecond == 0
    assert abs(created - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=5)
    assert event["data"] == {"shot_id": "s1"}
