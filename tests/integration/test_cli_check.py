"""`kitsync check` against the fakes, the real Postgres and the real Redis: each failure named."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from click.testing import CliRunner

from kitsync.ayon_to_kitsu import RedisSyncState
from kitsync.ayon_to_kitsu.state import DrainRecord
from kitsync.cli import main
from tests.conftest import PG_ADMIN_DSN
from tests.fakes.ayon import (
    HUMAN_KEY,
    SERVICE_KEY,
    clear_faults,
    create_app,
    create_project,
    inject_rejection,
)
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import free_port, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ayon_app(pg_dsn: str) -> Any:
    return create_app(pg_dsn)


@pytest.fixture(scope="module")
def servers(pg_dsn: str, ayon_app: Any) -> Iterator[tuple[str, str]]:
    with (
        serve(FakeKitsu.from_fixtures("film", "after_build").app) as kitsu,
        serve(ayon_app) as ayon,
    ):
        yield kitsu, ayon


@pytest.fixture
def env(
    servers: tuple[str, str],
    pg_dsn: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    kitsu, ayon = servers
    values = {
        "KITSU_URL": kitsu,
        "KITSU_BOT_TOKEN": BOT_TOKEN,
        "AYON_URL": ayon,
        "AYON_API_KEY": SERVICE_KEY,
        "AYON_DB_DSN": pg_dsn,
        "KITSYNC_REDIS_URL": redis_url,
    }
    for var in ("KITSU_EMAIL", "KITSU_PASSWORD", "KITSYNC_WEBHOOK_SECRET"):
        monkeypatch.delenv(var, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _check(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> tuple[int, dict[str, str]]:
    for key, value in changes.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["check"])
    lines = {}
    for line in result.output.splitlines():
        verdict, _, rest = line.partition("  ")
        name, _, detail = rest.strip().partition("  ")
        lines[name.strip()] = f"{verdict.strip()} {detail.strip()}"
    return result.exit_code, lines


def test_all_ok(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = _check(monkeypatch)
    assert code == 0, lines
    assert lines["Kitsu"].startswith("ok") and "projects visible" in lines["Kitsu"]
    assert lines["AYON"].startswith("ok") and "kitsync_service" in lines["AYON"]
    assert lines["AYON reads"].startswith("ok database")
    assert lines["Redis"].startswith("ok")


def test_without_the_database_ayon_is_read_through_its_api(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _check(monkeypatch, AYON_DB_DSN=None)
    assert code == 0, lines
    assert lines["AYON reads"].startswith("ok API of ") and "paired projects" in lines["AYON reads"]

    code, lines = _check(monkeypatch, AYON_DB_DSN=None, AYON_API_KEY="wrong-key-123")
    assert code == 1
    assert lines["AYON reads"].startswith("FAIL") and "may not read" in lines["AYON reads"]
    assert "wrong-key-123" not in "\n".join(lines.values())


def test_without_the_database_a_paired_project_the_service_user_cannot_read(
    env: dict[str, str], ayon_app: Any, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"hidden_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_project(pg_dsn, name, data={"kitsuProjectId": str(uuid.uuid4())}))
    app = ayon_app
    # AYON refuses a project the service user has no access group on (403).
    inject_rejection(
        app, lambda _m, path, _b: path == f"/api/projects/{name}", status=403, detail="No access"
    )
    try:
        code, lines = _check(monkeypatch, AYON_DB_DSN=None)
    finally:
        clear_faults(app)
        asyncio.run(_sql(pg_dsn, "DELETE FROM public.projects WHERE name = $1", name))
    assert code == 1 and f"cannot read {name}" in lines["AYON reads"], lines


def test_ayon_to_kitsu_says_off_or_on_and_how_far_behind(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_prefix: str
) -> None:
    code, lines = _check(monkeypatch)
    assert code == 0 and lines["AYON -> Kitsu"] == "ok off (KITSYNC_AYON_TO_KITSU is empty)"
    monkeypatch.setenv("KITSYNC_REDIS_PREFIX", redis_prefix)
    code, lines = _check(monkeypatch, KITSYNC_AYON_TO_KITSU="status,assignees")
    assert "on for assignees, status; no drain" in lines["AYON -> Kitsu"]

    async def drained() -> None:
        client = aioredis.Redis.from_url(env["KITSYNC_REDIS_URL"])
        record = DrainRecord(datetime.now(UTC) - timedelta(seconds=5), 120, 42.0)
        await RedisSyncState(client, redis_prefix).drained(record)
        await client.aclose()

    asyncio.run(drained())
    code, lines = _check(monkeypatch)
    assert code == 0
    assert re.fullmatch(
        r"ok on for assignees, status; last drain \d+ s ago took 120 events, 42 s behind",
        lines["AYON -> Kitsu"],
    )


def test_redis_absent_is_single_process_mode(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _check(monkeypatch, KITSYNC_REDIS_URL=None)
    assert code == 0 and "single-process" in lines["Redis"]


def _stranger() -> str:
    """The tests' database server, as a role it does not know."""
    parts = urlsplit(PG_ADMIN_DSN)
    return parts._replace(
        netloc=f"no_such_role_kitsync@{parts.hostname}:{parts.port or 5432}"
    ).geturl()


