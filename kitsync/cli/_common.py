"""What every kitsync command shares: settings loading, logging, exit codes."""

from __future__ import annotations

from collections.abc import Iterable

import click

from kitsync.config import Need, Settings, load_settings, reveal, url_passwords
from kitsync.errors import ConfigError
from kitsync.logs import configure

EXIT_FAILED = 1
EXIT_CONFIG = 2


def secrets_of(settings: Settings) -> list[str]:
    values = (
        settings.kitsu_password,
        settings.kitsu_bot_token,
        settings.ayon_api_key,
        settings.ayon_db_dsn,
        settings.redis_url,
        settings.webhook_secret,
    )
    secrets = [secret for value in values if (secret := reveal(value))]
    # A URL's password can surface on its own (written or decoded), e.g. in a driver's error.
    for url in (reveal(settings.ayon_db_dsn), reveal(settings.redis_url)):
        secrets += url_passwords(url) if url else []
    return secrets


def settings_or_exit(ctx: click.Context, need: Iterable[Need] = ()) -> Settings:
    """Load the settings once per run, or end with the list of problems (exit 2)."""
    try:
        settings = load_settings(need)
    except ConfigError as error:
        click.echo(str(error), err=True)
        ctx.exit(EXIT_CONFIG)
    level = ctx.obj["log_level"] or settings.log_level
    configure(level, ctx.obj["log_format"], secrets=secrets_of(settings))
    return settings
