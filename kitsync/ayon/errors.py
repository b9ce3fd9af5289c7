"""Errors of the AYON gateway.

Messages name the call (``METHOD /path`` or the reader method), the HTTP status and AYON's own
``detail``; never the API key, a DSN or a server traceback. ``AyonUnavailable`` is the only
retryable one.
"""

from __future__ import annotations

from kitsync.errors import KitsyncError, TransientError
from kitsync.schemas.ayon import Operation, OperationResult


class AyonError(KitsyncError):
    """AYON refused or failed a call. ``status``/``detail`` are AYON's when it answered."""

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.status = status
        self.detail = detail


class AyonBadRequest(AyonError):
    """400 / 422: the request itself is wrong (bad name, bad link type, duplicate op ...)."""


class AyonAuthError(AyonError):
    """401 / 403: the API key is unknown or lacks the rights."""


class AyonNotFound(AyonError):
    """404, or a project schema that does not exist in AYON's database."""


class AyonConflict(AyonError):
    """409: duplicate id or name, unknown parent/type/status; ``detail`` is AYON's text."""


class AyonUnavailable(AyonError, TransientError):
    """5xx, 429, timeouts and lost connections: the same call may succeed later."""


class AyonQueryError(AyonError):
    """AYON answered a GraphQL read with ``errors`` (HTTP 200): a query, argument or filter it
    refused. Nothing of the answer is used, not even partial data."""


class IncompleteRead(AyonUnavailable):
    """A paginated GraphQL read could not be followed to its end (an answer cut short or
    unreadable, a page without a cursor). Transient; the read is never used half done."""


class OperationFailed(AyonError):
    """An operations chunk was rolled back because one of its operations failed.

    ``index`` is the failing operation's position in the whole sequence given to
    ``AyonWriter.operations``; the ``committed`` operations before its chunk were applied.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int,
        operation: Operation,
        result: OperationResult,
        committed: int,
    ) -> None:
        super().__init__(message, status=result.status, detail=result.detail)
        self.index = index
        self.operation = operation
        self.result = result
        self.committed = committed


class AmbiguousPairing(AyonError):
    """One Kitsu project is paired with several active AYON projects."""


class UnsafeProjectName(AyonError, ValueError):
    """An AYON project name that must not become part of an SQL identifier."""
