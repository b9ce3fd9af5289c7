"""The webhook receiver in-process: signature, size limit, validation, sink hand-off, health."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from kitsync.errors import ConfigError
from kitsync.receiver import (
    SIGNATURE_HEADER,
    SinkUnavailable,
    SubmitResult,
    create_app,
    sign_body,
)
from kitsync.schemas.kitsu import KitsuEvent
from tests.conftest import FIXTURES
from tests.fakes.serve import serve

SECRET = "s3cret-webhook-value"
SHOT_UPDATE = {
    "id": "8d2a0f9e-4d0c-4f3e-9a57-0c6f1b2f7a11",
    "name": "shot:update",
    "created_at": "2026-11-27T21:12:45",
    "project_id": "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d",
    "user_id": "efb7121c-7753-4600-8bac-17218ebe6d37",
    "data": {"shot_id": "5fb5c7e9-1275-4780-9ff0-2161b63a5cca"},
}


class MemorySink:
    """The receiver's sink in memory: dedupes by event id, records every submit."""

    def __init__(self) -> None:
        self.events: dict[str, KitsuEvent] = {}
        self.calls: list[tuple[list[KitsuEvent], str]] = []
        self.up = True

    async def submit(self, events: Sequence[KitsuEvent], *, source: str) -> SubmitResult:
        if not self.up:
            raise SinkUnavailable("redis unreachable")
        self.calls.append((list(events), source))
        new = [event for event in events if event.id not in self.events]
        self.events.update((event.id, event) for event in new)
        return SubmitResult(accepted=len(new), duplicates=len(events) - len(new))

    async def healthy(self) -> bool:
        return self.up


def build_log_events() -> list[dict[str, Any]]:
    steps = json.loads((FIXTURES / "kitsu" / "film" / "build_log.json").read_text())
    return [event for step in steps for event in step["events"]]


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign_body(secret, body), "Content-Type": "application/json"}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def app(sink: MemorySink) -> FastAPI:
    return create_app(sink, secret=SECRET)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        yield client


async def post(client: httpx.AsyncClient, payload: object) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post("/kitsu/events", content=body, headers=signed(body))


async def test_one_signed_event_is_handed_to_the_sink(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    response = await post(client, SHOT_UPDATE)

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    [(events, source)] = sink.calls
    assert source == "webhook"
    assert events == [KitsuEvent.model_validate(SHOT_UPDATE)]


async def test_a_batch_of_recorded_zou_events_is_submitted_once_in_order(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    recorded = build_log_events()

    response = await post(client, {"events": recorded, "sender": "ignored extra key"})

    forwarded = [event for event in recorded if KitsuEvent.model_validate(event).forwarded]
    assert response.status_code == 202
    assert response.json() == {
        "accepted": len(recorded),
        "duplicates": 0,
        "ignored": len(recorded) - len(forwarded),
    }
    [(events, _)] = sink.calls
    assert [event.id for event in events] == [event["id"] for event in recorded]


async def test_duplicate_event_ids_are_not_enqueued_twice(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    first = await post(client, SHOT_UPDATE)
    again = await post(client, {"events": [SHOT_UPDATE, SHOT_UPDATE]})

    assert first.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 2, "ignored": 0}
    assert list(sink.events) == [SHOT_UPDATE["id"]]


async def test_unknown_event_names_are_accepted_and_counted_as_ignored(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    unknown = {**SHOT_UPDATE, "id": "news-1", "name": "news:new"}

    response = await post(client, {"events": [SHOT_UPDATE, unknown]})

    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0, "ignored": 1}
    # Routing, not the receiver, decides what an event name means.
    assert set(sink.events) == {SHOT_UPDATE["id"], "news-1"}


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        sign_body("another-secret", json.dumps(SHOT_UPDATE).encode()),
        sign_body(SECRET, json.dumps(SHOT_UPDATE).encode()).removeprefix("sha256="),
        "sha1=" + "0" * 40,
        "sha256=\xe9 not hex",
    ],
    ids=["missing", "empty", "zeros", "other-secret", "no-scheme", "sha1", "non-ascii"],
)
async def test_a_missing_or_wrong_signature_is_401_and_nothing_is_submitted(
    client: httpx.AsyncClient, sink: MemorySink, signature: str | None
) -> None:
    body = json.dumps(SHOT_UPDATE).encode()
    headers = {b"Content-Type": b"application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER.encode()] = signature.encode("latin-1")

    response = await client.post("/kitsu/events", content=body, headers=headers)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert SECRET not in response.text
    assert sign_body(SECRET, body).removeprefix("sha256=") not in response.text
    assert sink.calls == []


async def test_a_body_signed_for_other_bytes_is_refused(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    body = json.dumps(SHOT_UPDATE).encode()
    tampered = body.replace(b"shot:update", b"shot:delete")

    response = await client.post("/kitsu/events", content=tampered, headers=signed(body))

    assert response.status_code == 401
    assert sink.calls == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'{"id": NaN}', "not valid JSON"),
        (b"[" * 5000, "not valid JSON"),
        (b"", "not valid JSON"),
        (b'[{"id": "x"}]', "JSON object"),
        (b'"shot:update"', "JSON object"),
        (b"null", "JSON object"),
    ],
    ids=["syntax", "not-utf8", "nan", "deep", "empty", "list", "string", "null"],
)
async def test_malformed_bodies_are_422_naming_the_problem(
    client: httpx.AsyncClient, sink: MemorySink, body: bytes, problem: str
) -> None:
    response = await client.post("/kitsu/events", content=body, headers=signed(body))

    assert response.status_code == 422
    assert problem in response.json()["detail"]
    assert sink.calls == []


