"""Every setting of kitsync, read from the environment or a ``.env`` file.

Nothing else in kitsync reads the environment. Secrets are ``SecretStr`` so they never show in a
repr, a log line or an error message; :func:`load_settings` reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kitsync.errors import ConfigError

Need = Literal["kitsu", "ayon", "ayon_db", "redis", "webhook"]
TwoWayField = Literal["status", "assignees"]
TWO_WAY_FIELDS: tuple[TwoWayField, ...] = ("status", "assignees")


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


def reveal(secret: SecretStr | None) -> str | None:
    """The plain value of an optional secret, for handing to a client (never to a log)."""
    return secret.get_secret_value() if secret is not None else None


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs): the one of its
    user info, and ``password=`` query parameters (asyncpg and redis-py read those too)."""
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
    if "password" in unquote_plus(query).lower():
        query = "&".join(_redact_parameter(parameter) for parameter in query.split("&"))
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _redact_parameter(parameter: str) -> str:
    name, equals, _ = parameter.partition("=")
    return f"{name}=***" if equals and "password" in unquote_plus(name).lower() else parameter


def url_passwords(url: str) -> list[str]:
    """The passwords ``url`` carries, as written and as decoded (a driver may show either)."""
    parts = urlsplit(url)
    found = [parts.password, unquote(parts.password)] if parts.password else []
    for parameter in parts.query.split("&"):
        name, equals, value = parameter.partition("=")
        if equals and value and "password" in unquote_plus(name).lower():
            found += [value, unquote_plus(value)]
    return list(dict.fromkeys(found))


