"""Fuzzing the webhook receiver in-process: thousands of bodies, signatures and headers.

Every request goes straight into the ASGI app (no server, no client library in between), so any
header bytes, content length or chunking can be sent. Whatever arrives, the receiver answers
202, 401, 413, 422 or (sink down) 503, never another 5xx; it answers 202 only to a well-signed
body that is one valid event or a valid batch, and then hands exactly those events to the sink
in one call; anything it refuses reaches neither the recording sink nor, in the last test, the
real Redis under the test's own prefix. Examples come from the fault tier's seed
(``KITSYNC_FAULT_SEED``, default fixed: the same examples every run; another seed explores
others); a failure prints the seed, its falsifying example and a ``@reproduce_failure`` blob.

``tests/unit/test_receiver.py`` has the hand-picked cases and a smaller run over uvicorn.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from kitsync.config import Settings
from kitsync.receiver import SIGNATURE_HEADER, SinkUnavailable, SubmitResult, create_app, sign_body
from kitsync.redis_keys import RedisKeys
from kitsync.schemas.kitsu import FORWARDED_EVENT_NAMES, KitsuEvent
from kitsync.worker.app import create_celery
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.names import EVENTS_QUEUE
from kitsync.worker.sink import CelerySink

pytestmark = pytest.mark.faults

SECRET = "fuzz-webhook-secret-7c1e"
MAX_BODY = 16 * 1024
# Placed in values only (never in keys): no answer and no log line may echo it.
CANARY = "canary-4b1d9e"
PATH = "/kitsu/events"
EVENT_FIELDS = ("id", "name", "created_at", "project_id", "user_id", "data")


SEED = int(os.environ.get("KITSYNC_FAULT_SEED", "20261128"))


def fuzz_settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``examples`` examples drawn from the tier's seed; no example database (a failure replays
    from the seed and the printed blob, not from a file left behind)."""
    chosen = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    def apply(test: Callable[..., None]) -> Callable[..., None]:
        seeded = seed(SEED)(chosen(test))

        def run() -> None:
            try:
                seeded()
            except BaseException as error:
                error.add_note(f"fault tier seed: KITSYNC_FAULT_SEED={SEED}")
                raise

        return run

    return apply


# ----------------------------------------------------------------------------- the harness


@dataclass
class RecordingSink:
    """Records every submit; ``down`` makes it refuse (the receiver must answer 503)."""

    calls: list[list[KitsuEvent]] = field(default_factory=list)
    down: bool = False

    async def submit(self, events: Sequence[KitsuEvent], *, source: str) -> SubmitResult:
        assert source == "webhook"
        if self.down:
            raise SinkUnavailable("down for this example")
        self.calls.append(list(events))
        return SubmitResult(accepted=len(events), duplicates=0)

    async def healthy(self) -> bool:
        return not self.down


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def asgi_call(
    app: FastAPI,
    headers: list[tuple[bytes, bytes]],
    chunks: Sequence[bytes],
    *,
    method: str = "POST",
    path: str = PATH,
) -> Answer:
    """One request straight into the app; an exception out of the app counts as a 500."""
    pending = list(chunks) or [b""]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("receiver", 80),
    }

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    start: dict[str, Any] = {}
    body = bytearray()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    try:
        await app(scope, receive, send)  # type: ignore[arg-type]
    except Exception as error:  # ServerErrorMiddleware re-raises after its 500
        return Answer(500, {}, repr(error).encode())
    headers_out = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    return Answer(start["status"], headers_out, bytes(body))


