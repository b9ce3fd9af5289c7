"""The ASGI app: request log, injected faults, bearer auth, then the route handlers."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _actions  # noqa: F401 (registers the write routes)
from ._errors import ZouError, not_found
from ._routes import Call, match
from ._state import FakeState

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def build_app(state: FakeState) -> Starlette:
    async def endpoint(request: Request) -> Response:
        method, path = request.method, request.url.path
        with state.lock:
            state.requests.append((method, path))
            failure, delay = state.faults.next()
        if delay:
            await asyncio.sleep(delay)
        if failure is not None:
            phrase = HTTPStatus(failure).phrase
            return JSONResponse({"error": True, "message": phrase}, status_code=failure)
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        with state.lock:  # rendered under the lock: payloads may share rows with the store
            try:
                answer, status = _dispatch(state, method, path, query, body, request)
                return JSONResponse(answer, status_code=status)
            except ZouError as error:
                return JSONResponse(error.body, status_code=error.status)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=_METHODS)])


def _dispatch(
    state: FakeState,
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: Any,
    request: Request,
) -> tuple[Any, int]:
    authorization = request.headers.get("authorization")
    found = match(method, path)
    if found is None:
        raise not_found()
    handler_route, params = found
    person = None
    if handler_route.auth:
        person = state.store.persons[state.tokens.person_of(authorization)]
    call = Call(state, person, query, body, authorization)
    return handler_route.handler(call, **params), call.status
