"""AYON's GraphQL endpoint as kitsync reads it: one shared HTTP client, typed errors, and
connections followed to their end.

What AYON 1.16 does that this guards against (``tests/fixtures/ayon/graphql/README.md``):
a connection without ``first`` returns only 100 items; ``first: 0`` means "up to 1000"; the last
full page still says ``hasNextPage: true`` (the next one is empty); errors come as HTTP 200 with
``errors`` and sometimes partial ``data``. So every read asks for an explicit page size, pages
until ``hasNextPage`` is false, and any error anywhere fails the whole read: a half-read project
is never handed to a planner.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx

from kitsync.ayon._http import ayon_client, send
from kitsync.ayon.errors import (
    AyonAuthError,
    AyonBadRequest,
    AyonError,
    AyonNotFound,
    AyonQueryError,
    AyonUnavailable,
    IncompleteRead,
)
from kitsync.budget import Budget

# GraphQL error ``extensions.status`` -> the gateway's error type.
_BY_STATUS: dict[int, type[AyonError]] = {
    400: AyonBadRequest,
    401: AyonAuthError,
    403: AyonAuthError,
    404: AyonNotFound,
}
_PATH = "/graphql"


class GraphQL:
    """``POST /graphql`` with the service user's key. Reads are idempotent, so a transient
    failure (timeout, 5xx, connection lost, an answer cut short) is tried again on the spot
    ``retries`` times before it is raised."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: Budget | None = None,
        max_connections: int = 10,
        retries: int = 2,
        retry_delay: float = 0.2,
    ) -> None:
        self._secret = api_key
        self._retries = retries
        self._retry_delay = retry_delay
        self._client = ayon_client(
            base_url,
            {"x-api-key": api_key},
            timeout=timeout,
            transport=transport,
            budget=budget,
            max_connections=max_connections,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str) -> Any:
        """A REST read (``GET /api/...``), with the same retries; its JSON body."""
        return await self._retried("GET", path, None)

    async def query(self, name: str, text: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The ``data`` of a query; any ``errors`` in the answer raise (partial data is not
        used). ``name`` names the read in error messages."""
        body = {"query": text, "variables": dict(variables), "operationName": name}
        answer = await self._retried("POST", _PATH, body, name=name)
        if not isinstance(answer, dict):
            raise IncompleteRead(f"GraphQL {name}: the answer is not an object")
        errors = answer.get("errors")
        if errors:
            raise _query_error(name, errors)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise IncompleteRead(f"GraphQL {name}: no data in the answer")
        return data

    async def connection(
        self,
        name: str,
        text: str,
        variables: Mapping[str, Any],
        path: tuple[str, ...],
        *,
        page_size: int,
    ) -> list[Any]:
        """Every edge of the connection at ``path`` in ``data``: ``text`` takes ``$first`` and
        ``$after`` and selects ``pageInfo { hasNextPage endCursor }``. Pages until
        ``hasNextPage`` is false; a page claiming more without a cursor fails the read."""
        edges: list[Any] = []
        after: str | None = None
        while True:
            data = await self.query(name, text, {**variables, "first": page_size, "after": after})
            page = _at(data, path, name)
            edges.extend(page["edges"])
            info = page["pageInfo"]
            if not info["hasNextPage"]:
                return edges
            after = info.get("endCursor")
            if not after:
                raise IncompleteRead(f"GraphQL {name}: a page says there is more but no cursor")

    async def _retried(
        self, method: str, path: str, body: Mapping[str, Any] | None, *, name: str = ""
    ) -> Any:
        attempt = 0
        while True:
            try:
                return await self._call(method, path, body, name)
            except AyonUnavailable:
                if attempt >= self._retries:
                    raise
                attempt += 1
                await asyncio.sleep(self._retry_delay * attempt)

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None, name: str) -> Any:
        what = f"{path} ({name})" if name else path
        response = await send(self._client, method, path, self._secret, body=body, what=what)
        try:
            return json.loads(response.content)
        except ValueError:
            # A 200 whose body does not parse was cut short on the way (proxy, timeout).
            raise IncompleteRead(
                f"{method} {what} -> {response.status_code}: the answer was cut short"
            ) from None


def _at(data: Mapping[str, Any], path: tuple[str, ...], name: str) -> Mapping[str, Any]:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping) or not isinstance(node.get(key), Mapping):
            raise IncompleteRead(f"GraphQL {name}: no {'.'.join(path)} in the answer")
        node = node[key]
    if not isinstance(node.get("edges"), list) or not isinstance(node.get("pageInfo"), Mapping):
        raise IncompleteRead(f"GraphQL {name}: {'.'.join(path)} is not a connection")
    return node  # type: ignore[no-any-return]


def _query_error(name: str, errors: Any) -> AyonError:
    """The typed error for a GraphQL ``errors`` list: by the first error's ``extensions.status``
    (AYON sets it for not found, bad cursor ...), else :class:`AyonQueryError`."""
    first = errors[0] if isinstance(errors, list) and errors else {}
    if not isinstance(first, Mapping):
        first = {}
    message = str(first.get("message", "unknown error"))[:500]
    where = ".".join(str(part) for part in first.get("path") or [])
    extensions = first.get("extensions")
    status = extensions.get("status") if isinstance(extensions, Mapping) else None
    more = f" (+{len(errors) - 1} more)" if isinstance(errors, list) and len(errors) > 1 else ""
    text = f"GraphQL {name}{f' at {where}' if where else ''}: {message}{more}"
    if isinstance(status, int) and status >= 500:
        return AyonUnavailable(text, status=status, detail=message)
    kind = _BY_STATUS.get(status, AyonQueryError) if isinstance(status, int) else AyonQueryError
    return kind(text, status=status if isinstance(status, int) else None, detail=message)
