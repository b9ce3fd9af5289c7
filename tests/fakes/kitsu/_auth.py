"""Login tokens as flask-jwt-extended hands them out, and the answers for bad ones."""

from __future__ import annotations

import base64
import json
import secrets
import uuid

from ._errors import ZouError

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password"
PERSON_PASSWORD = "person-password"  # every other recorded person (alice, bruno, chloe)
BOT_TOKEN = "bot-token-for-tests"

_MISSING = (
    'Missing JWT in cookies or headers (Missing cookie "access_token_cookie"; '
    "Missing Authorization Header)"
)


def _segment(payload: dict[str, str]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(person_id: str, kind: str) -> str:
    header = _segment({"alg": "HS256", "typ": "JWT"})
    body = _segment({"sub": person_id, "jti": str(uuid.uuid4()), "type": kind})
    return f"{header}.{body}.{secrets.token_urlsafe(32)}"


class Tokens:
    """Issued access/refresh tokens; a token Zou never issued fails its signature check."""

    def __init__(self, bot_person_id: str) -> None:
        self.bot_person_id = bot_person_id
        self._issued: dict[str, tuple[str, str]] = {}  # token -> (person id, access|refresh)
        self._revoked: set[str] = set()

    def issue(self, person_id: str) -> tuple[str, str]:
        access, refresh = _jwt(person_id, "access"), _jwt(person_id, "refresh")
        self._issued[access] = (person_id, "access")
        self._issued[refresh] = (person_id, "refresh")
        return access, refresh

    def revoke(self, token: str) -> None:
        self._revoked.add(token)

    def revoke_all(self) -> None:
        self._revoked.update(self._issued)

    def person_of(self, authorization: str | None, *, refresh: bool = False) -> str:
        """Person id behind an ``Authorization`` header, or the ZouError Zou answers."""
        token = bearer(authorization)
        if token is None:
            raise ZouError(401, {"msg": _MISSING})
        if token == BOT_TOKEN:
            return self.bot_person_id
        if token.count(".") != 2:
            raise ZouError(422, {"msg": "Not enough segments"})
        issued = self._issued.get(token)
        if issued is None:
            raise ZouError(422, {"msg": "Signature verification failed"})
        if token in self._revoked:
            raise ZouError(401, {"msg": "Token has been revoked"})
        person_id, kind = issued
        if refresh and kind != "refresh":
            raise ZouError(422, {"msg": "Only refresh tokens are allowed"})
        if not refresh and kind != "access":
            raise ZouError(422, {"msg": "Only non-refresh tokens are allowed"})
        return person_id


def bearer(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    return authorization.removeprefix("Bearer ").strip() or None
