"""Known secret values through every failure path that tends to leak them: none may show.

Each test makes secrets of its own (``s3cret-<tag>-<random hex>``): the Kitsu password and bot
token, the AYON API key, the webhook secret, and passwords inside AYON's DSN and the Redis URL
(with characters that must be percent-encoded). Then it fails on purpose: wrong credentials,
Kitsu and AYON answering 401/403/500, revoked tokens, bad signatures, invalid settings, and
servers behind a *hostile proxy* that echoes the credentials it received into its error page
(placed across the length at which kitsync cuts error details, so a cut before the masking would
show). Everything kitsync produces is collected: log records (caplog, DEBUG), exception
``str``/``repr``, CLI output, the stdout/stderr of a real ``kitsync worker`` run with
``--log-format json --log-level DEBUG``, every key of its (private, password-protected) Redis
including dead letters, and the AYON event rows kitsync wrote. No secret may appear, nor its
percent-encoded, JSON-escaped or base64 ``user:password`` form, nor 12 characters of its random
part.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import asyncpg
import httpx
import pytest
import redis
from click.testing import CliRunner
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kitsync.ayon import AyonError, AyonWriter, connect
from kitsync.cli import main as cli
from kitsync.cli._common import secrets_of
from kitsync.config import Settings, load_settings, redact_url
from kitsync.errors import ConfigError
from kitsync.kitsu import KitsuClient
from kitsync.logs import JsonFormatter, SecretScrubber, configure
from kitsync.receiver import SIGNATURE_HEADER, create_app, sign_body
from kitsync.redis_keys import RedisKeys
from kitsync.worker.app import create_celery
from kitsync.worker.keyqueue import RedisKeyQueue
from tests.conftest import PG_ADMIN_DSN
from tests.fakes.ayon import clear_faults, create_project, inject_failures
from tests.fakes.ayon import create_app as create_ayon
from tests.fakes.kitsu import ADMIN_EMAIL, FakeKitsu
from tests.fakes.serve import free_port, serve
from tests.integration.processes import until
from tests.redis_server import private_redis

pytestmark = [pytest.mark.faults, pytest.mark.integration]

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
BOT_EMAIL = "sync.bot@example.com"
# Where kitsync cuts the error detail of an answer: Kitsu 200 characters, AYON 500.
KITSU_CUT, AYON_CUT = 200, 500
SERVICE_USER = "kitsync_service"
# Every kitsync process here: JSON logs, everything down to DEBUG.
KITSYNC = [sys.executable, "-m", "kitsync", "--log-format", "json", "--log-level", "DEBUG"]


# ----------------------------------------------------------------------------- the secrets


def _secret(tag: str, tail: str = "") -> str:
    assert len(tag) == 4  # every secret has the same prefix length: see Hostile.pad_for
    return f"s3cret-{tag}-{uuid.uuid4().hex}{tail}"


@dataclass(frozen=True)
class Secrets:
    kitsu_password: str = field(default_factory=lambda: _secret("kpwd"))
    bot_token: str = field(default_factory=lambda: _secret("bott"))
    ayon_key: str = field(default_factory=lambda: _secret("ayon"))
    webhook: str = field(default_factory=lambda: _secret("hook"))
    # Characters a URL must percent-encode: the drivers see the decoded value.
    db_password: str = field(default_factory=lambda: _secret("dbpw", "/@:+%"))
    redis_password: str = field(default_factory=lambda: _secret("rdpw", "#?&="))
    # Not configured: the session cookie Zou sets on login (a JWT, as good as the password
    # while it lasts). kitsync keeps no cookies, so it has no business showing one.
    session_cookie: str = field(default_factory=lambda: _secret("cook"))

    def values(self) -> list[str]:
        return [
            self.kitsu_password,
            self.bot_token,
            self.ayon_key,
            self.webhook,
            self.db_password,
            self.redis_password,
            self.session_cookie,
        ]

    def forbidden(self) -> set[str]:
        """Every fragment that would betray a secret."""
        found: set[str] = set()
        pairs = [
            (BOT_EMAIL, self.kitsu_password),
            (ADMIN_EMAIL, self.kitsu_password),
            ("postgres", self.db_password),
            ("", self.redis_password),
            ("default", self.redis_password),
        ]
        for user, password in pairs:
            found.add(base64.b64encode(f"{user}:{password}".encode()).decode())
        for value in self.values():
            found |= {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
            found.add(base64.b64encode(value.encode()).decode().rstrip("="))
            random_part = value.split("-", 2)[2][:32]
            found |= {random_part[i : i + 12] for i in range(len(random_part) - 11)}
        return found

    def assert_clean(self, where: str, texts: Iterable[str]) -> None:
        forbidden = self.forbidden()
        for text in texts:
            for fragment in forbidden:
                if fragment in text:
                    at = text.index(fragment)
                    raise AssertionError(
                        f"a secret shows in {where}: ...{text[max(0, at - 300) : at + 80]}..."
                    )

    def dsn(self, base: str, database: str | None = None) -> str:
        """``base`` (a DSN without password) with the DB password, and another database."""
        parts = urlsplit(base)
        netloc = f"{parts.username}:{quote(self.db_password, safe='')}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        path = f"/{database}" if database else parts.path
        return parts._replace(netloc=netloc, path=path).geturl()

    def redis_url(self, port: int, db: int = 0) -> str:
        return f"redis://:{quote(self.redis_password, safe='')}@127.0.0.1:{port}/{db}"


# ----------------------------------------------------------------------------- a hostile proxy


@dataclass
class Rule:
    status: int
    method: str | None
    path: str
    pad: int


class Hostile:
    """ASGI wrapper: the next matching requests get ``status`` with an error page that echoes
    the credentials the request carried (Authorization, x-api-key, a JSON ``password``), as a
    badly configured proxy might. ``pad`` dots come first, so a secret can straddle a cut.
    With ``cookie``, a successful ``POST /auth/login`` also sets it, as Zou sets its JWT."""

    def __init__(self, app: ASGIApp, cookie: str | None = None) -> None:
        self._app = app
        self._cookie = cookie
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self.echoed = 0

    @staticmethod
    def pad_for(cut: int) -> int:
        # "s3cret-tttt-" and 14 characters of the random part stay before the cut.
        return cut - 1 - len("s3cret-tttt-") - 14

    def fail(
        self,
        status: int,
        *,
        method: str | None = None,
        path: str = "/",
        pad: int = 0,
        count: int = 1,
    ) -> None:
        with self._lock:
            self._rules.extend([Rule(status, method, path, pad)] * count)

    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.method in (None, method) and path.startswith(rule.path):
                    return self._rules.pop(index)
        return None

    def _with_cookie(self, send: Send) -> Send:
        cookie = f"access_token_cookie={self._cookie}; HttpOnly; Path=/".encode()

        async def sending(message: Message) -> None:
            if self._cookie and message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"set-cookie", cookie)]}
            await send(message)

        return sending

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._take(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if rule is None:
            login = scope["type"] == "http" and scope["path"] == "/auth/login"
            await self._app(scope, receive, self._with_cookie(send) if login else send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        echoed = [
            headers.get("authorization", "").removeprefix("Bearer "),
            headers.get("x-api-key", ""),
        ]
        with suppress(ValueError, AttributeError):
            echoed.append(str(json.loads(body).get("password") or ""))
        shown = " ".join(value for value in echoed if value)
        page = f"{'.' * rule.pad} {shown} (request was {body.decode(errors='replace')[:300]})"
        self.echoed += 1
        response = JSONResponse(
            {"message": page, "detail": page, "msg": page}, status_code=rule.status
        )

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


# ----------------------------------------------------------------------------- helpers


class Collected:
    """Every text kitsync produced in a test, by where it came from."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}

    def add(self, where: str, *texts: object) -> None:
        self.texts.setdefault(where, []).extend(str(text) for text in texts)

    def error(self, where: str, error: BaseException) -> None:
        self.add(where, str(error), repr(error), *(repr(arg) for arg in error.args))
        if error.__cause__ is not None or error.__context__ is not None:
            self.error(f"{where} (chained)", error.__cause__ or error.__context__)  # type: ignore[arg-type]

    def check(self, secrets: Secrets) -> None:
        for where, texts in self.texts.items():
            secrets.assert_clean(where, texts)


