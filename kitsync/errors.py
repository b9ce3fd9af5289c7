"""Error roots shared by every part of kitsync.

Each gateway raises its own subclasses (``kitsync.kitsu.errors``, ``kitsync.ayon.errors``).
Workers decide what to do by these two roots only: a ``TransientError`` is retried with backoff,
anything else is permanent for that key and goes to the dead-letter list.
Messages never contain secrets (tokens, API keys, passwords, DSN passwords).
"""

from __future__ import annotations


class KitsyncError(Exception):
    """Base of every error kitsync raises on purpose."""


class TransientError(KitsyncError):
    """The same call may succeed later: timeouts, 5xx, 503, lost connections."""


class ConfigError(KitsyncError):
    """Settings are missing or invalid; the message names every problem."""
