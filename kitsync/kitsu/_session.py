"""HTTP plumbing of the Kitsu client: one pooled ``httpx.AsyncClient``, authentication, and the
mapping of every failure to a typed ``KitsuError`` (see ``errors``)."""

from __future__ import annotations

import asyncio
import random
import uuid
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlencode

import httpx

from kitsync.budget import Budget, budgeted_transport
from kitsync.kitsu._auth import BearerToken
from kitsync.kitsu.errors import (
    KitsuAuthError,
    KitsuBadRequest,
    KitsuNotFound,
    KitsuUnavailable,
)
from kitsync.metrics import count_request

Params = dict[str, str | int]
_TOKEN_REJECTED = (401, 422)  # 422: Zou's answer to a malformed or forged JWT
_DETAIL_CHARS = 200
_MASK = "***"
GET_RETRY_DELAY = 0.25  # seconds before a GET's first retry; doubled for each next one


def check_id(value: str) -> str:
    """``value`` as a dashed lowercase UUID; ``KitsuNotFound`` if it is not one."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise KitsuNotFound(f"malformed Kitsu id {value!r}: no such entity can exist") from None


def _no_cookies() -> CookieJar:
    # Zou's login also sets JWT cookies, which Flask-JWT-Extended would read before the header:
    # a stale cookie must never outlive a re-login, so none are kept at all.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class KitsuSession:
    def __init__(
        self,
        base_url: str,
        *,
        email: str | None,
        password: str | None,
        bot_token: str | None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
        max_connections: int,
        get_retries: int = 0,
        budget: Budget | None = None,
    ) -> None:
        if get_retries < 0:
            raise ValueError("get_retries must be 0 or more")
        self._get_retries = get_retries
        self._email = email
        self._password = password
        self._bot_token = bot_token
        self._timeout = timeout
        self.token = BearerToken(login=None if bot_token else self._login, fixed=bot_token or None)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(timeout),
            transport=budgeted_transport(
                budget,
                transport,
                max_connections=max_connections,
                connect_retries=1,  # connect failures only: nothing was sent yet
            ),
            cookies=_no_cookies(),
            headers={"Accept": "application/json", "User-Agent": "kitsync"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        mode = "bot token" if self._bot_token else f"login {self._email}"
        return f"KitsuSession({str(self._http.base_url)!r}, {mode})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        """GET ``path`` (relative to the base URL) and return its decoded JSON body."""
        return self.json_of("GET", path, params, await self.get(path, params))

    async def get(self, path: str, params: Params | None = None) -> httpx.Response:
        """GET ``path`` (relative to the base URL): the successful answer, body not decoded
        (for callers that parse it straight from bytes; see :meth:`json_of`).

        A GET changes nothing: when Zou cannot answer (5xx, timeout, lost connection) it is sent
        again up to ``get_retries`` times, after a short pause with jitter, before
        ``KitsuUnavailable`` is raised. A whole full reconcile reads a project in a dozen GETs
        and is retried whole: one 502 must not throw all of them away.
        """
        for retry in range(self._get_retries + 1):
            try:
                return await self._get_once(path, params)
            except KitsuUnavailable:
                if retry == self._get_retries:
                    raise
            delay = GET_RETRY_DELAY * 2**retry
            await asyncio.sleep(random.uniform(delay / 2, delay))  # noqa: S311 (jitter)
        raise AssertionError("unreachable")

    async def write_json(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """POST/PUT ``body`` to ``path`` and return the decoded answer.

        Never sent twice: a write whose answer was lost may have happened (a comment posted
        twice is two comments). The caller's reconcile is level-triggered: run again, it reads
        Kitsu and writes only what is still missing.
        """
        response = await self._once(method, path, None, body)
        return self.json_of(method, path, None, response)

    async def _get_once(self, path: str, params: Params | None) -> httpx.Response:
        return await self._once("GET", path, params, None)

    async def _once(
        self, method: str, path: str, params: Params | None, body: dict[str, Any] | None
    ) -> httpx.Response:
        token = await self.token.get()
        response = await self._send(method, path, params=params, json=body, token=token)
        if response.status_code in _TOKEN_REJECTED:
            if not self.token.renewable:
                raise KitsuAuthError(
                    f"{_where(method, path, params)}: Kitsu rejected the bot token "
                    f"(HTTP {response.status_code}{self._detail(response)})"
                )
            # Zou refuses an expired token before doing anything: sending the write again is safe.
            token = await self.token.renew(token)
            response = await self._send(method, path, params=params, json=body, token=token)
        self._check(method, path, params, response)
        return response

    async def _login(self) -> str:
        path = "/auth/login"
        body = {"email": self._email, "password": self._password}
        response = await self._send("POST", path, json=body, token=None)
        if response.status_code in (400, 401):
            raise KitsuAuthError(
                f"Kitsu login as {self._email} refused (HTTP {response.status_code}"
                f"{self._detail(response)}); check the email and password"
            )
        self._check("POST", path, None, response)
        payload = self.json_of("POST", path, None, response)
        access_token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(access_token, str) or not access_token:
            raise KitsuAuthError(f"Kitsu login as {self._email} returned no access token")
        return access_token

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: dict[str, Any] | None = None,
        token: str | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._http.request(
                method, path.lstrip("/"), params=params, json=json, headers=headers
            )
        except httpx.TimeoutException:
            count_request("kitsu", None)
            raise KitsuUnavailable(
                f"{_where(method, path, params)}: no answer within {self._timeout:g}s"
            ) from None
        except httpx.TransportError as exc:
            count_request("kitsu", None)
            raise KitsuUnavailable(
                f"{_where(method, path, params)}: {type(exc).__name__}: {self._redact(str(exc))}"
            ) from None
        count_request("kitsu", response.status_code)
        return response

    def _check(
        self, method: str, path: str, params: Params | None, response: httpx.Response
    ) -> None:
        """Raise the typed error of a non-2xx answer."""
        status = response.status_code
        if status < 300:
            return  # before the message: building it decodes the (possibly large) body
        failure = f"{_where(method, path, params)}: HTTP {status}{self._detail(response)}"
        # 429: still "too fast" after the budget waited out its Retry-After pauses.
        if status >= 500 or status in (408, 429):
            raise KitsuUnavailable(failure)
        if status == 404:
            raise KitsuNotFound(failure)
        if status in (*_TOKEN_REJECTED, 403):
            raise KitsuAuthError(failure)
        # Redirects too: a redirect means the base URL is wrong (missing /api, http->https).
        raise KitsuBadRequest(failure)

    def json_of(
        self, method: str, path: str, params: Params | None, response: httpx.Response
    ) -> Any:
        """The decoded JSON body of a successful answer."""
        try:
            return response.json()
        except ValueError:
            content_type = response.headers.get("content-type", "no content type")
            raise KitsuUnavailable(
                f"{_where(method, path, params)}: HTTP {response.status_code} with a non-JSON "
                f"body ({content_type})"
            ) from None

    def _detail(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            text = response.text
        else:
            message = (body.get("message") or body.get("msg")) if isinstance(body, dict) else None
            text = str(message) if message else response.text
        # Mask first, then cut: a cut through a secret would leave its start unmasked.
        text = " ".join(self._redact(text).split())[:_DETAIL_CHARS]
        return f": {text}" if text else ""

    def _redact(self, text: str) -> str:
        # Zou does not echo secrets, but a proxy's error page might: mask them all the same.
        for secret in (self._password, self._bot_token, self.token.current):
            if secret:
                text = text.replace(secret, _MASK)
        return text


def _where(method: str, path: str, params: Params | None) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"Kitsu {method} {path}{query}"
