"""Settings: every problem named at once, secrets never echoed."""

from __future__ import annotations

import pytest

from kitsync.config import Settings, load_settings, redact_url
from kitsync.errors import ConfigError

ALL_VARS = [
    "KITSU_URL", "KITSU_BOT_TOKEN", "KITSU_EMAIL", "KITSU_PASSWORD", "AYON_URL", "AYON_API_KEY",
    "AYON_DB_DSN", "KITSYNC_REDIS_URL", "KITSYNC_WEBHOOK_SECRET", "KITSYNC_HTTP_TIMEOUT",
    "KITSYNC_DB_TIMEOUT", "KITSYNC_LOG_LEVEL", "KITSYNC_DEACTIVATE_ON_DELETE",
    "KITSYNC_POLL_INTERVAL", "KITSYNC_POLL_OVERLAP", "KITSYNC_REDIS_PREFIX",
    "KITSYNC_STATE_DIR", "KITSYNC_CREATE_USERS",
    "KITSYNC_FULL_SYNC_INTERVAL", "KITSYNC_LEASE_SECONDS", "KITSYNC_RECOVER_AFTER",
    "KITSYNC_AYON_MAX_REQUESTS", "KITSYNC_KITSU_MAX_REQUESTS", "KITSYNC_AYON_DB_POOL",
    "KITSYNC_BUDGET_LEASE_SECONDS", "KITSYNC_BUDGET_WAIT_SECONDS",
    "KITSYNC_AYON_TO_KITSU", "KITSYNC_AYON_EVENTS_INTERVAL",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for var in ALL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # no stray .env


def test_complete_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITSU_URL", "https://kitsu.example.com/api/")
    monkeypatch.setenv("KITSU_BOT_TOKEN", "tok-123")
    monkeypatch.setenv("AYON_URL", "https://ayon.example.com")
    monkeypatch.setenv("AYON_API_KEY", "key-456")
    monkeypatch.setenv("AYON_DB_DSN", "postgresql://ayon:pw@db/ayon")
    settings = load_settings(["kitsu", "ayon", "ayon_db"])
    assert settings.kitsu_url == "https://kitsu.example.com/api"
    assert settings.redis_url is None  # single-process mode
    assert "tok-123" not in repr(settings) and "key-456" not in repr(settings)
    assert "pw" not in repr(settings)


def test_every_problem_is_named_and_no_secret_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITSU_URL", "ftp://kitsu")
    monkeypatch.setenv("KITSU_EMAIL", "bot@example.com")
    monkeypatch.setenv("KITSYNC_REDIS_URL", "http://user:hunter2@redis")
    monkeypatch.setenv("KITSYNC_HTTP_TIMEOUT", "-3")
    monkeypatch.setenv("AYON_API_KEY", "very-secret-key")
    with pytest.raises(ConfigError) as caught:
        load_settings(["kitsu", "ayon", "webhook"])
    message = str(caught.value)
    for expected in [
        "KITSU_URL: must be an http",
        "KITSYNC_REDIS_URL: must be a redis",
        "KITSYNC_HTTP_TIMEOUT",
        "KITSU_EMAIL and KITSU_PASSWORD go together",
        "AYON_URL: missing",
        "KITSYNC_WEBHOOK_SECRET: missing",
    ]:
        assert expected in message
    assert "AYON_API_KEY" not in message  # it is set and valid
    for secret in ("hunter2", "very-secret-key", "ftp://kitsu"):
        assert secret not in message


def test_only_needed_parts_are_required() -> None:
    assert load_settings([]).kitsu_url is None
    with pytest.raises(ConfigError, match="KITSYNC_REDIS_URL: missing"):
        load_settings(["redis"])


def test_dotenv_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    Path(".env").write_text("KITSU_URL=http://kitsu.local/api\nKITSU_BOT_TOKEN=abc\n")
    assert load_settings(["kitsu"]).kitsu_url == "http://kitsu.local/api"


def test_redact_url() -> None:
    assert (
        redact_url("postgresql://ayon:secret@db:5432/ayon") == "postgresql://ayon:***@db:5432/ayon"
    )
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_settings_fields_all_have_env_aliases() -> None:
    aliases = {info.alias for info in Settings.model_fields.values()}
    assert aliases == set(ALL_VARS)


def test_bad_override_under_its_alias_is_reported_not_looped() -> None:
    with pytest.raises(ConfigError, match="AYON_URL: must be an http"):
        load_settings(AYON_URL="bad")


def test_empty_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITSU_URL", "")
    monkeypatch.setenv("KITSU_EMAIL", "")
    assert load_settings().kitsu_url is None
    assert load_settings().kitsu_email is None


def test_ayon_to_kitsu_is_off_by_default_and_named_per_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().ayon_to_kitsu == frozenset()
    monkeypatch.setenv("KITSYNC_AYON_TO_KITSU", " Status ,assignees")
    assert load_settings().ayon_to_kitsu == {"status", "assignees"}
    monkeypatch.setenv("KITSYNC_AYON_TO_KITSU", "status,priority")
    with pytest.raises(ConfigError, match=r"KITSYNC_AYON_TO_KITSU: unknown field\(s\) priority"):
        load_settings()


def test_a_secret_read_from_a_file_loses_its_line_break() -> None:
    settings = load_settings(AYON_API_KEY="key-from-a-secret-file\n", KITSU_BOT_TOKEN=" token ")
    assert settings.ayon_api_key is not None and settings.kitsu_bot_token is not None
    assert settings.ayon_api_key.get_secret_value() == "key-from-a-secret-file"
    assert settings.kitsu_bot_token.get_secret_value() == "token"


def test_a_control_character_inside_a_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="AYON_API_KEY: holds a control character") as caught:
        load_settings(AYON_API_KEY="first-half\nsecond-half")
    assert "half" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("AYON_DB_DSN", "postgresql://ayon:Xq9/Zk+Lm2@db:5432/ayon"),
        ("AYON_DB_DSN", "postgresql://ayon:12/Zk@db/ayon"),  # the password's head looks a port
        ("KITSYNC_REDIS_URL", "redis://:pa#ss@redis:6379/0"),
        ("KITSYNC_REDIS_URL", "redis://:pa?ss@redis:6379/0"),
    ],
)
def test_a_url_password_that_is_not_percent_encoded_is_refused_without_echoing_it(
    name: str, url: str
) -> None:
    """Left as is, the password would be read as the host, port or path, shown as such and
    missed by the log scrubber."""
    with pytest.raises(ConfigError, match=f"{name}: .*percent-encode") as caught:
        load_settings(**{name: url})
    assert "Zk" not in str(caught.value) and "ss@" not in str(caught.value)
    encoded = url.replace("/Zk", "%2FZk").replace("#", "%23").replace("?", "%3F")
    load_settings(**{name: encoded})


def test_a_bot_token_and_an_account_together_are_refused_at_start() -> None:
    """The Kitsu client refuses both; said with the other problems, not when it is built."""
    with pytest.raises(ConfigError, match=r"KITSU_EMAIL \+ KITSU_PASSWORD: set one, not both"):
        load_settings(
            ["kitsu"],
            KITSU_URL="https://kitsu.example.com/api",
            KITSU_BOT_TOKEN="token",
            KITSU_EMAIL="bot@example.com",
            KITSU_PASSWORD="pw",
        )
