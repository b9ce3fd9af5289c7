"""Parse a webhook body into events: one event object, or ``{"events": [event, ...]}``."""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kitsync.schemas.kitsu import KitsuEvent

# Enough to see what is wrong without echoing a whole bad batch back.
_MAX_ERRORS = 20
# A JSON escape of a UTF-16 surrogate (backslash, u, D800-DFFF): once the body is strict
# UTF-8, the only way an unpaired surrogate gets into a string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class EnvelopeError(ValueError):
    """The body is not a valid event or batch; ``detail`` says why (JSON-able, no input echoed)."""

    def __init__(self, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(str(detail))
        self.detail = detail


class EventBatch(BaseModel):
    """Several events in one request."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    events: list[KitsuEvent] = Field(min_length=1)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_events(body: bytes) -> list[KitsuEvent]:
    """The events of ``body``, all validated, or :class:`EnvelopeError`."""
    try:
        # Strict UTF-8 (RFC 8259), not json.loads(bytes): that one guesses UTF-16/32 and lets
        # encoded surrogates through, which Redis and Celery cannot encode again (a 500).
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=_refuse_constant)
        if _SURROGATE_ESCAPE.search(text):
            _check_surrogates(payload)
    except (ValueError, RecursionError) as error:
        # ValueError covers JSONDecodeError, bad UTF-8, NaN/Infinity and over-long integers.
        raise EnvelopeError(f"body is not valid JSON: {_reason(error)}") from None
    if not isinstance(payload, dict):
        raise EnvelopeError('body must be a JSON object: one event, or {"events": [...]}')
    batch = "events" in payload
    try:
        if batch:
            events = list(EventBatch.model_validate(payload).events)
        else:
            events = [KitsuEvent.model_validate(payload)]
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False, include_context=False)
        raise EnvelopeError(
            [
                {"loc": ["body", *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
                for problem in problems[:_MAX_ERRORS]
            ]
        ) from None
    return [
        _naive_utc(event, ["body", "events", index] if batch else ["body"])
        for index, event in enumerate(events)
    ]


def _check_surrogates(payload: object) -> None:
    """ValueError if a string (key or value) holds an unpaired UTF-16 surrogate."""
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds an unpaired UTF-16 surrogate") from None


def _naive_utc(event: KitsuEvent, loc: list[str | int]) -> KitsuEvent:
    # Zou stamps events in naive UTC; an offset (or a Unix time, which pydantic reads as UTC)
    # would make the worker compare naive and aware datetimes and fail the ingest for good.
    stamp = event.created_at
    if stamp.tzinfo is None:
        return event
    try:
        utc = stamp.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        problem = {"loc": [*loc, "created_at"], "msg": "out of range in UTC", "type": "datetime"}
        raise EnvelopeError([problem]) from None
    return event.model_copy(update={"created_at": utc})


def _reason(error: ValueError | RecursionError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (line {error.lineno}, column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)
