"""Errors of the Kitsu client. Messages name the HTTP method and path, never a token or password.

Status mapping (Zou 1.0.97, see tests/fixtures/kitsu/README.md):

- 404 -> ``KitsuNotFound``. Ids are checked to be UUIDs before any request, and a malformed one
  raises ``KitsuNotFound`` without calling Zou, because Zou answers malformed ids
  inconsistently (404 on ``/data/shots/x``, 400 "Malformed ID." on entities/tasks/projects,
  500 on ``/data/assets/x``, 400 "Invalid UUID value" on ``?project_id=x``). No such entity can
  exist either way.
- 401 / 422 -> one transparent re-login when logged in with email and password, then
  ``KitsuAuthError``; a rejected bot token is a ``KitsuAuthError`` at once. 403 (the account's
  role may not read that route) is a ``KitsuAuthError`` too.
- 5xx, timeouts, connection errors, a non-JSON body -> ``KitsuUnavailable`` (retryable).
- any other 4xx -> ``KitsuBadRequest``. A body that does not fit the schema -> ``KitsuBadResponse``.
"""

from __future__ import annotations

from kitsync.errors import KitsyncError, TransientError


class KitsuError(KitsyncError):
    """Base of every error raised by the Kitsu client."""


class KitsuNotFound(KitsuError):
    """The entity does not exist (404, hard-deleted, or a malformed id)."""


class KitsuAuthError(KitsuError):
    """Login refused, token rejected after a re-login, bot token rejected, or role too low."""


class KitsuBadRequest(KitsuError):
    """Zou refused the request (a 4xx other than 401/403/404/422)."""


class KitsuBadResponse(KitsuError):
    """Zou answered 2xx with a body that does not match the expected shape."""


class KitsuUnavailable(KitsuError, TransientError):
    """Zou could not answer now: 5xx, timeout, connection error or a non-JSON page."""
