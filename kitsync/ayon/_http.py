"""The gateway's HTTP: one client per AYON per role, each request counted, AYON's answers and
transport failures turned into the gateway's typed errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from kitsync.ayon.errors import (
    AyonAuthError,
    AyonBadRequest,
    AyonConflict,
    AyonError,
    AyonNotFound,
    AyonUnavailable,
)
from kitsync.budget import Budget, budgeted_transport
from kitsync.metrics import count_request

_Model = TypeVar("_Model", bound=BaseModel)
_MAX_DETAIL = 500

_BY_STATUS: dict[int, type[AyonError]] = {
    400: AyonBadRequest,
    401: AyonAuthError,
    403: AyonAuthError,
    404: AyonNotFound,
    409: AyonConflict,
    422: AyonBadRequest,
    429: AyonUnavailable,
}


def ayon_client(
    base_url: str,
    headers: Mapping[str, str],
    *,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
    budget: Budget | None,
    max_connections: int,
) -> httpx.AsyncClient:
    """A shared client for AYON: every request it sends, whichever module of the gateway makes
    it, is sent within the cluster's AYON budget (``kitsync.budget``)."""
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers=dict(headers),
        timeout=timeout,
        transport=budgeted_transport(budget, transport, max_connections=max_connections),
    )


async def send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    secret: str,
    *,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    what: str | None = None,
) -> httpx.Response:
    """One request, counted; a transport failure or a non-2xx answer raises its typed error,
    naming ``what`` (default: the path) and never ``secret``."""
    what = what or path
    try:
        response = await client.request(method, path, json=body, headers=headers)
    except httpx.TransportError as error:
        count_request("ayon", None)
        raise transport_error(method, what, error) from None
    count_request("ayon", response.status_code)
    if not response.is_success:
        raise error_for(method, what, response, secret)
    return response


def error_for(method: str, path: str, response: httpx.Response, secret: str) -> AyonError:
    """The typed error for a non-2xx answer, with AYON's ``detail`` (never its traceback)."""
    status = response.status_code
    # Scrub, then cut: a cut through the key would leave its start unmasked.
    detail = _scrub(_detail(response), secret)[:_MAX_DETAIL]
    kind = AyonUnavailable if status >= 500 else _BY_STATUS.get(status, AyonError)
    return kind(f"{method} {path} -> {status}: {detail}", status=status, detail=detail)


def transport_error(method: str, path: str, error: httpx.TransportError) -> AyonUnavailable:
    what = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
    # httpx messages carry no headers; the exception object does, so it is not chained.
    return AyonUnavailable(f"{method} {path} {what}: {type(error).__name__}: {error}")


def parse(model: type[_Model], method: str, path: str, response: httpx.Response) -> _Model:
    """``response``'s JSON body as ``model``; an unexpected shape is an :class:`AyonError`."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        )
        raise AyonError(
            f"{method} {path} -> {response.status_code}: unexpected answer ({problems})"
        ) from None


def _detail(response: httpx.Response) -> str:
    """AYON's ``detail`` (whole: the caller scrubs, then cuts)."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)
    detail = str(body.get("detail") or response.reason_phrase)
    # Request-validation 400s say which field is wrong only in "errors".
    errors = body.get("errors")
    if isinstance(errors, list):
        fields = [
            f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg', '')}"
            for e in errors
            if isinstance(e, dict)
        ]
        detail = "; ".join([detail, *fields])
    return detail


def _scrub(text: str, secret: str) -> str:
    # AYON does not echo keys, but a proxy in front of it might.
    return text.replace(secret, "***") if secret else text