class Settings(BaseSettings):
    """kitsync's settings; the environment variable of each field is its alias."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # "NAME=" in a .env means "not set", not "set to the empty string".
        env_ignore_empty=True,
    )

    kitsu_url: str | None = Field(None, alias="KITSU_URL")
    kitsu_bot_token: SecretStr | None = Field(None, alias="KITSU_BOT_TOKEN")
    kitsu_email: str | None = Field(None, alias="KITSU_EMAIL")
    kitsu_password: SecretStr | None = Field(None, alias="KITSU_PASSWORD")

    ayon_url: str | None = Field(None, alias="AYON_URL")
    ayon_api_key: SecretStr | None = Field(None, alias="AYON_API_KEY")
    ayon_db_dsn: SecretStr | None = Field(None, alias="AYON_DB_DSN")

    redis_url: SecretStr | None = Field(None, alias="KITSYNC_REDIS_URL")
    webhook_secret: SecretStr | None = Field(None, alias="KITSYNC_WEBHOOK_SECRET")

    deactivate_on_delete: bool = Field(False, alias="KITSYNC_DEACTIVATE_ON_DELETE")
    create_users: bool = Field(False, alias="KITSYNC_CREATE_USERS")
    # Task fields whose AYON changes are written back to Kitsu; off (empty) by default.
    ayon_to_kitsu: Annotated[frozenset[TwoWayField], NoDecode] = Field(
        frozenset(), alias="KITSYNC_AYON_TO_KITSU"
    )
    ayon_events_interval: float = Field(2.0, alias="KITSYNC_AYON_EVENTS_INTERVAL", ge=0.5, le=3600)
    redis_prefix: str = Field(
        "kitsync:", alias="KITSYNC_REDIS_PREFIX", min_length=1, pattern=r"^[A-Za-z0-9_.:{}-]+$"
    )
    state_dir: Path = Field(Path("kitsync-state"), alias="KITSYNC_STATE_DIR")
    full_sync_interval: float = Field(
        6 * 3600.0, alias="KITSYNC_FULL_SYNC_INTERVAL", ge=60, le=7 * 24 * 3600
    )
    poll_interval: float = Field(10.0, alias="KITSYNC_POLL_INTERVAL", ge=1, le=3600)
    # How far before its cursor the poller reads again: events committed late, Zou servers apart.
    poll_overlap: float = Field(120.0, alias="KITSYNC_POLL_OVERLAP", ge=1, le=24 * 3600)
    lease_seconds: float = Field(60.0, alias="KITSYNC_LEASE_SECONDS", ge=1, le=3600)
    recover_after: float = Field(600.0, alias="KITSYNC_RECOVER_AFTER", ge=1, le=24 * 3600)
    http_timeout: float = Field(10.0, alias="KITSYNC_HTTP_TIMEOUT", gt=0, le=600)
    db_timeout: float = Field(10.0, alias="KITSYNC_DB_TIMEOUT", gt=0, le=600)
    # What all kitsync processes together may ask of the servers (README: "Sizing the budgets").
    ayon_max_requests: int = Field(8, alias="KITSYNC_AYON_MAX_REQUESTS", ge=1, le=1000)
    kitsu_max_requests: int = Field(2, alias="KITSYNC_KITSU_MAX_REQUESTS", ge=1, le=1000)
    ayon_db_pool: int = Field(2, alias="KITSYNC_AYON_DB_POOL", ge=1, le=100)
    budget_lease_seconds: float = Field(30.0, alias="KITSYNC_BUDGET_LEASE_SECONDS", ge=1, le=3600)
    budget_wait_seconds: float = Field(60.0, alias="KITSYNC_BUDGET_WAIT_SECONDS", gt=0, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", alias="KITSYNC_LOG_LEVEL"
    )

    @field_validator("kitsu_url", "ayon_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("ayon_to_kitsu", mode="before")
    @classmethod
    def _split_fields(cls, value: object) -> object:
        # "status,assignees" in the environment; a list or set when given in code.
        if isinstance(value, str):
            fields = {part.strip().lower() for part in value.split(",") if part.strip()}
            unknown = sorted(fields - set(TWO_WAY_FIELDS))
            if unknown:
                raise ValueError(
                    f"unknown field(s) {', '.join(unknown)}: give any of "
                    f"{', '.join(TWO_WAY_FIELDS)}, comma-separated"
                )
            return frozenset(fields)
        return value

    @field_validator(
        "kitsu_bot_token",
        "kitsu_password",
        "ayon_api_key",
        "ayon_db_dsn",
        "redis_url",
        "webhook_secret",
    )
    @classmethod
    def _clean_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # A secret read from a file (a Kubernetes or docker secret) often ends in a newline:
        # sent as is, a header refuses it and the error message quotes the secret escaped,
        # where the log scrubber cannot see it.
        if value is None:
            return None
        text = value.get_secret_value().strip()
        if any(ord(char) < 32 or ord(char) == 127 for char in text):
            raise ValueError("holds a control character (a line break inside the value?)")
        return SecretStr(text)

    @field_validator("ayon_db_dsn")
    @classmethod
    def _check_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_url(value, ("postgres", "postgresql"), "must be a postgresql:// DSN")

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_url(
            value, ("redis", "rediss", "unix"), "must be a redis:// or rediss:// URL"
        )

    def problems(self, need: Iterable[Need]) -> list[str]:
        """What is missing for the given parts of kitsync, one line each."""
        missing: list[str] = []
        needs = set(need)
        if (self.kitsu_email is None) != (self.kitsu_password is None):
            missing.append("KITSU_EMAIL and KITSU_PASSWORD go together: set both or neither")
        if "kitsu" in needs:
            if self.kitsu_url is None:
                missing.append(
                    "KITSU_URL: missing (Kitsu's API root, e.g. https://kitsu.example.com/api)"
                )
            if self.kitsu_bot_token is None and self.kitsu_email is None:
                missing.append("KITSU_BOT_TOKEN or KITSU_EMAIL + KITSU_PASSWORD: missing")
            if self.kitsu_bot_token is not None and self.kitsu_email is not None:
                missing.append("KITSU_BOT_TOKEN or KITSU_EMAIL + KITSU_PASSWORD: set one, not both")
        if "ayon" in needs:
            if self.ayon_url is None:
                missing.append("AYON_URL: missing (AYON server URL, e.g. https://ayon.example.com)")
            if self.ayon_api_key is None:
                missing.append("AYON_API_KEY: missing (the API key of an AYON service user)")
        if "ayon_db" in needs and self.ayon_db_dsn is None:
            missing.append("AYON_DB_DSN: missing (postgresql:// DSN of AYON's database)")
        if "redis" in needs and self.redis_url is None:
            missing.append("KITSYNC_REDIS_URL: missing (redis://host:6379/0)")
        if "webhook" in needs and self.webhook_secret is None:
            missing.append("KITSYNC_WEBHOOK_SECRET: missing (shared secret of the Zou plugin)")
        return missing


def _secret_url(value: SecretStr | None, schemes: tuple[str, ...], wrong: str) -> SecretStr | None:
    if value is None:
        return None
    url = value.get_secret_value()
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ValueError(wrong)
    # A "/", "#" or "?" in the password ends the host part early: the rest of the password
    # would be read as a port, a path or a query, and shown as such.
    broken = "@" in url and "@" not in parts.netloc
    try:
        parts.port  # noqa: B018  raises on a port that is not a number
    except ValueError:
        broken = True
    if broken:
        raise ValueError(
            "its host and port do not parse: percent-encode the password's special characters "
            "(/ # ? @ : as %2F %23 %3F %40 %3A)"
        )
    return value


def load_settings(need: Iterable[Need] = (), **overrides: object) -> Settings:
    """Read the settings; raise :class:`ConfigError` naming every problem (never a value)."""
    invalid: dict[str, str] = {}
    values = dict(overrides)
    while True:
        try:
            settings = Settings(**values)  # type: ignore[arg-type]
            break
        except ValidationError as error:
            for item in error.errors(include_url=False, include_input=False):
                field = str(item["loc"][0]) if item["loc"] else "settings"
                invalid[field] = str(item["msg"]).removeprefix("Value error, ")
                # Blank the bad field and go on, so one run reports every problem, not the first.
                name = _field_name(field)
                values.pop(field, None)  # given under its alias: that key would fail again
                values[name] = Settings.model_fields[name].default
    problems = [f"{field}: {message}" for field, message in invalid.items()]
    blanked = {field.split(":")[0] for field in invalid}
    problems += [p for p in settings.problems(need) if p.split(":")[0] not in blanked]
    if problems:
        raise ConfigError(_format(problems))
    return settings


def _field_name(alias: str) -> str:
    for name, info in Settings.model_fields.items():
        if alias in (name, info.alias):
            return name
    raise KeyError(alias)


def _format(problems: list[str]) -> str:
    return "kitsync configuration is invalid:\n" + "\n".join(f"  - {line}" for line in problems)
