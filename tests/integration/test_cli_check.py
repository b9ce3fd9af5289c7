"""`kitsync check` against the fakes, the real Postgres and the real Redis: each failure named."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from click.testing import CliRunner

from kitsync.cli import main
from tests.conftest import PG_ADMIN_DSN
from tests.fakes.ayon import HUMAN_KEY, SERVICE_KEY, create_app
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import free_port, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(pg_dsn: str) -> Iterator[tuple[str, str]]:
    with (
        serve(FakeKitsu.from_fixtures("film", "after_build").app) as kitsu,
        serve(create_app(pg_dsn)) as ayon,
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
    assert lines["AYON database"].startswith("ok")
    assert lines["Redis"].startswith("ok")


def test_redis_absent_is_single_process_mode(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _check(monkeypatch, KITSYNC_REDIS_URL=None)
    assert code == 0 and "single-process" in lines["Redis"]


@pytest.mark.parametrize(
    ("change", "name", "words"),
    [
        ({"KITSU_BOT_TOKEN": "not-a-valid-token"}, "Kitsu", "bad credentials"),
        ({"KITSU_URL": "{kitsu}/nope"}, "Kitsu", "no Kitsu API there"),
        ({"KITSU_URL": "http://127.0.0.1:{port}"}, "Kitsu", "unreachable"),
        ({"AYON_API_KEY": "wrong-key-123"}, "AYON", "API key was refused"),
        ({"AYON_API_KEY": HUMAN_KEY}, "AYON", "not a service user"),
        ({"AYON_URL": "http://127.0.0.1:{port}"}, "AYON", "unreachable"),
        ({"AYON_DB_DSN": "{admin}"}, "AYON database", "no AYON tables there"),
        (
            {"AYON_DB_DSN": "postgresql://postgres@127.0.0.1:{port}/x"},
            "AYON database",
            "cannot connect",
        ),
        ({"KITSYNC_REDIS_URL": "redis://127.0.0.1:{port}/0"}, "Redis", "unreachable"),
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
        key: value.format(kitsu=env["KITSU_URL"], port=free_port(), admin=PG_ADMIN_DSN)
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

    async def sql(query: str, *args: str) -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(query, *args)
        finally:
            await conn.close()

    pairing = f'{{"kitsuProjectId": "{uuid.uuid4()}"}}'
    insert = "INSERT INTO public.projects (name, code, data) VALUES ($1, $1, $2::jsonb)"
    asyncio.run(sql(insert, name, pairing))
    try:
        code, lines = _check(monkeypatch)
    finally:
        asyncio.run(sql("DELETE FROM public.projects WHERE name = $1", name))
    assert code == 1 and f"project schema missing for {name}" in lines["AYON database"]


def test_invalid_settings_exit_2_naming_each(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITSU_URL", "ftp://x")
    monkeypatch.setenv("KITSYNC_HTTP_TIMEOUT", "zero")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert "KITSU_URL" in result.output and "KITSYNC_HTTP_TIMEOUT" in result.output
    assert "Traceback" not in result.output