async def expect_error(collected: Collected, where: str, call: Any) -> BaseException:
    try:
        await call
    except Exception as error:
        collected.error(where, error)
        return error
    raise AssertionError(f"{where}: no error")


def redis_dump(url: str) -> list[str]:
    """Every key and value of a (private) Redis, as text."""
    client = redis.Redis.from_url(url)
    found: list[str] = []
    try:
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"string":
                value: Any = client.get(key)
            elif kind == b"list":
                value = client.lrange(key, 0, -1)
            elif kind == b"hash":
                value = client.hgetall(key)
            elif kind == b"set":
                value = client.smembers(key)
            elif kind == b"zset":
                value = client.zrange(key, 0, -1, withscores=True)
            else:
                value = client.dump(key)
            found.append(f"{key!r} {value!r}")
            # Celery messages carry their body in base64.
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, bytes) and item.startswith(b"{"):
                    with_body = json.loads(item)
                    if isinstance(with_body, dict) and "body" in with_body:
                        found.append(base64.b64decode(with_body["body"]).decode(errors="replace"))
    finally:
        client.close()
    return found


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("KITSU_", "AYON_", "KITSYNC_"))
    }
    return subprocess.run(
        [*KITSYNC, *args],
        env=clean | env,
        cwd=cwd,  # no stray .env
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_worker(env: dict[str, str], cwd: Path, out: Path, err: Path) -> subprocess.Popen[bytes]:
    """``kitsync worker -c 1`` with JSON logs at DEBUG, in a process group of its own."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("KITSU_", "AYON_", "KITSYNC_"))
    }
    return subprocess.Popen(
        [*KITSYNC, "worker", "-c", "1"],
        env=clean | env,
        cwd=cwd,
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        start_new_session=True,
    )


@asynccontextmanager
async def servers(
    pg_dsn: str, secrets: Secrets, *, project: str | None = None
) -> AsyncIterator[tuple[FakeKitsu, Hostile, str, Any, Hostile, str]]:
    """Fake Kitsu (film, built) with an admin whose password is the secret, and fake AYON that
    knows the secret API key, each behind a hostile proxy; optionally a project paired with
    FILM. Yields (kitsu, kitsu proxy, kitsu url, ayon app, ayon proxy, ayon url)."""
    kitsu = FakeKitsu.from_fixtures("film", "after_build")
    kitsu.add_person("Sync", "Bot", BOT_EMAIL, role="admin", password=secrets.kitsu_password)
    ayon = create_ayon(pg_dsn, api_keys={secrets.ayon_key: SERVICE_USER})
    kitsu_proxy, ayon_proxy = Hostile(kitsu.app, secrets.session_cookie), Hostile(ayon)
    async with AsyncExitStack() as stack:
        kitsu_url = stack.enter_context(serve(kitsu_proxy))
        ayon_url = stack.enter_context(serve(ayon_proxy))
        if project is not None:
            await create_project(pg_dsn, project, data={"kitsuProjectId": FILM})
            conn = await asyncpg.connect(pg_dsn)
            # Other tests pair FILM too: only this project is active while the test runs.
            await conn.execute(
                "UPDATE public.projects SET active = (name = $1) "
                "WHERE data->>'kitsuProjectId' = $2",
                project,
                FILM,
            )
            await conn.close()

            async def deactivate() -> None:
                conn = await asyncpg.connect(pg_dsn)
                await conn.execute(
                    "UPDATE public.projects SET active = false WHERE name = $1", project
                )
                await conn.close()

            stack.push_async_callback(deactivate)
        yield kitsu, kitsu_proxy, kitsu_url, ayon, ayon_proxy, ayon_url


# ----------------------------------------------------------------------------- in-process


def test_invalid_settings_name_the_setting_never_the_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secrets = Secrets()
    collected = Collected()
    bad = {
        "AYON_DB_DSN": f"mysql://kitsync:{secrets.db_password}@db/ayon",
        "KITSYNC_REDIS_URL": f"http://:{secrets.redis_password}@redis:6379/0",
        "KITSU_URL": f"ftp://kitsu/{secrets.bot_token}",
        "AYON_URL": f"not a url {secrets.ayon_key}",
        "KITSU_BOT_TOKEN": secrets.bot_token,
        "KITSU_EMAIL": BOT_EMAIL,  # without a password: a problem of its own
        "KITSYNC_WEBHOOK_SECRET": secrets.webhook,
        "KITSYNC_HTTP_TIMEOUT": secrets.kitsu_password,
        "KITSYNC_LOG_LEVEL": secrets.ayon_key,
        "KITSYNC_REDIS_PREFIX": f"{secrets.webhook} !",
        "KITSYNC_DEACTIVATE_ON_DELETE": secrets.redis_password,
    }
    with pytest.raises(ConfigError) as raised:
        load_settings(["kitsu", "ayon", "ayon_db", "redis", "webhook"], **bad)
    collected.error("load_settings(overrides)", raised.value)
    for name in ("AYON_DB_DSN", "KITSYNC_REDIS_URL", "KITSU_URL", "KITSYNC_HTTP_TIMEOUT"):
        assert name in str(raised.value)

    # The same from the environment, through the CLI (exit 2 before any logging is set up).
    monkeypatch.chdir(tmp_path)
    for name, value in bad.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2, result.output
    collected.add("kitsync check (invalid settings)", result.output)

    # Valid settings holding every secret: every way of showing them.
    for name in bad:
        monkeypatch.delenv(name)
    good = load_settings(
        KITSU_URL="http://kitsu.example.com/api",
        KITSU_EMAIL=BOT_EMAIL,
        KITSU_PASSWORD=secrets.kitsu_password,
        KITSU_BOT_TOKEN=secrets.bot_token,
        AYON_URL="http://ayon.example.com",
        AYON_API_KEY=secrets.ayon_key,
        AYON_DB_DSN=secrets.dsn("postgresql://ayon@db:5432/ayon"),
        KITSYNC_REDIS_URL=secrets.redis_url(6379),
        KITSYNC_WEBHOOK_SECRET=secrets.webhook,
    )
    collected.add(
        "Settings",
        repr(good),
        str(good),
        good.model_dump_json(),
        repr(good.model_dump()),
        repr(Settings.model_validate(good.model_dump())),
    )
    collected.check(secrets)


def test_the_log_scrubber_knows_every_spelling_of_a_url_password() -> None:
    """Drivers may quote a URL's password as written or decoded, from the user info or from a
    ``password=`` query parameter: the scrubber built from the settings masks each."""
    secrets = Secrets()
    collected = Collected()
    db_query = f"postgresql://ayon@db:5432/ayon?password={quote(secrets.db_password, safe='')}"
    for dsn, redis_url in (
        (secrets.dsn("postgresql://ayon@db:5432/ayon"), secrets.redis_url(6379)),
        (db_query, f"redis://redis:6379/0?password={quote_plus(secrets.redis_password)}"),
    ):
        settings = load_settings(AYON_DB_DSN=dsn, KITSYNC_REDIS_URL=redis_url)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(SecretScrubber(secrets_of(settings)))
        logger = logging.getLogger(f"kitsync.test.scrub.{uuid.uuid4().hex}")
        logger.addHandler(handler)
        logger.propagate = False
        for password in (secrets.db_password, secrets.redis_password):
            for spelling in (password, quote(password, safe=""), quote_plus(password)):
                logger.error("driver said: auth failed for %s", spelling)
        for url in (dsn, redis_url):
            logger.warning("connecting to %s", url)
            collected.add("redact_url", redact_url(url))
        collected.add("scrubbed log", stream.getvalue())
        assert stream.getvalue().count("***") >= 8
    collected.check(secrets)


async def test_client_errors_and_debug_logs_show_no_secret(
    pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kitsu and AYON clients refused, failing, or behind a proxy that echoes credentials."""
    secrets = Secrets()
    collected = Collected()
    with kitsync_logging(caplog):
        await _clients_fail(pg_dsn, secrets, collected)
    collected.add("log records", *(record.getMessage() for record in caplog.records))
    collected.add("log exceptions", *(record.exc_text or "" for record in caplog.records))
    collected.check(secrets)


@contextmanager
def kitsync_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """kitsync's logging at DEBUG, as its commands set it up, with caplog seeing every record
    before any scrubbing (raw records must be clean already); undone afterwards."""
    root = logging.getLogger()
    libraries = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    saved = (root.handlers[:], root.level, [logger.level for logger in libraries])
    configure("DEBUG", "json", secrets=())
    root.addHandler(caplog.handler)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers[:], root.level = saved[0], saved[1]
        for logger, level in zip(libraries, saved[2], strict=True):
            logger.setLevel(level)


async def _clients_fail(pg_dsn: str, secrets: Secrets, collected: Collected) -> None:
    async with servers(pg_dsn, secrets) as (
        kitsu,
        kitsu_proxy,
        kitsu_url,
        ayon,
        ayon_proxy,
        ayon_url,
    ):
        # Kitsu: a wrong password, then the right one behind an echoing proxy.
        async with KitsuClient(
            kitsu_url, email=ADMIN_EMAIL, password=secrets.kitsu_password
        ) as client:
            collected.add("KitsuClient repr", repr(client))
            await expect_error(collected, "Kitsu wrong password", client.projects())
        kitsu_proxy.fail(400, method="POST", path="/auth/login", pad=Hostile.pad_for(KITSU_CUT))
        kitsu_proxy.fail(401, method="POST", path="/auth/login")
        async with KitsuClient(
            kitsu_url, email=BOT_EMAIL, password=secrets.kitsu_password
        ) as client:
            await expect_error(collected, "Kitsu login echoed (cut)", client.projects())
            await expect_error(collected, "Kitsu login echoed", client.projects())
            assert await client.projects()  # logged in now
            kitsu.revoke_tokens()  # a new login, transparently
            assert await client.projects()
            kitsu_proxy.fail(403, method="GET", pad=Hostile.pad_for(KITSU_CUT))
            await expect_error(collected, "Kitsu 403 echoed", client.projects())
            kitsu_proxy.fail(500, method="GET")
            await expect_error(collected, "Kitsu 500 echoed", client.projects())
            collected.add("KitsuClient repr (logged in)", repr(client))
        # A bot token Zou does not know, then one a proxy echoes.
        async with KitsuClient(kitsu_url, bot_token=secrets.bot_token) as client:
            await expect_error(collected, "Kitsu unknown bot token", client.projects())
            kitsu_proxy.fail(401, pad=Hostile.pad_for(KITSU_CUT))
            await expect_error(collected, "Kitsu bot token echoed (cut)", client.projects())
            kitsu_proxy.fail(401)
            await expect_error(collected, "Kitsu bot token echoed", client.projects())
        assert kitsu_proxy.echoed == 6

        # AYON: a key it does not know, injected failures, and an echoing proxy.
        async with AyonWriter(ayon_url, secrets.ayon_key[::-1]) as writer:
            await expect_error(collected, "AYON unknown key", writer.me())
        async with AyonWriter(ayon_url, secrets.ayon_key) as writer:
            collected.add("AyonWriter repr", repr(writer))
            assert (await writer.me()).name == SERVICE_USER
            for status in (401, 403, 500, 503):
                inject_failures(ayon, status=status)
                await expect_error(collected, f"AYON injected {status}", writer.me())
            clear_faults(ayon)
            for status in (401, 500):
                for pad in (0, Hostile.pad_for(AYON_CUT)):
                    ayon_proxy.fail(status, pad=pad)
                    await expect_error(collected, f"AYON {status} echoed pad {pad}", writer.me())
            ayon_proxy.fail(500, method="POST", path="/api/events", pad=Hostile.pad_for(AYON_CUT))
            await expect_error(
                collected,
                "AYON event refused",
                writer.emit_event("kitsync.test", project=None, hash=None, description="x"),
            )
        assert ayon_proxy.echoed == 5

    # AYON's database: a DSN with the password, to a database that does not exist / no server.
    for dsn in (
        secrets.dsn(PG_ADMIN_DSN, f"kitsync_missing_{uuid.uuid4().hex[:8]}"),
        secrets.dsn(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"),
    ):
        error = await expect_error(collected, "AYON database", connect(dsn, command_timeout=5))
        assert isinstance(error, AyonError | asyncpg.PostgresError), repr(error)


async def test_the_receiver_never_shows_its_secret(caplog: pytest.LogCaptureFixture) -> None:
    secrets = Secrets()
    collected = Collected()
    caplog.set_level(logging.DEBUG)

    class Sink:
        async def submit(self, events: Any, *, source: str) -> Any:
            raise AssertionError("nothing may be submitted")

        async def healthy(self) -> bool:
            return True

    app = create_app(Sink(), secret=secrets.webhook)
    body = json.dumps({"id": secrets.webhook, "name": "x", "created_at": "nope"}).encode()
    right = sign_body(secrets.webhook, body)
    headers_list: list[dict[str, str]] = [
        {},
        {SIGNATURE_HEADER: ""},
        {SIGNATURE_HEADER: sign_body(secrets.webhook[::-1], body)},
        {SIGNATURE_HEADER: right[:-1]},
        {SIGNATURE_HEADER: secrets.webhook},
        {SIGNATURE_HEADER: f"sha256={secrets.webhook}"},
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        for headers in headers_list:
            answer = await client.post("/kitsu/events", content=body, headers=headers)
            assert answer.status_code == 401
            collected.add("receiver 401", answer.text, repr(answer.headers))
            assert right.removeprefix("sha256=") not in answer.text
        # Signed but invalid: the 422 names the field, not the value (the secret is the id).
        answer = await client.post("/kitsu/events", content=body, headers={SIGNATURE_HEADER: right})
        assert answer.status_code == 422
        collected.add("receiver 422", answer.text)
        collected.add("openapi", (await client.get("/openapi.json")).text)
    collected.add("receiver logs", *(record.getMessage() for record in caplog.records))
    collected.check(secrets)


# ----------------------------------------------------------------------------- processes


async def test_kitsync_check_with_wrong_credentials(pg_dsn: str, tmp_path: Path) -> None:
    secrets = Secrets()
    collected = Collected()
    with private_redis(tmp_path / "redis-othr", password=_secret("othr")) as server:
        redis_port = server.port
        async with servers(pg_dsn, secrets) as (_, kitsu_proxy, kitsu_url, _, ayon_proxy, ayon_url):
            missing_db = f"kitsync_missing_{uuid.uuid4().hex[:8]}"
            wrong = {
                "KITSU_URL": kitsu_url,
                "KITSU_EMAIL": ADMIN_EMAIL,
                "KITSU_PASSWORD": secrets.kitsu_password,  # not the admin's
                "AYON_URL": ayon_url,
                "AYON_API_KEY": secrets.ayon_key[::-1],  # not a key AYON knows
                "AYON_DB_DSN": secrets.dsn(PG_ADMIN_DSN, missing_db),
                "KITSYNC_REDIS_URL": secrets.redis_url(redis_port),  # not its password
                "KITSYNC_WEBHOOK_SECRET": secrets.webhook,
            }
            first = run_cli(["check"], wrong, tmp_path)
            assert first.returncode == 1, first.stderr
            assert first.stdout.count("FAIL") == 4, first.stdout
            collected.add("check (wrong credentials) stdout", first.stdout)
            collected.add("check (wrong credentials) stderr", first.stderr)

            # Behind echoing proxies; passwords given as URL query parameters, which asyncpg
            # and redis-py both read.
            kitsu_proxy.fail(401, pad=Hostile.pad_for(KITSU_CUT))
            ayon_proxy.fail(500, pad=Hostile.pad_for(AYON_CUT))
            echoed = wrong | {
                "KITSU_EMAIL": "",
                "KITSU_PASSWORD": "",
                "KITSU_BOT_TOKEN": secrets.bot_token,
                "AYON_API_KEY": secrets.ayon_key,
                "AYON_DB_DSN": f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{missing_db}"
                f"?password={quote(secrets.db_password, safe='')}",
                "KITSYNC_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"
                f"?password={quote(secrets.redis_password, safe='')}",
            }
            second = run_cli(["check"], echoed, tmp_path)
            assert second.returncode == 1, second.stderr
            assert kitsu_proxy.echoed == 1 and ayon_proxy.echoed == 1
            collected.add("check (echoing proxies) stdout", second.stdout)
            collected.add("check (echoing proxies) stderr", second.stderr)
    collected.check(secrets)


async def test_a_failing_worker_leaks_nothing_anywhere(
    pg_dsn: str, tmp_path: Path, redis_prefix: str
) -> None:
    """A real ``kitsync worker`` (JSON logs, DEBUG) whose Kitsu and AYON refuse and fail."""
    secrets = Secrets()
    collected = Collected()
    project = f"kitsync_{uuid.uuid4().hex[:10]}"
    with private_redis(tmp_path / "redis", password=secrets.redis_password) as server:
        redis_port = server.port
        redis_url = secrets.redis_url(redis_port)
        async with servers(pg_dsn, secrets, project=project) as (
            kitsu,
            kitsu_proxy,
            kitsu_url,
            _,
            ayon_proxy,
            ayon_url,
        ):
            env = {
                "KITSU_URL": kitsu_url,
                "KITSU_EMAIL": BOT_EMAIL,
                "KITSU_PASSWORD": secrets.kitsu_password,
                "AYON_URL": ayon_url,
                "AYON_API_KEY": secrets.ayon_key,
                "AYON_DB_DSN": secrets.dsn(pg_dsn),
                "KITSYNC_REDIS_URL": redis_url,
                "KITSYNC_REDIS_PREFIX": redis_prefix,
                "KITSYNC_WEBHOOK_SECRET": secrets.webhook,
            }
            settings = load_settings(["kitsu", "ayon", "ayon_db", "redis"], **env)
            celery = create_celery(settings)
            queue = RedisKeyQueue(redis_url, prefix=RedisKeys(settings.redis_prefix).key_queue)
            shots = [
                event["data"]["shot_id"]
                for event in kitsu.events()
                if event["name"] == "shot:new" and event.get("project_id") == FILM
            ]

            async def reconcile(shot: str) -> str:
                key = f"{FILM}/shot/{shot}"
                await queue.add([key])
                celery.send_task("kitsync.reconcile", args=(key,))
                return key

            async def dead(count: int) -> bool:
                return len(await queue.dead_letters()) >= count

            async def idle() -> bool:
                stats = await queue.stats()
                return stats.queued == 0 and not stats.processing and stats.dirty == 0

            out, err = tmp_path / "worker.out", tmp_path / "worker.log"
            worker = start_worker(env, tmp_path, out, err)
            try:
                # 1. The login is refused, by a proxy that echoes the password: dead letter,
                #    recorded in AYON as a failed reconcile with its error.
                kitsu_proxy.fail(
                    400, method="POST", path="/auth/login", pad=Hostile.pad_for(KITSU_CUT)
                )
                await reconcile(shots[0])
                await until(lambda: dead(1), tmp_path, 60)
                # 2. Logged in; AYON refuses the write, echoing the key, and then the record.
                ayon_proxy.fail(401, path=f"/api/projects/{project}", pad=Hostile.pad_for(AYON_CUT))
                ayon_proxy.fail(
                    500, method="POST", path="/api/events", pad=Hostile.pad_for(AYON_CUT)
                )
                await reconcile(shots[1])
                await until(lambda: dead(2), tmp_path, 60)
                # 3. A transient AYON failure, echoed: retried, then done.
                ayon_proxy.fail(503, path=f"/api/projects/{project}")
                await reconcile(shots[2])
                # 4. Every token revoked: a new login with the password.
                kitsu.revoke_tokens()
                await reconcile(shots[3])
                await until(idle, tmp_path, 60)
                assert kitsu_proxy.echoed == 1 and ayon_proxy.echoed == 3
                dead_letters = await queue.dead_letters()
                assert len(dead_letters) == 2
                collected.add("dead letters", *(repr(letter) for letter in dead_letters))
                listed = run_cli(["dlq", "list"], env, tmp_path)
                assert listed.returncode == 0, listed.stderr
                collected.add("kitsync dlq list", listed.stdout, listed.stderr)
            finally:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(5)
                await queue.close()
            collected.add("Redis", *redis_dump(redis_url))
            conn = await asyncpg.connect(pg_dsn)
            try:
                rows = await conn.fetch(
                    "SELECT * FROM public.events WHERE project_name = $1", project
                )
            finally:
                await conn.close()
            assert any(row["status"] == "failed" for row in rows), rows
            collected.add("AYON events", *(repr(dict(row)) for row in rows))
            logs = err.read_text(errors="replace")
            collected.add("worker stderr", logs)
            collected.add("worker stdout", out.read_text(errors="replace"))
    collected.check(secrets)
    # --log-format json holds for every line the worker logs, Celery's included.
    lines = [line for line in logs.splitlines() if line.strip()]
    not_json = [line for line in lines if not _is_json_object(line)]
    assert not not_json, "\n".join(not_json[:10])
    assert any("dead-lettered" in json.loads(line)["message"] for line in lines)


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
