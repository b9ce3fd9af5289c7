"""Logging set-up: plain lines or JSON, with every configured secret scrubbed from the output.

Code never logs secrets on purpose; the scrubber is the second line of defence for values that
reach a log through a third-party message (an exception from a driver quoting a DSN, say).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["plain", "json"]
_MASK = "***"


class SecretScrubber(logging.Filter):
    """Replaces any of the given secret values in a record's final message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # As written, and as a repr quotes it (an error message quoting a header value, a
        # backslash doubled). Longest first, so a secret that contains another is masked whole.
        forms = {form for s in secrets for form in (s, repr(s)[1:-1])}
        self._secrets = sorted({s for s in forms if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self._secrets:
            message = message.replace(secret, _MASK)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, _MASK)
        record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, default=str)


def configure(level: str = "INFO", fmt: LogFormat = "plain", secrets: Iterable[str] = ()) -> None:
    """Send kitsync's (and its libraries') logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(SecretScrubber(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Python warnings (Celery's SecurityWarning, a library's deprecation) are log records too:
    # in the chosen format, scrubbed, not raw text on stderr between JSON lines.
    logging.captureWarnings(True)
    # httpx logs every request URL at INFO; keep that for DEBUG runs only.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # httpcore's DEBUG trace prints response headers, Set-Cookie included (Zou's login sets its
    # JWT there, as good as the password while it lasts): never shown, whatever the level.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