@pytest.mark.parametrize(
    ("payload", "location"),
    [
        ({k: v for k, v in SHOT_UPDATE.items() if k != "created_at"}, ["body", "created_at"]),
        ({**SHOT_UPDATE, "created_at": "yesterday"}, ["body", "created_at"]),
        ({**SHOT_UPDATE, "data": ["not", "a", "dict"]}, ["body", "data"]),
        ({"events": []}, ["body", "events"]),
        ({"events": SHOT_UPDATE}, ["body", "events"]),
        ({"events": [SHOT_UPDATE, {**SHOT_UPDATE, "id": None}]}, ["body", "events", 1, "id"]),
    ],
    ids=["no-created-at", "bad-created-at", "data-list", "empty-batch", "events-dict", "bad-item"],
)
async def test_schema_violations_are_422_with_the_field_and_nothing_half_written(
    client: httpx.AsyncClient, sink: MemorySink, payload: object, location: list[object]
) -> None:
    response = await post(client, payload)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == location
    assert all(set(problem) == {"loc", "msg", "type"} for problem in detail)
    assert sink.calls == []


async def test_422_detail_never_echoes_the_input(client: httpx.AsyncClient) -> None:
    response = await post(client, {**SHOT_UPDATE, "created_at": "token-abc-123"})

    assert response.status_code == 422
    assert "token-abc-123" not in response.text


async def test_a_body_declared_over_the_limit_is_413_before_it_is_read(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    body = json.dumps({**SHOT_UPDATE, "data": {"pad": "x" * (1 << 20)}}).encode()

    response = await client.post("/kitsu/events", content=body, headers=signed(body))

    assert response.status_code == 413
    assert str(1 << 20) in response.json()["detail"]
    assert sink.calls == []


async def test_a_streamed_body_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    chunk = b" " * 64 * 1024
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(1000):
            pulled += 1
            yield chunk

    # No Content-Length: chunked, so the size is only known while reading.
    response = await client.post(
        "/kitsu/events", content=endless(), headers={SIGNATURE_HEADER: "sha256=00"}
    )

    assert response.status_code == 413
    assert pulled <= (1 << 20) // len(chunk) + 1
    assert sink.calls == []


async def test_a_body_exactly_at_the_limit_is_read(sink: MemorySink) -> None:
    body = json.dumps(SHOT_UPDATE).encode()
    app = create_app(sink, secret=SECRET, max_body=len(body))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver"
    ) as client:
        response = await client.post("/kitsu/events", content=body, headers=signed(body))

    assert response.status_code == 202