class LogTrap(logging.Handler):
    """Every record of the receiver's logger, formatted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def trap() -> Iterator[LogTrap]:
    trap = LogTrap()
    logger = logging.getLogger("kitsync.receiver")
    logger.addHandler(trap)
    try:
        yield trap
    finally:
        logger.removeHandler(trap)
    text = "\n".join(trap.lines)
    assert SECRET not in text and CANARY not in text


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


# ----------------------------------------------------------------------------- strategies

# Text as a sender could put in JSON (lone surrogates are sent on their own, below).
texts = st.text(max_size=16)  # any code point but a surrogate
weird_texts = (
    texts
    | st.sampled_from(
        ["", "None", "null", "\x00", "a/b/c", "../..", " ", "\u202e", "🎬🎞️", "ß" * 30]
    )
    | st.text(st.characters(codec="utf-8", min_codepoint=0x80), min_size=1, max_size=20)
    | st.text(max_size=10).map(lambda text: f"{CANARY}{text}")
)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)


def nested(depth: int) -> Any:
    value: Any = CANARY
    for level in range(depth):
        value = {f"k{level}": value} if level % 2 else [value]
    return value


naive_times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets | st.just(UTC)
)


def rfc3339(stamp: datetime, style: int) -> str:
    """Spellings of one instant that pydantic reads: T or t or space, Z or z or +hh:mm."""
    text = stamp.isoformat(sep=" " if style == 1 else "T")
    if style == 2:
        text = text.replace("T", "t", 1)
    if stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0) and style in (2, 3):
        text = text.removesuffix("+00:00") + ("z" if style == 2 else "Z")
    return text


valid_times: st.SearchStrategy[Any] = (
    st.builds(rfc3339, naive_times | aware_times, st.integers(0, 3))
    | st.integers(min_value=0, max_value=2**40)  # Unix seconds or milliseconds: pydantic's UTC
    # Out of range once moved to UTC: must be a 422, not an OverflowError.
    | st.sampled_from(["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"])
)
any_times = valid_times | weird_texts | json_values | st.sampled_from(["2026-02-30T00:00:00"])


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """An event the schema accepts: any id and name, a date-time, optional ids, object data."""
    event: dict[str, Any] = {
        "id": draw(st.uuids().map(str) | texts),
        "name": draw(st.sampled_from(sorted(FORWARDED_EVENT_NAMES)) | texts),
        "created_at": draw(
            st.builds(rfc3339, naive_times | aware_times, st.integers(0, 3))
            | st.integers(min_value=0, max_value=2**31)
        ),
    }
    for name in ("project_id", "user_id"):
        if draw(st.booleans()):
            event[name] = draw(st.none() | st.uuids().map(str) | texts)
    if draw(st.booleans()):
        event["data"] = draw(st.none() | json_objects | st.just({"deep": nested(40)}))
    # Keys the model does not know are ignored, whatever they hold.
    event.update(
        draw(
            st.dictionaries(texts.filter(lambda k: k not in EVENT_FIELDS), json_values, max_size=2)
        )
    )
    return event


@st.composite
def event_like(draw: st.DrawFn) -> dict[str, Any]:
    """Each field missing, well-typed (with odd values), or of any JSON value or type."""
    event: dict[str, Any] = {}
    choices: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
        "id": (st.uuids().map(str) | weird_texts, json_values),
        "name": (st.sampled_from(sorted(FORWARDED_EVENT_NAMES)) | weird_texts, json_values),
        "created_at": (valid_times, any_times),
        "project_id": (st.none() | weird_texts, json_values),
        "user_id": (st.none() | weird_texts, json_values),
        "data": (
            st.none()
            | json_objects
            | st.integers(1, 600).map(lambda depth: {"deep": nested(depth)})
            | st.integers(1, 4000).map(lambda size: {"big": CANARY * size}),
            json_values,
        ),
    }
    for name, (typed, anything) in choices.items():
        how = draw(st.integers(0, 9))
        if how >= 2:
            event[name] = draw(typed)
        elif how == 1:
            event[name] = draw(anything)
    event.update(draw(st.dictionaries(weird_texts, json_values, max_size=3)))
    return event


def batch(events: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda events, extra: {**extra, "events": events},
        st.lists(events, min_size=1, max_size=4),
        st.dictionaries(texts.filter(lambda key: key != "events"), json_values, max_size=2),
    )


def dumps(payload: Any, ascii_only: bool) -> bytes:
    return json.dumps(payload, ensure_ascii=ascii_only).encode()


# ----------------------------------------------------------------------------- the oracle


@dataclass
class Receiver:
    """The app under test with its sink; ``post`` checks every invariant of one request."""

    app: FastAPI
    sink: RecordingSink
    loop: asyncio.AbstractEventLoop
    seen: dict[int, int] = field(default_factory=dict)  # status -> count

    @classmethod
    def make(cls, loop: asyncio.AbstractEventLoop) -> Receiver:
        sink = RecordingSink()
        return cls(create_app(sink, secret=SECRET, max_body=MAX_BODY), sink, loop)

    def post(
        self,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
        chunks: Sequence[bytes] | None = None,
        *,
        sink_down: bool = False,
    ) -> Answer:
        self.sink.down = sink_down
        before = len(self.sink.calls)
        answer = self.loop.run_until_complete(
            asgi_call(self.app, headers, [body] if chunks is None else chunks)
        )
        self.seen[answer.status] = self.seen.get(answer.status, 0) + 1
        assert answer.status in (202, 401, 413, 422, 503), (answer.status, answer.body[:300])
        assert answer.headers.get("content-type") == "application/json"
        text = answer.body.decode()
        assert SECRET not in text and CANARY not in text
        assert sign_body(SECRET, body).removeprefix("sha256=") not in text
        payload = answer.json()
        written = self.sink.calls[before:]
        if answer.status == 202:
            assert len(written) == 1, "one request, one hand-off"
            assert set(payload) == {"accepted", "duplicates", "ignored"}
            events = written[0]
            assert payload["accepted"] + payload["duplicates"] == len(events) >= 1
            assert payload["ignored"] == sum(not event.forwarded for event in events)
        else:
            assert written == [], f"{answer.status}: nothing may reach the sink"
            assert set(payload) == {"detail"}
        if answer.status == 422:
            check_422(payload["detail"])
        if answer.status == 503:
            assert int(answer.headers["retry-after"]) > 0
        return answer

    def accepted(self) -> list[KitsuEvent]:
        return self.sink.calls[-1]


def check_422(detail: Any) -> None:
    """A clear reason: one sentence, or pydantic's problems (location, message, type)."""
    if isinstance(detail, str):
        assert detail.startswith(("body is not valid JSON", "body must be a JSON object"))
        return
    assert isinstance(detail, list) and 1 <= len(detail) <= 20
    for problem in detail:
        assert set(problem) == {"loc", "msg", "type"}
        assert problem["loc"][0] == "body" and problem["msg"] and problem["type"]


