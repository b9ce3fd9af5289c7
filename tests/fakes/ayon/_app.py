"""The ASGI app: routes, lifespan (pool, public tables, users), request log and faults."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _auth, _enroll, _entities, _events, _graphql, _links, _operations, _projects
from ._db import connect, ensure_public_tables, open_pool
from ._faults import FaultPlan
from ._http import Handler, endpoint

_P = "/api/projects/{project_name}"


def _routes() -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/api/info", _auth.info),
        ("GET", "/api/users/me", _auth.users_me),
        ("PUT", "/api/users/{user_name}", _auth.put_user),
        ("DELETE", "/api/users/{user_name}", _auth.delete_user),
        ("POST", "/api/projects", _projects.post_project),
        ("GET", _P, _projects.get_project),
        ("PATCH", _P, _projects.patch_project),
        ("DELETE", _P, _projects.delete_project),
        ("GET", f"{_P}/anatomy", _projects.get_anatomy),
        ("GET", f"{_P}/links/types", _projects.get_link_types),
        ("GET", f"{_P}/folders", _entities.list_folders),
        ("POST", f"{_P}/operations", _operations.post_operations),
        ("POST", f"{_P}/links", _links.post_link),
        ("POST", f"{_P}/links/bulk", _links.post_links_bulk),
        ("DELETE", f"{_P}/links/{{link_id}}", _links.delete_link),
        ("POST", f"{_P}/tasks/{{task_id}}/assign", _entities.assign_task),
        ("POST", "/api/events", _events.post_event),
        ("GET", "/api/events/{event_id}", _events.get_event),
        ("PATCH", "/api/events/{event_id}", _events.patch_event),
        ("POST", "/api/enroll", _enroll.enroll),
    ]
    for kind in (_entities.FOLDER, _entities.TASK):
        collection = f"{_P}/{kind.table}"
        item = f"{collection}/{{{kind.name}_id}}"
        table += [
            ("POST", collection, _entities.post_entity(kind)),
            ("GET", item, _entities.get_entity(kind)),
            ("PATCH", item, _entities.patch_entity(kind)),
            ("DELETE", item, _entities.delete_entity(kind)),
        ]
    # One Route per (path, method) keeps Starlette's 405 handling out of the way.
    return [Route(path, endpoint(handler), methods=[method]) for method, path, handler in table] + [
        Route("/graphql", _graphql.post_graphql, methods=["POST"]),
        Route("/graphql", _graphql.get_graphql, methods=["GET"]),
    ]


async def _http_error(_: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = "Not found" if status == 404 else str(getattr(exc, "detail", exc))
    return JSONResponse({"code": status, "detail": detail}, status_code=status)


def create_app(dsn: str, *, api_keys: Mapping[str, str] | None = None) -> Starlette:
    """A fake AYON 1.16 server on the Postgres database ``dsn`` (see the package docstring)."""
    keys = dict(api_keys if api_keys is not None else _auth.DEFAULT_API_KEYS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with connect(dsn) as conn:
            await ensure_public_tables(conn)
            await _auth.upsert_users(conn, keys)
        app.state.pool = await open_pool(dsn)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Starlette(
        routes=_routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.requests = []
    app.state.fail_next = FaultPlan()
    app.add_middleware(
        _auth.Gate, api_keys=keys, requests=app.state.requests, faults=app.state.fail_next
    )
    return app
