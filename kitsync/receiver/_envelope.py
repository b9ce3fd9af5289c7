"""Parse a webhook body into events: one event object, or ``{"events": [event, ...]}``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kitsync.schemas.kitsu import KitsuEvent

# Enough to see what is wrong without echoing a whole bad batch back.
_MAX_ERRORS = 20


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
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        # ValueError covers JSONDecodeError, bad UTF-8, NaN/Infinity and over-long integers.
        raise EnvelopeError(f"body is not valid JSON: {_reason(error)}") from None
    if not isinstance(payload, dict):
        raise EnvelopeError('body must be a JSON object: one event, or {"events": [...]}')
    try:
        if "events" in payload:
            return list(EventBatch.model_validate(payload).events)
        return [KitsuEvent.model_validate(payload)]
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False, include_context=False)
        raise EnvelopeError(
            [
                {"loc": ["body", *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
                for problem in problems[:_MAX_ERRORS]
            ]
        ) from None


def _reason(error: ValueError | RecursionError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (line {error.lineno}, column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)
