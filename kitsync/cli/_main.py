"""The ``kitsync`` command group; the commands live in the modules beside it."""

from __future__ import annotations

import click

from kitsync import __version__
from kitsync.logs import LogFormat


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kitsync")
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log lines as plain text or one JSON object per line.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Overrides KITSYNC_LOG_LEVEL.",
)
@click.pass_context
def main(ctx: click.Context, log_format: LogFormat, log_level: str | None) -> None:
    """kitsync keeps AYON in step with Kitsu.

    Settings come from the environment or a .env file in the current folder
    (see .env.example and the README's configuration table).
    """
    ctx.ensure_object(dict)
    ctx.obj["log_format"] = log_format
    ctx.obj["log_level"] = log_level.upper() if log_level else None
