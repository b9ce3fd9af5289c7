"""The webhook ASGI app: signed Kitsu events in, a sink (Redis + Celery) behind it."""

from __future__ import annotations

import logging
from typing import Annotated, Any, NoReturn

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from prometheus_client.registry import Collector
from pydantic import BaseModel

from kitsync.errors import ConfigError
from kitsync.metrics import metrics_app
from kitsync.receiver._envelope import EnvelopeError, EventBatch, parse_events
from kitsync.receiver._signature import SIGNATURE_HEADER, signature_matches
from kitsync.sink import EventSink, SinkUnavailable

logger = logging.getLogger("kitsync.receiver")

# Seconds a sender should wait after a 503 (the sink's Redis is down).
RETRY_AFTER = 5


class Accepted(BaseModel):
    """What happened to the events of one request."""

    accepted: int
    duplicates: int
    # Of a name the Zou plugin does not forward (another sender's): queued all the same, and
    # counted here only; whether one dirties a key is for routing to say.
    ignored: int


class Health(BaseModel):
    status: str


def _detail(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {}}}


_EVENTS_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/KitsuEvent"},
                        {"$ref": "#/components/schemas/EventBatch"},
                    ]
                }
            }
        },
    }
}


def create_app(
    sink: EventSink,
    *,
    secret: str,
    max_body: int = 1 << 20,
    shared_metrics: Collector | None = None,
) -> FastAPI:
    """The receiver: ``POST /kitsu/events`` and ``GET /healthz``, handing events to ``sink``;
    ``/metrics`` serves this process's metrics and ``shared_metrics`` (the queue's state)."""
    if not secret:
        raise ConfigError("KITSYNC_WEBHOOK_SECRET: must not be empty")
    if max_body <= 0:
        raise ConfigError("max_body: must be positive")
    app = FastAPI(
        title="kitsync receiver",
        summary="Takes signed Kitsu events from the kitsync Zou plugin and enqueues them.",
    )
    app.mount("/metrics", metrics_app(shared_metrics))

    @app.post(
        "/kitsu/events",
        status_code=202,
        response_model=Accepted,
        openapi_extra=_EVENTS_OPENAPI,
        responses={
            401: _detail("Signature missing or wrong"),
            413: _detail(f"Body over {max_body} bytes"),
            422: _detail("Body is not one event or a batch of events"),
            503: _detail("The queue is unavailable; retry after Retry-After seconds"),
        },
    )
    async def receive_events(
        request: Request,
        x_kitsync_signature: Annotated[
            str | None,
            Header(alias=SIGNATURE_HEADER, description="sha256=<hex HMAC-SHA256 of the body>"),
        ] = None,
    ) -> Accepted:
        body = await _read_body(request, max_body)
        if not signature_matches(secret, body, x_kitsync_signature):
            _refuse(401, "signature missing or wrong" if x_kitsync_signature else "unsigned")
        try:
            events = parse_events(body)
        except EnvelopeError as error:
            _refuse(422, error.detail)
        ignored = sum(not event.forwarded for event in events)
        try:
            result = await sink.submit(events, source="webhook")
        except SinkUnavailable:
            logger.warning("events received=%d refused: sink unavailable", len(events))
            raise HTTPException(
                503, "event queue unavailable", headers={"Retry-After": str(RETRY_AFTER)}
            ) from None
        logger.info(
            "events received=%d accepted=%d duplicates=%d ignored=%d",
            len(events),
            result.accepted,
            result.duplicates,
            ignored,
        )
        return Accepted(accepted=result.accepted, duplicates=result.duplicates, ignored=ignored)

    @app.get("/healthz", response_model=Health, responses={503: _detail("Queue unreachable")})
    async def healthz() -> Health | JSONResponse:
        if await sink.healthy():
            return Health(status="ok")
        return JSONResponse({"status": "unavailable"}, status_code=503)

    # The request body is read raw (to check the signature first), so register its models
    # for the OpenAPI document by hand.
    _register_schemas(app)
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to be over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        _refuse(413, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            _refuse(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, detail: object) -> NoReturn:
    logger.warning("events refused: %d %s", status, _short(detail))
    raise HTTPException(status, detail)


def _short(detail: object) -> str:
    # Field paths can hold any key of the body: log pydantic's generic message only.
    if isinstance(detail, list) and detail:
        return f"{len(detail)} problem(s), first: {detail[0]['msg']}"[:200]
    return str(detail)[:200]


def _register_schemas(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            defs = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(defs.pop("$defs", {}))
            components["EventBatch"] = defs
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