def signed(body: bytes, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (SIGNATURE_HEADER.lower().encode(), sign_body(SECRET, body).encode()),
        *extra,
    ]


def expected_events(payload: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = payload.get("events", [payload])
    return events


def naive_utc(value: Any) -> datetime:
    """What the receiver must hand on for a valid ``created_at``: naive UTC."""
    if isinstance(value, int):
        # pydantic reads a number past 2e10 as milliseconds, below as seconds, both UTC.
        step = timedelta(milliseconds=value) if value > 2 * 10**10 else timedelta(seconds=value)
        return datetime(1970, 1, 1) + step
    parsed = datetime.fromisoformat(value.upper().replace(" ", "T"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def same_events(got: list[KitsuEvent], sent: list[dict[str, Any]]) -> None:
    assert [event.id for event in got] == [event["id"] for event in sent]
    for event, raw in zip(got, sent, strict=True):
        assert event.name == raw["name"]
        assert event.created_at.tzinfo is None, "the worker compares naive UTC times"
        assert event.project_id == raw.get("project_id")
        assert event.user_id == raw.get("user_id")
        assert json.loads(json.dumps(event.data)) == (raw.get("data") or {})


# ----------------------------------------------------------------------------- the tests


def test_the_openapi_body_schema_is_what_the_receiver_takes(
    loop: asyncio.AbstractEventLoop, trap: LogTrap
) -> None:
    """Bodies generated from the app's own OpenAPI request schema are all accepted whole."""
    receiver = Receiver.make(loop)
    openapi = receiver.app.openapi()
    request = openapi["paths"][PATH]["post"]["requestBody"]["content"]["application/json"]
    bodies = from_schema(request["schema"], openapi["components"]["schemas"])

    @fuzz_settings(300)
    @given(payload=bodies, ascii_only=st.booleans())
    def check(payload: dict[str, Any], ascii_only: bool) -> None:
        body = dumps(payload, ascii_only)
        if len(body) > MAX_BODY:
            return
        answer = receiver.post(body, signed(body))
        assert answer.status == 202, answer.body
        same_events(receiver.accepted(), expected_events(payload))

    check()


def test_valid_batches_are_accepted_whole_and_times_become_naive_utc(
    loop: asyncio.AbstractEventLoop, trap: LogTrap
) -> None:
    receiver = Receiver.make(loop)

    @fuzz_settings(400)
    @given(
        payload=valid_events() | batch(valid_events()),
        ascii_only=st.booleans(),
        content_type=st.sampled_from(
            [b"application/json", b"text/plain", b"application/x-www-form-urlencoded", b""]
        ),
        down=st.integers(0, 9).map(lambda n: n == 9),
    )
    def check(payload: dict[str, Any], ascii_only: bool, content_type: bytes, down: bool) -> None:
        body = dumps(payload, ascii_only)
        headers = [(b"content-type", content_type), *signed(body)[1:]]
        answer = receiver.post(body, headers, sink_down=down)
        if len(body) > MAX_BODY:
            assert answer.status == 413
            return
        if down:
            assert answer.status == 503
            return
        assert answer.status == 202, answer.body
        sent = expected_events(payload)
        same_events(receiver.accepted(), sent)
        for event, raw in zip(receiver.accepted(), sent, strict=True):
            assert event.created_at == naive_utc(raw["created_at"])

    check()
    assert receiver.seen.get(202, 0) > 300


def test_any_signed_json_is_202_or_a_clear_422(
    loop: asyncio.AbstractEventLoop, trap: LogTrap
) -> None:
    receiver = Receiver.make(loop)

    @fuzz_settings(600)
    @given(
        payload=json_values | event_like() | batch(event_like()) | batch(json_values),
        ascii_only=st.booleans(),
    )
    def check(payload: Any, ascii_only: bool) -> None:
        body = dumps(payload, ascii_only)
        answer = receiver.post(body, signed(body))
        if len(body) > MAX_BODY:
            assert answer.status == 413
            return
        assert answer.status in (202, 422)
        if not isinstance(payload, dict):
            assert answer.status == 422
            assert "JSON object" in answer.json()["detail"]
        elif answer.status == 202:
            sent = expected_events(payload)
            assert [event.id for event in receiver.accepted()] == [e["id"] for e in sent]

    check()
    # The mix must really exercise both outcomes.
    assert receiver.seen.get(202, 0) > 30 and receiver.seen.get(422, 0) > 200


SIGNATURE_KINDS = [
    "good",
    "good-padded",
    "missing",
    "empty",
    "other-secret",
    "no-scheme",
    "upper-hex",
    "truncated",
    "sha1",
    "latin-1-bytes",
    "for-other-body",
    "twice-good-first",
    "twice-bad-first",
]


def signature_headers(kind: str, body: bytes) -> tuple[list[tuple[bytes, bytes]], bool]:
    """Signature headers of one kind, and whether one of them is right."""
    name = SIGNATURE_HEADER.lower().encode()
    good = sign_body(SECRET, body).encode()
    bad = sign_body("not-the-secret", body).encode()
    values: dict[str, list[bytes]] = {
        "good": [good],
        "good-padded": [b" " + good + b"\t"],
        "missing": [],
        "empty": [b""],
        "other-secret": [bad],
        "no-scheme": [good.removeprefix(b"sha256=")],
        "upper-hex": [b"sha256=" + good.removeprefix(b"sha256=").upper()],
        "truncated": [good[:-1]],
        "sha1": [b"sha1=" + good[7:47]],
        "latin-1-bytes": [good[:-2] + b"\xe9\xff"],
        "for-other-body": [sign_body(SECRET, body + b" ").encode()],
        "twice-good-first": [good, bad],
        "twice-bad-first": [bad, good],
    }
    found = values[kind]
    return [(name, value) for value in found], kind in ("good", "good-padded")


def test_wrong_or_missing_signatures_are_401_and_nothing_is_queued(
    loop: asyncio.AbstractEventLoop, trap: LogTrap
) -> None:
    receiver = Receiver.make(loop)

    @fuzz_settings(300)
    @given(
        payload=valid_events() | batch(valid_events()) | json_values,
        kind=st.sampled_from(SIGNATURE_KINDS),
    )
    def check(payload: Any, kind: str) -> None:
        body = dumps(payload, True)
        signatures, right = signature_headers(kind, body)
        headers = [(b"content-length", str(len(body)).encode()), *signatures]
        answer = receiver.post(body, headers)
        if len(body) > MAX_BODY:
            assert answer.status == 413  # the size is checked before anything is read
        elif kind.startswith("twice"):
            # Which of two headers counts is the framework's choice; a 202 needs the right one.
            assert answer.status in (202, 401, 422)
        elif not right:
            assert answer.status == 401
            assert answer.json()["detail"] in ("unsigned", "signature missing or wrong")
        else:
            assert answer.status in (202, 422)

    check()
    assert receiver.seen.get(401, 0) > 100


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[bytes, list[tuple[bytes, bytes]], list[bytes], str]:
    """Bytes of any kind, as one body or in chunks, with any content type and length header.

    Returns (body, headers, chunks, kind); kind says what the body is.
    """
    valid = dumps(draw(valid_events()), draw(st.booleans()))
    kind = draw(
        st.sampled_from(
            [
                "binary",
                "valid",
                "valid-bytes-flipped",
                "utf-16",
                "utf-8-bom",
                "lone-surrogate-escape",
                "encoded-surrogate",
                "oversize",
                "nan",
                "long-integer",
                "deep",
            ]
        )
    )
    if kind == "binary":
        body = draw(st.binary(max_size=600))
    elif kind == "valid":
        body = valid
    elif kind == "valid-bytes-flipped":
        # Bytes that are never UTF-8, inside a string or anywhere.
        at = draw(st.integers(0, len(valid)))
        body = (
            valid[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\x80"]))
            + valid[at:]
        )
    elif kind == "utf-16":
        body = valid.decode().encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    elif kind == "utf-8-bom":
        body = b"\xef\xbb\xbf" + valid
    elif kind == "lone-surrogate-escape":
        surrogate = draw(st.integers(0xD800, 0xDFFF))
        spot = draw(st.sampled_from(["id", "name", "data-key", "data-value"]))
        event = json.loads(valid)
        token = f"__S{surrogate:x}__"
        if spot == "data-key":
            event["data"] = {token: 1}
        elif spot == "data-value":
            event["data"] = {"k": token}
        else:
            event[spot] = f"x{token}"
        body = json.dumps(event).replace(token, f"\\u{surrogate:04x}").encode()
    elif kind == "encoded-surrogate":
        # CESU-8 style: the three UTF-8-like bytes of a surrogate, which UTF-8 forbids.
        body = valid.replace(b'"id": "', b'"id": "\xed\xa0\x80', 1)
    elif kind == "oversize":
        body = b'{"events": [' + b" " * (MAX_BODY + draw(st.integers(1, 5000))) + b"]}"
    elif kind == "nan":
        body = valid.replace(
            b"{", b'{"x": ' + draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"])) + b", ", 1
        )
    elif kind == "long-integer":
        body = valid.replace(b"{", b'{"x": 1' + b"0" * 5000 + b", ", 1)
    else:
        depth = draw(st.integers(100, 3000))
        body = b"[" * depth + b"]" * depth
    signature = draw(st.sampled_from(["good", "good", "good", "missing", "other-secret"]))
    signatures, _ = signature_headers(signature, body)
    length = draw(
        st.sampled_from(["exact", "exact", "none", "larger", "smaller", "garbage", "huge"])
    )
    lengths = {
        "exact": [str(len(body)).encode()],
        "none": [],
        "larger": [str(len(body) + 10).encode()],
        "smaller": [str(max(0, len(body) - 10)).encode()],
        "garbage": [draw(st.sampled_from([b"-1", b"abc", b"1e3", b" 12", b"\xff"]))],
        "huge": [str(MAX_BODY + 1).encode()],
    }[length]
    content_type = draw(
        st.sampled_from(
            [
                [b"application/json"],
                [b"application/json; charset=utf-16"],
                [b"text/plain"],
                [b"multipart/form-data; boundary=xyz"],
                [b"application/x-www-form-urlencoded"],
                [b"\xff\xfe"],
                [],
            ]
        )
    )
    headers = [
        *((b"content-type", value) for value in content_type),
        *((b"content-length", value) for value in lengths),
        *signatures,
        *draw(
            st.lists(
                st.tuples(st.sampled_from([b"x-junk", b"accept"]), st.binary(max_size=20)),
                max_size=2,
            )
        ),
    ]
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    edges = [0, *cuts, len(body)]
    chunks = [body[a:b] for a, b in itertools.pairwise(edges)]
    headers.append((b"x-fuzz-kind", f"{kind}/{signature}/{length}".encode()))
    return body, headers, chunks, kind


def test_raw_bytes_content_types_lengths_and_chunks(
    loop: asyncio.AbstractEventLoop, trap: LogTrap
) -> None:
    receiver = Receiver.make(loop)

    @fuzz_settings(300)
    @given(request=raw_requests())
    def check(request: tuple[bytes, list[tuple[bytes, bytes]], list[bytes], str]) -> None:
        body, headers, chunks, kind = request
        answer = receiver.post(body, headers, chunks)
        signature, length = dict(headers)[b"x-fuzz-kind"].decode().split("/")[1:]
        declared_too_big = length == "huge" or (length == "larger" and len(body) + 10 > MAX_BODY)
        if len(body) > MAX_BODY or declared_too_big:
            assert answer.status == 413
        elif signature != "good":
            assert answer.status == 401
        elif kind == "valid":
            # Content type and length header do not matter: the signed bytes do.
            assert answer.status == 202
        elif kind != "binary":
            assert answer.status == 422, (kind, answer.body)
            if kind in ("valid-bytes-flipped", "utf-16", "encoded-surrogate", "utf-8-bom"):
                assert "not valid JSON" in answer.json()["detail"]

    check()
    assert receiver.seen.get(422, 0) > 80


def test_other_methods_and_paths_never_reach_the_sink(
    loop: asyncio.AbstractEventLoop, trap: LogTrap
) -> None:
    receiver = Receiver.make(loop)

    @fuzz_settings(100)
    @given(
        method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "POST"]),
        path=st.sampled_from([PATH, f"{PATH}/", "/kitsu", "/", "/healthz", "/kitsu/events/x"])
        | st.text(st.characters(codec="ascii", min_codepoint=33), max_size=30).map(
            lambda t: f"/{t}"
        ),
        payload=valid_events(),
    )
    def check(method: str, path: str, payload: dict[str, Any]) -> None:
        if method == "POST" and path == PATH:
            return
        body = dumps(payload, True)
        answer = receiver.loop.run_until_complete(
            asgi_call(receiver.app, signed(body), [body], method=method, path=path)
        )
        assert answer.status < 500, (method, path, answer.body[:200])
        assert receiver.sink.calls == []

    check()


# ----------------------------------------------------------------------------- the real sink


@pytest.mark.integration
def test_on_the_real_redis_sink_only_accepted_batches_are_queued(
    loop: asyncio.AbstractEventLoop, trap: LogTrap, redis_url: str, redis_prefix: str
) -> None:
    """The receiver on CelerySink + RedisKeyQueue: each 202 adds exactly one ingest message with
    the request's events; a refused request leaves every key under the prefix as it was."""
    config = Settings(KITSYNC_REDIS_URL=redis_url, KITSYNC_REDIS_PREFIX=redis_prefix)  # type: ignore[call-arg]
    queue = RedisKeyQueue(redis_url, prefix=RedisKeys(config.redis_prefix).key_queue)
    app = create_app(CelerySink(create_celery(config), queue), secret=SECRET, max_body=MAX_BODY)
    client = redis.Redis.from_url(redis_url)
    broker_list = f"{redis_prefix}celery:{EVENTS_QUEUE}"
    accepted: list[list[str]] = []
    taken: set[str] = set()
    statuses: dict[int, int] = {}

    def state() -> dict[bytes, Any]:
        return {
            key: client.lrange(key, 0, -1) if client.type(key) == b"list" else client.dump(key)
            for key in client.scan_iter(match=f"{redis_prefix}*", count=1000)
            if b"_kombu.binding" not in key
        }

    def one(body: bytes, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> int:
        before = state()
        answer = loop.run_until_complete(asgi_call(app, headers, chunks))
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        assert answer.status in (202, 401, 413, 422), (answer.status, answer.body[:300])
        after = state()
        if answer.status != 202:
            assert after == before, "a refused request changed Redis"
            return answer.status
        ids = [event["id"] for event in expected_events(json.loads(body))]
        # The sink takes an id in once: a repeat (in this request or an earlier one) is a
        # duplicate, and a request with nothing new sends no ingest.
        new = [i for i in dict.fromkeys(ids) if i not in taken]
        taken.update(new)
        assert answer.json()["duplicates"] == len(ids) - len(new)
        if new:
            accepted.append(new)
        assert len(after.get(broker_list.encode(), [])) == len(accepted)
        return answer.status

    @fuzz_settings(200)
    @given(
        payload=batch(valid_events()) | valid_events() | event_like() | batch(event_like()),
        raw=raw_requests(),
        use_raw=st.integers(0, 3).map(lambda n: n == 0),
    )
    def check(
        payload: Any, raw: tuple[bytes, list[tuple[bytes, bytes]], list[bytes], str], use_raw: bool
    ) -> None:
        if use_raw:
            body, headers, chunks, _ = raw
        else:
            body = dumps(payload, False)
            headers, chunks = signed(body), [body]
        one(body, headers, chunks)

    # What Redis and Celery cannot encode (a 500 once), and times the worker cannot compare.
    event = '{"id": "%s", "name": "shot:update", "created_at": "%s", "data": {%s}}'
    nasty = {
        event % ("\\ud800", "2026-11-27T21:12:45", ""): 422,
        event % ("x", "2026-11-27T21:12:45", '"\\udfff": 1'): 422,
        event % ("y", "2026-11-27T21:12:45", '"k": "\\ud83d"'): 422,
        event % ("z", "2026-11-27T21:12:45", '"k": "\\ud83d\\ude00"'): 202,
        event % ("a", "0001-01-01T00:00:00+00:01", ""): 422,
        event % ("b", "2026-11-27T21:12:45+05:30", ""): 202,
    }

    try:
        for text, status in nasty.items():
            body = text.encode()
            assert one(body, signed(body), [body]) == status, text
        check()
        messages = [json.loads(raw) for raw in client.lrange(broker_list, 0, -1)]
        # kombu pushes on the left: newest first.
        queued = [
            [event["id"] for event in task_args(message)[0]] for message in reversed(messages)
        ]
        assert queued == accepted
        assert statuses.get(202, 0) > 25 and statuses.get(422, 0) > 20
    finally:
        client.close()
        loop.run_until_complete(queue.close())


def task_args(message: dict[str, Any]) -> list[Any]:
    import base64

    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert message["headers"]["task"] == "kitsync.ingest"
    return list(args)


# ----------------------------------------------------------------------------- from OpenAPI


def from_schema(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Instances of the JSON-schema subset the receiver's OpenAPI document uses."""

    def build(node: dict[str, Any]) -> st.SearchStrategy[Any]:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            return st.deferred(lambda: build(components[name]))
        if "anyOf" in node:
            return st.one_of([build(option) for option in node["anyOf"]])
        kind = node.get("type")
        if kind is None:  # JsonValue: anything JSON
            return json_values
        if kind == "null":
            return st.none()
        if kind == "string":
            if node.get("format") == "date-time":
                # RFC 3339 date-times carry an offset; Zou's naive ones are accepted too.
                return st.builds(rfc3339, aware_times | naive_times, st.integers(0, 3))
            return texts
        if kind == "array":
            return st.lists(build(node["items"]), min_size=node.get("minItems", 0), max_size=5)
        if kind == "object":
            return objects(node)
        raise AssertionError(f"schema construct not handled: {node}")

    def objects(node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        if not properties:
            values = build(node.get("additionalProperties") or {})
            return st.dictionaries(texts, values, max_size=4)
        return st.fixed_dictionaries(
            {name: build(sub) for name, sub in properties.items() if name in required},
            optional={name: build(sub) for name, sub in properties.items() if name not in required},
        )

    return build(schema)
