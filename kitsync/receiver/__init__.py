"""The webhook receiver: an ASGI app that takes signed Kitsu events from the Zou plugin.

``POST /kitsu/events`` verifies ``X-Kitsync-Signature`` (HMAC-SHA256 of the raw body), validates
one event or ``{"events": [...]}``, hands them to an :class:`EventSink` and answers 202;
``GET /healthz`` reports the sink's health.
"""

from kitsync.receiver._app import create_app
from kitsync.receiver._signature import SIGNATURE_HEADER, sign_body
from kitsync.sink import EventSink, SinkUnavailable, SubmitResult

__all__ = [
    "SIGNATURE_HEADER",
    "EventSink",
    "SinkUnavailable",
    "SubmitResult",
    "create_app",
    "sign_body",
]
