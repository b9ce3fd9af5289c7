"""Request handling shared by every endpoint: the request context, and errors -> AYON answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._db import project_exists, schema
from ._events import Caller, log_error
from ._wire import (
    ApiError,
    ErrorItem,
    Model,
    RequestValidationError,
    ServerError,
    error_item,
    path_id,
    validate,
)

_log = logging.getLogger(__name__)

Handler = Callable[["Ctx"], Awaitable[Response]]


@dataclass
class Ctx:
    request: Request
    caller: Caller

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.request.app.state.pool
        return pool

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.url.path

    def invalid(self, errors: list[ErrorItem]) -> RequestValidationError:
        return RequestValidationError(self.method, self.path, errors)

    async def json(self) -> Any:
        raw = await self.request.body()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise self.invalid(
                [error_item(("body", 0), str(exc), "value_error.jsondecode")]
            ) from exc

    async def body(self, model: Model) -> dict[str, Any]:
        values, errors = validate(model, await self.json())
        if errors:
            raise self.invalid(errors)
        return values

    def path_id(self, name: str) -> str:
        return path_id(self.request.path_params[name], name, self.method, self.path)

    async def project(self) -> str:
        """The project named in the path; 404 when it does not exist."""
        name = str(self.request.path_params["project_name"])
        try:
            schema(name)
        except ValueError:
            raise ApiError(404, f"Project {name} not found") from None
        if not await project_exists(self.pool, name):
            raise ApiError(404, f"Project {name} not found")
        return name


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Run a handler and answer its errors the way AYON does (logging 400s and 500s as events)."""

    async def run(request: Request) -> Response:
        ctx = Ctx(
            request,
            Caller(
                user=request.state.user,
                sender=request.headers.get("x-sender"),
                sender_type=request.headers.get("x-sender-type") or "api",
            ),
        )
        try:
            return await handler(ctx)
        except RequestValidationError as exc:
            await log_error(
                ctx.pool, ctx.caller.user, exc.detail, "ayon_server.api.server", exc.traceback
            )
            return JSONResponse(exc.body(), status_code=400)
        except ApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        except ServerError as exc:
            return await _server_error(ctx, exc)
        except Exception as exc:
            _log.exception("fake AYON: unhandled error in %s %s", ctx.method, ctx.path)
            detail = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
            return await _server_error(ctx, ServerError(detail))

    return run


async def _server_error(ctx: Ctx, exc: ServerError) -> Response:
    first_line = exc.detail.splitlines()[0]
    await log_error(
        ctx.pool,
        ctx.caller.user,
        f"Unhandled exception: {first_line}",
        "ayon_server.logging",
        "(fake AYON server: no traceback)",
    )
    return JSONResponse(exc.body(), status_code=500)
