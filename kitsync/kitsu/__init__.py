"""Async Kitsu (Zou) REST client. See ``KitsuClient`` and ``kitsync.kitsu.errors``."""

from kitsync.kitsu._client import KitsuClient
from kitsync.kitsu.errors import (
    KitsuAuthError,
    KitsuBadRequest,
    KitsuBadResponse,
    KitsuError,
    KitsuNotFound,
    KitsuUnavailable,
)

__all__ = [
    "KitsuAuthError",
    "KitsuBadRequest",
    "KitsuBadResponse",
    "KitsuClient",
    "KitsuError",
    "KitsuNotFound",
    "KitsuUnavailable",
]