@pytest.mark.parametrize(
    ("change", "name", "words"),
    [
        ({"KITSU_BOT_TOKEN": "not-a-valid-token"}, "Kitsu", "bad credentials"),
        ({"KITSU_URL": "{kitsu}/nope"}, "Kitsu", "no Kitsu API there"),
        ({"KITSU_URL": "http://127.0.0.1:{port}"}, "Kitsu", "unreachable"),
        ({"AYON_API_KEY": "wrong-key-123"}, "AYON", "API key was refused"),
        ({"AYON_API_KEY": HUMAN_KEY}, "AYON", "not a service user"),
        ({"AYON_URL": "http://127.0.0.1:{port}"}, "AYON", "unreachable"),
        ({"AYON_DB_DSN": "{admin}"}, "AYON reads", "no AYON tables there"),
        (
            {"AYON_DB_DSN": "postgresql://postgres@127.0.0.1:{port}/x"},
            "AYON reads",
            "cannot connect",
        ),
        ({"KITSYNC_REDIS_URL": "redis://127.0.0.1:{port}/0"}, "Redis", "unreachable"),
        # An account uncommented under the example's bot token: a line, not a traceback.
        ({"KITSU_EMAIL": "bot@example.com", "KITSU_PASSWORD": "pw"}, "Kitsu", "not both"),
        (
            {"AYON_DB_DSN": "{stranger}"},  # a role the database does not know
            "AYON reads",
            "check AYON_DB_DSN's user, password and database name",
        ),
    ],
)
def test_each_failure_is_named(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, str],
    name: str,
    words: str,
) -> None:
    values = {
        key: value.format(
            kitsu=env["KITSU_URL"], port=free_port(), admin=PG_ADMIN_DSN, stranger=_stranger()
        )
        for key, value in change.items()
    }
    code, lines = _check(monkeypatch, **values)
    assert code == 1
    assert lines[name].startswith("FAIL") and words in lines[name], lines
    for other, line in lines.items():
        if other != name:
            assert line.startswith("ok"), lines
    output = "\n".join(lines.values())
    for secret in ("not-a-valid-token", "wrong-key-123", BOT_TOKEN, SERVICE_KEY):
        assert secret not in output


def test_paired_project_without_schema(
    env: dict[str, str], pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"ghost_{uuid.uuid4().hex[:8]}"
    pairing = f'{{"kitsuProjectId": "{uuid.uuid4()}"}}'
    insert = "INSERT INTO public.projects (name, code, data) VALUES ($1, $1, $2::jsonb)"
    asyncio.run(_sql(pg_dsn, insert, name, pairing))
    try:
        code, lines = _check(monkeypatch)
    finally:
        asyncio.run(_sql(pg_dsn, "DELETE FROM public.projects WHERE name = $1", name))
    assert code == 1 and f"project schema missing for {name}" in lines["AYON reads"]


async def _sql(dsn: str, query: str, *args: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(query, *args)
    finally:
        await conn.close()


def test_invalid_settings_exit_2_naming_each(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITSU_URL", "ftp://x")
    monkeypatch.setenv("KITSYNC_HTTP_TIMEOUT", "zero")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert "KITSU_URL" in result.output and "KITSYNC_HTTP_TIMEOUT" in result.output
    assert "Traceback" not in result.output
