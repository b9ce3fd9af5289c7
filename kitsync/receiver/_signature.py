"""The webhook signature: ``X-Kitsync-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``.

The Zou plugin computes the same value with the standard library alone (it cannot import
kitsync); ``tests/unit/test_zou_plugin.py`` checks that the two agree.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Kitsync-Signature"
_SCHEME = "sha256="


def sign_body(secret: str, body: bytes) -> str:
    """The header value that signs ``body`` with ``secret``."""
    return _SCHEME + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of a received header value against the body."""
    if header is None:
        return False
    expected = sign_body(secret, body).encode()
    # Compare bytes: compare_digest refuses non-ASCII str, and a header may carry any byte.
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "surrogateescape"))
