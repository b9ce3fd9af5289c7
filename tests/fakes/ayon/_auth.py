"""Authentication (checked before anything else), the request log, fault injection, users.

The API keys live only in memory; public.users stores their sha256, as AYON stores hashed keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import asyncpg
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._faults import FaultPlan
from ._http import Ctx
from ._wire import ApiError, iso, json_response

SERVICE_KEY = "test-service-api-key"
SERVICE_USER = "kitsync_service"
HUMAN_KEY = "test-human-api-key"
HUMAN_USER = "alice"
DEFAULT_API_KEYS = {SERVICE_KEY: SERVICE_USER, HUMAN_KEY: HUMAN_USER}

_PUBLIC_PATHS = frozenset({"/api/info"})
_OWN_ATTRIB = ["fullName", "email", "avatarUrl", "developerMode"]


class Gate:
    """ASGI middleware: log the request, apply injected faults, authenticate, then apply
    injected rejections (which read the body)."""

    def __init__(
        self,
        app: ASGIApp,
        api_keys: Mapping[str, str],
        requests: list[tuple[str, str]],
        faults: FaultPlan,
    ) -> None:
        self._app = app
        self._api_keys = dict(api_keys)
        self._requests = requests
        self._faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self._requests.append((method, path))
        fault = self._faults.take(method, path)
        if fault is not None:
            if fault.delay:
                receive = await _received(receive)
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                await _answer(scope, receive, send, fault.status, fault.detail)
                return
        user = None
        if path not in _PUBLIC_PATHS:
            headers = Headers(scope=scope)
            key = headers.get("x-api-key") or _api_key_from_authorization(
                headers.get("authorization")
            )
            if key is None and headers.get("authorization") is None:
                await _answer(scope, receive, send, 401, "Access token is missing")
                return
            user = self._api_keys.get(key) if key else None
            if user is None:
                # As recorded: /users/me says "Invalid API key", other endpoints (/graphql too)
                # "Invalid session".
                detail = "Invalid API key" if path == "/api/users/me" else "Invalid session"
                await _answer(scope, receive, send, 401, detail)
                return
        if self._faults.inspects_bodies:  # as AYON's validation: after authentication
            raw, receive = await _buffered(receive)
            refused = self._faults.rejection(method, path, _json_or_none(raw))
            if refused is not None and refused.status is not None:
                await _answer(scope, receive, send, refused.status, refused.detail)
                return
        scope.setdefault("state", {})["user"] = user
        await self._app(scope, receive, send)


async def _received(receive: Receive) -> Receive:
    """Read the whole request now (a stalled server has it already), and replay it later."""
    return (await _buffered(receive))[1]


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, read now, and a ``receive`` that replays it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return replay.pop() if replay else await receive()

    return body, replayed


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _api_key_from_authorization(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() or None if scheme.lower() == "apikey" else None


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    body = json.dumps({"code": status, "detail": detail}).encode()
    response = Response(body, status_code=status, media_type="application/json")
    await response(scope, receive, send)


async def upsert_users(conn: asyncpg.Connection, api_keys: Mapping[str, str]) -> None:
    """Create (or refresh) the user of each API key; all but HUMAN_KEY's are service users."""
    rows = []
    for key, name in api_keys.items():
        data: dict[str, Any] = {
            "accessGroups": {},
            "defaultAccessGroups": [],
            "apiKey": hashlib.sha256(key.encode()).hexdigest(),
            "apiKeyPreview": "****",
        }
        if key != HUMAN_KEY:
            data["isService"] = True
        rows.append((name, {"fullName": name.replace("_", " ").capitalize()}, data))
    await conn.executemany(
        """
        INSERT INTO public.users (name, attrib, data) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data, updated_at = NOW()
        """,
        rows,
    )


async def users_me(ctx: Ctx) -> Response:
    row = await ctx.pool.fetchrow("SELECT * FROM public.users WHERE name = $1", ctx.caller.user)
    if row is None:
        raise ApiError(401, "Invalid session")
    service = bool(row["data"].get("isService"))
    return json_response(
        {
            "name": row["name"],
            "uiExposureLevel": 900 if service else 100,
            "attrib": row["attrib"],
            "data": row["data"],
            "active": row["active"],
            "ownAttrib": _OWN_ATTRIB,
            "createdAt": iso(row["created_at"]),
            "updatedAt": iso(row["updated_at"]),
        }
    )


async def put_user(ctx: Ctx) -> Response:
    """``PUT /api/users/{name}``: create a user (204 with an empty body, as recorded in
    ``graphql/setup_user_create_*``; 409 when the name is taken ignoring case)."""
    name = str(ctx.request.path_params["user_name"])
    body = await ctx.json()
    attrib = body.get("attrib") or {}
    data = body.get("data") or {}
    try:
        await ctx.pool.execute(
            "INSERT INTO public.users (name, attrib, data) VALUES ($1, $2, $3)", name, attrib, data
        )
    except asyncpg.UniqueViolationError:
        raise ApiError(409, f"User {name} already exists") from None
    return Response(status_code=204)


async def delete_user(ctx: Ctx) -> Response:
    """``DELETE /api/users/{name}``: 204 with an empty body (``graphql/teardown_user_*``)."""
    name = str(ctx.request.path_params["user_name"])
    if await ctx.pool.execute("DELETE FROM public.users WHERE name = $1", name) == "DELETE 0":
        raise ApiError(404, f"User {name} not found")
    return Response(status_code=204)


async def info(_: Ctx) -> Response:
    return json_response({"version": "1.16.0+fake", "motd": "fake AYON server for kitsync tests"})