async def test_sink_unavailable_is_503_with_retry_after(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    sink.up = False

    response = await post(client, SHOT_UPDATE)

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert sink.events == {}


async def test_healthz_follows_the_sink(client: httpx.AsyncClient, sink: MemorySink) -> None:
    up = await client.get("/healthz")
    sink.up = False
    down = await client.get("/healthz")

    assert (up.status_code, up.json()) == (200, {"status": "ok"})
    assert down.status_code == 503


async def test_one_log_line_per_request_with_counts_and_no_secrets(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(SHOT_UPDATE).encode()
    with caplog.at_level(logging.INFO, logger="kitsync.receiver"):
        await client.post("/kitsu/events", content=body, headers=signed(body))
        await client.post("/kitsu/events", content=body, headers=signed(body, "wrong"))

    lines = [r.getMessage() for r in caplog.records if r.name == "kitsync.receiver"]
    assert len(lines) == 2
    assert "received=1 accepted=1 duplicates=0 ignored=0" in lines[0]
    assert "401" in lines[1]
    text = "\n".join(lines)
    for secret in (SECRET, sign_body(SECRET, body), sign_body("wrong", body)):
        assert secret.removeprefix("sha256=") not in text
    assert "shot_id" not in text


async def test_openapi_describes_both_routes_and_the_body(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    events = schema["paths"]["/kitsu/events"]["post"]
    assert set(events["responses"]) >= {"202", "401", "413", "422", "503"}
    assert [p["name"] for p in events["parameters"]] == [SIGNATURE_HEADER]
    body_schema = events["requestBody"]["content"]["application/json"]["schema"]
    refs = {ref["$ref"].rsplit("/", 1)[1] for ref in body_schema["anyOf"]}
    assert refs == {"KitsuEvent", "EventBatch"}
    assert refs <= set(schema["components"]["schemas"])
    assert "/healthz" in schema["paths"]


def test_an_empty_secret_is_a_config_error(sink: MemorySink) -> None:
    with pytest.raises(ConfigError, match="KITSYNC_WEBHOOK_SECRET"):
        create_app(sink, secret="")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {
        "id": st.text(max_size=40) | st.integers(),
        "name": st.sampled_from(["shot:update", "news:new", ""]) | st.text(max_size=20),
        "created_at": st.sampled_from(["2026-11-27T21:12:45", "2026-11-27", "now"]) | st.integers(),
    },
    optional={
        "project_id": st.none() | st.text(max_size=40),
        "user_id": st.none() | st.text(max_size=40),
        "data": json_values,
    },
)
bodies = (
    st.binary(max_size=512)
    | json_values.map(lambda value: json.dumps(value).encode())
    | event_like.map(lambda event: json.dumps(event).encode())
    | st.lists(event_like, max_size=4).map(lambda events: json.dumps({"events": events}).encode())
    | st.binary(min_size=4097, max_size=5000)
)


def test_arbitrary_bodies_get_only_2xx_or_4xx() -> None:
    """Over real HTTP (uvicorn): whatever the body, signed or not, never a 5xx."""
    sink = MemorySink()
    app = create_app(sink, secret=SECRET, max_body=4096)
    with serve(app) as url, httpx.Client(base_url=url) as client:

        @settings(max_examples=300, deadline=None)
        @given(body=bodies, sign=st.booleans())
        def check(body: bytes, sign: bool) -> None:
            headers = signed(body) if sign else {}
            response = client.post("/kitsu/events", content=body, headers=headers)
            assert response.status_code in (202, 401, 413, 422), response.text
            if len(body) > 4096:
                assert response.status_code == 413
            elif not sign:
                assert response.status_code == 401

        check()
    assert sink.calls, "some generated bodies must have been valid"
