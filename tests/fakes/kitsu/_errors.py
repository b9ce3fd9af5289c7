"""Error bodies exactly as Zou 1.0.97 (Flask) answers them (see tests/fixtures/kitsu/errors/)."""

from __future__ import annotations

import re
from typing import Any

_UUID = re.compile(r"^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$", re.IGNORECASE)

NOT_FOUND_MESSAGE = (
    "404 Not Found: The requested URL was not found on the server. If you entered the URL "
    "manually please check your spelling and try again."
)
FORBIDDEN_MESSAGE = (
    "You don't have the permission to access the requested resource. It is either "
    "read-protected or not readable by the server."
)


class ZouError(Exception):
    """An HTTP error answer: raised anywhere in the fake, turned into a response by the routes."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def not_found() -> ZouError:
    return ZouError(404, {"error": True, "message": NOT_FOUND_MESSAGE})


def forbidden() -> ZouError:
    return ZouError(403, {"error": True, "message": FORBIDDEN_MESSAGE})


def bad_request(message: str) -> ZouError:
    return ZouError(400, {"error": True, "message": message, "data": None})


def server_error() -> ZouError:
    return ZouError(500, {"error": True, "message": "Internal server error."})


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))
